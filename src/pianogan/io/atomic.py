"""Checked, atomic file writes: a reader sees the old file or the new one, never half of one.

Every file pianogan writes goes through ``atomic_path``: the writer fills a temporary file
beside the target, which is checked (not empty, and complete where a cheap test exists),
flushed to the disk with ``fsync`` and only then renamed onto the target. A write that
fails in any way (a full disk, a read-only folder, a parent that is a file) is a one-line
``OutputError`` naming the target, and the target keeps its previous content. This
matters because some writers report nothing: symusic's ``dump_midi`` returns normally
after writing 0 bytes to a full disk.

Temporary names carry the writer's process id (``.song.mid.pianogan-4242-x1y2z3w4.tmp``),
so a later run can tell the leftovers of a killed process (``remove_leftovers``) from
files another live process is still writing.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pianogan.errors import OutputError

TEMP_TAG = "pianogan"
_LEFTOVER = re.compile(rf"^\..+\.{TEMP_TAG}-(\d+)-[a-z0-9_]{{8}}\.tmp(\.[A-Za-z0-9]+)?$")
PNG_END = b"IEND\xaeB`\x82"  # the last chunk of every complete PNG file

Check = Callable[[Path], "str | None"]


def write_error(target: Path, error: OSError) -> OutputError:
    """The one-line error for an ``OSError`` met while writing ``target``."""
    return OutputError(f"{target}: cannot write ({error.strerror or error})")


def check_folder(folder: str | os.PathLike) -> Path:
    """Raise a one-line error when ``folder``, or the nearest folder above it that exists,
    is a file; nothing is created."""
    folder = Path(folder)
    for above in (folder, *folder.parents):
        if above.exists():
            if not above.is_dir():
                where = "it" if above == folder else str(above)
                raise OutputError(f"{folder}: {where} is a file, not a folder")
            break
    return folder


def make_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` and its parents; one-line errors when a parent is a file or read-only."""
    folder = check_folder(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{folder}: cannot create this folder ({error.strerror or error})") from None
    return folder


def check_writable(folder: Path) -> None:
    """Write one byte to a temporary file in ``folder``, sync and remove it.

    A read-only folder or a full disk then fails before any work, with a one-line error.
    """
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=f".probe.{TEMP_TAG}-{os.getpid()}-", suffix=".tmp")
        try:
            os.write(fd, b"\0")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(name)
    except OSError as error:
        raise OutputError(f"{folder}: cannot write in this folder ({error.strerror or error})") from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", check: Check | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it onto ``path`` only once it is checked.

    Writers that take a file name (PIL, numpy, Keras, ``wave``) write to the yielded path,
    whose name ends in ``.tmp`` plus ``suffix`` (Keras wants ``.keras``). On leaving the
    block the file must be non-empty and pass ``check`` (which returns a reason when the
    file is incomplete); it is then synced to the disk and renamed onto ``path`` in the
    same folder, which is atomic on POSIX. If anything fails, ``path`` keeps its previous
    content, the temporary file is removed, and an ``OSError`` becomes a OutputError
    naming ``path``. A killed process leaves at most the temporary file
    (see ``remove_leftovers``).
    """
    target = Path(path)
    make_folder(target.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{TEMP_TAG}-{os.getpid()}-", suffix=".tmp" + suffix)
    except OSError as error:
        raise write_error(target, error) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            _commit(tmp, target, check)
        except OSError as error:
            raise write_error(target, error) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _commit(tmp: Path, target: Path, check: Check | None) -> None:
    """Check the written file, sync it to the disk and rename it onto ``target``."""
    if tmp.stat().st_size == 0:
        raise OutputError(f"{target}: cannot write (nothing was written; is the disk full?)")
    problem = check(tmp) if check is not None else None
    if problem:
        raise OutputError(f"{target}: cannot write ({problem}; is the disk full?)")
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)  # the data reaches the disk before the name does
    finally:
        os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual permissions
    os.replace(tmp, target)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def size_is(expected: int) -> Check:
    """A check that the file holds exactly ``expected`` bytes."""

    def check(path: Path) -> str | None:
        size = path.stat().st_size
        return None if size == expected else f"{size} of {expected} bytes written"

    return check


def complete_png(path: Path) -> str | None:
    """A check that a PNG file ends with its IEND chunk (a truncated one does not)."""
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - len(PNG_END)))
        return None if handle.read() == PNG_END else "the PNG file is truncated"


def complete_zip(path: Path) -> str | None:
    """A check that a zip archive (``.npz``, ``.keras``) has its central directory."""
    return None if zipfile.is_zipfile(path) else "the archive is truncated"


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, checking that every byte reached the file."""
    with atomic_path(path, check=size_is(len(data))) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def remove_leftovers(folder: str | os.PathLike) -> None:
    """Remove the temporary files that killed pianogan processes left in ``folder``.

    Only names ``atomic_path`` and ``check_writable`` make are considered, and only those
    whose process is gone: a live process (this one included) may still be writing its file.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        match = _LEFTOVER.match(path.name)
        if match and not _alive(int(match.group(1))) and path.is_file() and not path.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or a pid no process can have: leave it
    return True
