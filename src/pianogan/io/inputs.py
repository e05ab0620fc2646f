"""Input files of batch commands, and output names that never overwrite each other.

Batch commands take files and folders; a folder stands for every file below it with one
of the command's extensions. Outputs are named after the input's stem, so two inputs with
the same stem (``bach/prelude.mid`` and ``chopin/prelude.mid``) would write the same
outputs: those are named after their path below their common folder instead
(``bach-prelude``, ``chopin-prelude``).
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from pathlib import Path, PurePosixPath

from pianogan.errors import OutputError, PianoganError
from pianogan.io.atomic import check_folder

MIDI_SUFFIXES = (".mid", ".midi")
PNG_SUFFIXES = (".png",)

CLASH_RULE = (
    "inputs sharing a stem are named after their path below their common folder "
    "(bach/prelude.mid -> bach-prelude); inputs that still clash (song.mid and song.midi) are an error"
)


def find_inputs(inputs: list[str | os.PathLike], suffixes: tuple[str, ...]) -> tuple[list[Path], list[str]]:
    """The files that ``inputs`` name, in order, each once, and the inputs that do not exist.

    A file is taken as given, whatever its extension (the user named it). A folder is
    searched recursively for files whose extension is one of ``suffixes`` (lower case;
    matched in any case), in sorted order, skipping hidden files and folders (names
    starting with '.', such as macOS '._song.mid' resource forks). Returns ``(files,
    problems)``, a problem being one line naming a missing input.
    """
    files: list[Path] = []
    seen: set[Path] = set()
    problems: list[str] = []
    for given in map(Path, inputs):
        if given.is_dir():
            found = sorted(
                path
                for path in given.rglob("*")
                if path.suffix.lower() in suffixes and not any(part.startswith(".") for part in path.relative_to(given).parts) and path.is_file()
            )
        elif given.is_file():
            found = [given]
        else:
            problems.append(f"{given}: no such file or folder")
            continue
        for path in found:
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files, problems


def stays_inside(name: str) -> bool:
    """Whether a relative POSIX name read from data (metadata, a CSV, a list of files) stays
    inside its folder: not empty, not absolute and without '..'.

    Checked on the name itself, so a folder's own symbolic links keep working; what the
    data may not do is point outside the folder it describes.
    """
    path = PurePosixPath(name)
    return bool(path.parts) and not path.is_absolute() and ".." not in path.parts


def output_stems(files: list[Path]) -> dict[Path, str]:
    """A distinct output stem per file (see the module docstring for the rule).

    Stems are compared ignoring case, because such names clash on the case-insensitive
    file systems of macOS and Windows. Raises ``OutputError`` naming two inputs whose
    outputs would still be the same.
    """
    by_stem: dict[str, list[Path]] = defaultdict(list)
    for path in files:
        by_stem[path.stem.casefold()].append(path)
    stems: dict[Path, str] = {}
    for group in by_stem.values():
        if len(group) == 1:
            stems[group[0]] = group[0].stem
            continue
        resolved = [path.resolve() for path in group]
        common = Path(os.path.commonpath([path.parent for path in resolved]))
        for path, full in zip(group, resolved):
            stems[path] = "-".join(full.relative_to(common).with_suffix("").parts)
    owner: dict[str, Path] = {}
    for path, stem in stems.items():
        other = owner.setdefault(stem.casefold(), path)
        if other is not path:
            raise OutputError(f"{other} and {path} would write outputs with the same name ({stem!r}); rename one of them")
    return stems


def batch_inputs(
    inputs: list[str | os.PathLike], suffixes: tuple[str, ...], output: str | os.PathLike, kind: str
) -> tuple[Path, list[Path], dict[Path, str], list[str]]:
    """The output folder, input files, their output stems and the missing inputs of a batch.

    Missing inputs are named on stderr and skipped, so the others still convert. An
    output path that is a file (or lies below one), no input file at all (``kind`` names what was looked for,
    e.g. ".png"), or two inputs whose outputs would clash are one-line errors.
    """
    out_dir = check_folder(output)
    files, missing = find_inputs(inputs, suffixes)
    for problem in missing:
        print(f"skipped {problem}", file=sys.stderr)
    if not files:
        raise PianoganError(f"no {kind} files found in {', '.join(map(str, inputs))}")
    return out_dir, files, output_stems(files), missing
