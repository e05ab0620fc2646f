"""Output folders: the files pianogan wrote there, so that it never overwrites or deletes others.

Every command that writes into a folder lists what it wrote in ``FOLDER/.pianogan-outputs.json``
(name -> group). A file may be written when it does not exist or when that list names it;
any other file of the same name is the user's, and the command refuses to touch it. A
group is what a file belongs to (``midi2img:song`` for the windows of one input), so a
re-run can remove the files of its groups that it did not write again: windows of an
earlier, wider cut are not left mixed with the new ones. Files never listed are never
deleted, so a folder holding others' files is never cleared.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pianogan.errors import OutputError
from pianogan.io import atomic
from pianogan.io.inputs import stays_inside

OWNED = ".pianogan-outputs.json"
FORMAT = 1


@dataclass
class Outputs:
    """An output folder, the files pianogan wrote in it, and what this run wrote."""

    folder: Path
    owned: dict[str, str]  # POSIX name relative to the folder -> group
    inputs: frozenset[Path] = frozenset()  # resolved input files that lie in the folder
    written: set[str] = field(default_factory=set)  # names this run claimed (see ``claim``)
    earlier: frozenset[str] = frozenset()  # names listed before this run
    listed: bool = True  # whether the folder had a list (False: new, or older than lists)
    subfolders: tuple[str, ...] = ()  # where this run writes besides the folder itself (see ``create``)
    present: frozenset[str] = frozenset()  # the files there when this run began

    @classmethod
    def at(cls, folder: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> Outputs:
        """The output folder ``folder`` as it stands; nothing is created yet.

        ``inputs`` are the command's input files: none of them may be written over.
        Raises a one-line OutputError when the folder (or a folder above it) is a file
        or its list is damaged.
        """
        folder = atomic.check_folder(folder)
        owned = _read_owned(folder / OWNED)
        here = folder.resolve()
        own_inputs = frozenset(p for p in (Path(i).resolve() for i in inputs) if p.is_relative_to(here))
        return cls(folder, owned, own_inputs, earlier=frozenset(owned), listed=(folder / OWNED).is_file())

    def adopt(self, names: Iterable[str], group: str) -> None:
        """List ``names`` as pianogan's, in a folder written before pianogan kept lists.

        The caller names only files its own record shows it wrote there (a run's
        ``config.json``, ``pieces.json``, ``prepare_report.json``), so that re-running a
        command in its old output folder still works; a folder with a list is left as
        its list says.
        """
        if self.listed:
            return
        for name in names:
            if stays_inside(name) and (self.folder / name).is_file():
                self.owned.setdefault(name, group)
        self.earlier = frozenset(self.owned)

    def probe(self) -> Outputs:
        """Check, creating nothing, that the folder (or, while it does not exist, the
        nearest folder above it) can be written: a read-only or full disk fails here, before
        any work whose result would then be lost."""
        atomic.check_writable(next(above for above in (self.folder, *self.folder.parents) if above.is_dir()))
        return self

    def create(self, subfolders: Iterable[str] = ()) -> Outputs:
        """Make the folder, check it can be written, and remove temporary files that killed
        runs left in it and in ``subfolders`` (``atomic.remove_leftovers``)."""
        atomic.make_folder(self.folder)
        atomic.check_writable(self.folder)
        self.subfolders = tuple(subfolders)
        for sub in (".", *self.subfolders):
            atomic.remove_leftovers(self.folder / sub)
        self.present = frozenset(self._files())
        return self

    def _files(self) -> set[str]:
        """The names of the files now in the folder and its subfolders."""
        names: set[str] = set()
        for sub in (".", *self.subfolders):
            folder = self.folder / sub
            if folder.is_dir():
                names.update((Path(sub) / path.name).as_posix() for path in folder.iterdir() if path.is_file())
        return names

    def claim_new(self, pattern: str, group: str) -> None:
        """Claim the files matching ``pattern`` (a regular expression over names relative
        to the folder) that appeared since ``create``: what a worker wrote before an
        interrupt kept its result from coming back. They cannot be others' files: a
        worker writes nothing while a file of one of its names is not pianogan's."""
        regex = re.compile(pattern)
        self.claim(sorted(name for name in self._files() - self.present if regex.fullmatch(name)), group)

    def problem(self, name: str) -> str | None:
        """Why ``name`` may not be written in this folder, or None when it may."""
        path = self.folder / name
        if self.inputs and path.resolve() in self.inputs:
            return f"{path}: is one of the inputs; choose another output"
        if path.is_dir():
            return f"{path}: is a folder; choose another output"
        if (path.exists() or path.is_symlink()) and name not in self.owned:
            return f"{path}: exists and pianogan did not write it (not listed in {self.folder / OWNED}); move it away or choose another output"
        return None

    def check(self, names: Iterable[str]) -> None:
        """Raise a one-line OutputError for the first of ``names`` that may not be written."""
        for name in names:
            problem = self.problem(name)
            if problem:
                raise OutputError(problem)

    def narrowed(self, groups: Iterable[str]) -> dict[str, Outputs]:
        """For each group, a copy that knows only that group's files: small enough to send
        to a worker process with each task."""
        owned: dict[str, dict[str, str]] = {group: {} for group in groups}
        for name, group in self.owned.items():
            if group in owned:
                owned[group][name] = group
        return {group: Outputs(self.folder, names, self.inputs) for group, names in owned.items()}

    def claim(self, names: Iterable[str], group: str) -> None:
        """Note that this run writes (or has written) ``names`` as part of ``group``.

        Claiming before writing, then ``save(pending=True)``, keeps the files listed even
        if the process is killed before its final ``save``."""
        for name in names:
            self.owned[name] = group
            self.written.add(name)

    @contextlib.contextmanager
    def writing(self, names: Iterable[str], group: str) -> Iterator[Outputs]:
        """Claim ``names`` and list them before the block writes them (a killed run leaves
        nothing unlisted), then list what exists after it, whatever happened."""
        self.claim(names, group)
        self.save(pending=True)
        try:
            yield self
        finally:
            self.save()

    def remove_stale(self, stale_group: Callable[[str], bool]) -> list[str]:
        """Delete the listed files of the groups ``stale_group`` picks that this run did not
        write; returns their names. Files not listed are never touched."""
        removed = []
        for name, group in sorted(self.owned.items()):
            if name in self.written or not stale_group(group):
                continue
            path = self.folder / name
            if path.is_file() and not path.is_symlink():
                path.unlink()
                removed.append(name)
            del self.owned[name]
        return removed

    def save(self, pending: bool = False) -> None:
        """Write the list atomically: the names whose file exists, and with ``pending`` also
        those this run claimed but has not written yet."""
        kept = {n: g for n, g in sorted(self.owned.items()) if (pending and n in self.written) or (self.folder / n).exists()}
        atomic.write_text(self.folder / OWNED, json.dumps({"format": FORMAT, "files": kept}, indent=0) + "\n")

    def replaced(self) -> list[str]:
        """The files of an earlier run that this run wrote again."""
        return sorted(n for n in self.written & self.earlier if (self.folder / n).exists())

    def report(self, removed: Sequence[str] = ()) -> None:
        """Say on stderr, in one line, which files of an earlier run this run replaced or removed."""
        replaced = self.replaced()
        parts = [f"replaced {len(replaced)} file{'s' * (len(replaced) != 1)} of an earlier run (e.g. {replaced[0]})"] if replaced else []
        if removed:
            parts.append(f"removed {len(removed)} file{'s' * (len(removed) != 1)} of an earlier run that this one does not make (e.g. {removed[0]})")
        if parts:
            print(f"{self.folder}: " + "; ".join(parts), file=sys.stderr)


def _read_owned(path: Path) -> dict[str, str]:
    """The name -> group list of an output folder; names that leave the folder are refused."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
            raise ValueError("'files' is not a mapping of names to groups")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise OutputError(f"{path}: damaged list of pianogan's files ({error}); delete it to start afresh") from None
    for name in files:
        if not stays_inside(name):
            raise OutputError(f"{path}: lists {name!r}, which is not inside {path.parent}; delete the list to start afresh")
    return dict(files)
