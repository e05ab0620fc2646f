"""Shared test fixtures: where the real data lives, quiet, deterministic Keras, and file
systems that fail (a small disk to fill up, a read-only folder)."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

REPO = Path(__file__).resolve().parents[1]
POP909_MIDI = REPO.parent / "shared" / "data" / "pop909" / "midi"


@pytest.fixture
def pop909_midi() -> Path:
    """The real POP909 MIDI folder, or a clean skip where it is not present."""
    if not POP909_MIDI.is_dir():
        pytest.skip("POP909 data not present (../shared/data/pop909/midi)")
    return POP909_MIDI


# --- file systems that fail ---------------------------------------------------------------


def _mount_tmpfs(folder: Path, options: str) -> bool:
    """Mount a tmpfs on ``folder`` where this process may (root with ``mount``); False otherwise."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode == 0


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=True)


class SmallDisk:
    """A folder on a small file system of its own, which a test can fill up.

    Where no tmpfs can be mounted, ``fill`` makes every sync of a written file fail with
    ENOSPC instead, which is how a full disk shows through ``atomic``'s checked writes.
    """

    def __init__(self, path: Path, mounted: bool, monkeypatch: pytest.MonkeyPatch):
        self.path, self.mounted, self.monkeypatch = path, mounted, monkeypatch

    def fill(self) -> None:
        if not self.mounted:
            from pianogan.io import atomic

            def no_space(fd: int) -> None:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

            self.monkeypatch.setattr(atomic.os, "fsync", no_space)
            return
        for size in (1 << 16, 4096, 512, 64, 1):  # down to the last partial block
            fd = os.open(self.path / f".filler-{size}", os.O_WRONLY | os.O_CREAT)
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, bytes(size))
            os.close(fd)

    def files(self) -> dict[str, bytes]:
        """Every file on the disk but the filler, by relative path, with its content."""
        return {p.relative_to(self.path).as_posix(): p.read_bytes() for p in sorted(self.path.rglob("*")) if p.is_file() and not p.name.startswith(".filler")}


@pytest.fixture
def small_disk_of(tmp_path, monkeypatch):
    """``small_disk_of("64m")``: a ``SmallDisk`` of that size (unmounted after the test)."""
    mounted: list[Path] = []

    def make(size: str) -> SmallDisk:
        folder = tmp_path / f"disk-{size}"
        if _mount_tmpfs(folder, f"size={size}"):
            mounted.append(folder)
        return SmallDisk(folder, folder in mounted, monkeypatch)

    yield make
    for folder in mounted:
        _unmount(folder)


@pytest.fixture
def small_disk(small_disk_of) -> SmallDisk:
    """A 4 MB ``SmallDisk``."""
    return small_disk_of("4m")


@pytest.fixture
def read_only_folder(tmp_path):
    """An empty folder no file can be written in: a read-only tmpfs as root, else mode 0o555."""
    folder = tmp_path / "read-only"
    if _mount_tmpfs(folder, "ro,size=64k"):
        yield folder
        _unmount(folder)
        return
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions and no read-only tmpfs could be mounted")
    folder.chmod(0o555)
    yield folder
    folder.chmod(0o755)
