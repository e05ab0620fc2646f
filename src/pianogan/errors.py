"""The one exception type the command line turns into a one-line message."""


class PianoganError(Exception):
    """A problem with the user's input (a file, an option, a model), not a bug.

    The message must stand alone on one line and name the file or option at fault,
    because the command line prints it as-is instead of a traceback.
    """
