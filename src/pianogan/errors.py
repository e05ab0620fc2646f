"""The errors pianogan raises for problems with the caller's input, by area.

Every one is a ``PianoganError``, whose message stands alone on one line and names the
file or parameter at fault: the command line prints it instead of a traceback, and the
web app sends it back as the answer's text. The subclasses say which area refused:

- ``OptionError``: a parameter's value (``n must be at least 1, got 0``);
- ``ShapeError``: an array that is not a roll, or not of the shape asked for (also a
  ``ValueError``, as NumPy users expect);
- ``MidiError``, ``ImageError``, ``AudioError``: a MIDI file, a PNG image, a SoundFont,
  a renderer or a WAV file;
- ``DatasetError``: a source folder to prepare, MAESTRO's metadata, a prepared dataset, a
  folder of rolls to evaluate;
- ``ModelError``: a model file or its NumPy export;
- ``OutputError``: where results go (a folder that is a file, a write that fails, two
  inputs that would write the same name).

The library speaks of parameters by their Python names. A message that names one writes
it as ``{name}`` in its template and lists it in ``mentions``; ``str(error)`` shows the
name as-is, and ``worded`` lets a caller show it its own way: the command line as a flag
(``--n``), for instance.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable


class PianoganError(Exception):
    """A problem with the user's input (a file, an option, a model), not a bug.

    The message must stand alone on one line and name the file or parameter at fault,
    because the command line prints it as-is instead of a traceback.
    """

    def __init__(self, message: str = "", *, mentions: Iterable[str] = ()):
        self.template = message
        self.mentions = tuple(mentions)
        super().__init__(self.worded())

    def worded(self, name: Callable[[str], str] = str) -> str:
        """The message with each mentioned parameter shown as ``name(parameter)``."""
        text = self.template
        for parameter in self.mentions:
            text = text.replace("{" + parameter + "}", name(parameter))
        return text

    def renamed(self, old: str, new: str) -> PianoganError:
        """The same error, of the same class, naming ``new`` where it named ``old``."""
        error = copy.copy(self)
        error.template = self.template.replace(old, new)
        error.args = (error.worded(),)
        return error

    def __reduce__(self):  # survives a trip through a worker process's pickle
        return _restore, (type(self), self.args, self.__dict__)


def _restore(cls: type[PianoganError], args: tuple, state: dict) -> PianoganError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class OptionError(PianoganError):
    """A parameter's value that no call could satisfy.

    ``OptionError("n", f"must be at least 1, got {n}")`` reads "n must be at least 1, got
    0"; a problem that begins with a colon follows the name directly ("splits: x.csv: no
    such file"). Other parameters the problem names are written ``{name}`` and listed in
    ``mentions``.
    """

    def __init__(self, parameter: str, problem: str, *, mentions: Iterable[str] = ()):
        self.parameter = parameter
        self.problem = problem
        joiner = "" if problem.startswith(":") else " "
        super().__init__(f"{{{parameter}}}{joiner}{problem}", mentions=(parameter, *mentions))


class ShapeError(PianoganError, ValueError):
    """An array that is not a roll (106 pitch rows), or not of the shape asked for."""


class MidiError(PianoganError):
    """A MIDI file that cannot be read, or a roll that cannot be written as one."""


class ImageError(PianoganError):
    """A PNG image that is not a readable roll picture."""


class AudioError(PianoganError):
    """No renderer or SoundFont, a SoundFont that does not load, a piece or WAV file that cannot be played."""


class DatasetError(PianoganError):
    """A folder to prepare, MAESTRO's metadata, a prepared dataset or a folder of rolls that cannot be used."""


class ModelError(PianoganError):
    """A model file (or its NumPy export) that is missing, unloadable, or not a generator."""


class OutputError(PianoganError):
    """An output that cannot be written where it was asked for."""
