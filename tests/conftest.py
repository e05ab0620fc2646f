"""Shared test helpers and fixtures: where the real data lives, quiet, deterministic Keras,
the command line run in-process, small MIDI files and a tiny generator made by code, and
file systems that fail (a small disk to fill up, a read-only folder).

Test modules import the helpers (``from conftest import run_cli``), as they do ``serving``
and ``browser``; the fixtures they get by name.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import symusic

from pianogan.roll import LATENT_DIM, N_PITCHES, WINDOW

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


# --- the command line, MIDI files, a tiny generator -----------------------------------------


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    """Run ``pianogan ARGV`` in this process: its exit code, stdout and stderr (never a traceback)."""
    from pianogan.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def write_piece(path: Path, notes: list[tuple[int, int, int]], tpq: int = 480, drums: list[tuple[int, int, int]] = ()) -> Path:
    """A MIDI file with notes (first column, length in columns, pitch) on one piano track."""
    return write_tracks(path, {"piano": notes}, tpq, drums)


def write_tracks(path: Path, tracks: dict[str, list[tuple[int, int, int]]], tpq: int = 480, drums: list[tuple[int, int, int]] = ()) -> Path:
    """A MIDI file with one named track per entry of ``tracks`` (notes as in ``write_piece``), and drums when given."""
    score = symusic.Score(tpq)
    for name, notes in tracks.items():
        track = symusic.Track(name, 0, False)
        for column, length, pitch in notes:
            track.notes.append(symusic.Note(column * tpq // 4, length * tpq // 4, pitch, 80))
        score.tracks.append(track)
    if drums:
        kit = symusic.Track("drums", 0, True)
        for column, length, pitch in drums:
            kit.notes.append(symusic.Note(column * tpq // 4, length * tpq // 4, pitch, 80))
        score.tracks.append(kit)
    path.parent.mkdir(parents=True, exist_ok=True)
    score.dump_midi(str(path))
    return path


LATENT = LATENT_DIM  # the tiny generator's latent size and window width
WIDTH = WINDOW


def chord_piece(rng: np.random.Generator, columns: int = 620) -> np.ndarray:
    """A C-major piece: chords of 3 notes, 2-8 columns long."""
    roll = np.zeros((106, columns), dtype=bool)
    scale = [r for r in range(20, 70) if (21 + r) % 12 in (0, 2, 4, 5, 7, 9, 11)]
    for start in range(0, columns - 8, 4):
        for row in rng.choice(scale, 3, replace=False):
            roll[row, start : start + int(rng.integers(2, 9))] = True
    return roll


def prepare_chord_dataset(root: Path) -> Path:
    """A dataset prepared under ``root`` from 3 small chord pieces (9 windows, train split), for training tests."""
    from pianogan.cli import main
    from pianogan.io import midi

    rng = np.random.default_rng(0)
    for i in range(3):
        midi.write_midi(chord_piece(rng), root / "midi" / f"piece{i}.mid")
    assert main(["prepare", str(root / "midi"), "-o", str(root / "ds"), "--jobs", "1"]) == 0
    return root / "ds"


def save_tiny_generator(path: Path, seed: int = 1234) -> Path:
    """A Dense generator whose latent dimension i lights 40 fixed notes when z_i > 0.5.

    Every pixel's logit is ``6 * (sum of z_i over the notes covering it) - 3``, so a
    sample plays a few patterns of 2-12 column notes (~5% of pixels lit), like music
    and unlike noise, and no pixel sits at the threshold.
    """
    from pianogan.models.modelio import import_keras

    keras = import_keras()
    rng = np.random.default_rng(seed)
    kernel = np.zeros((LATENT, N_PITCHES, WIDTH), np.float32)
    for i in range(LATENT):
        for _ in range(40):
            row, start, length = rng.integers(30, 80), rng.integers(0, WIDTH), rng.integers(2, 13)
            kernel[i, row, start : start + length] = 6.0
    model = keras.Sequential(
        [
            keras.Input((LATENT,)),
            keras.layers.Dense(N_PITCHES * WIDTH, activation="sigmoid"),
            keras.layers.Reshape((N_PITCHES, WIDTH, 1)),
        ]
    )
    model.layers[0].set_weights([kernel.reshape(LATENT, -1), np.full(N_PITCHES * WIDTH, -3.0, np.float32)])
    return quiet_save(model, path)


def quiet_save(model, path: Path) -> Path:
    """``model.save``, without the NumPy 2 DeprecationWarning Keras's TensorFlow backend raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(path)
    return path


@pytest.fixture(scope="session")
def model_path(tmp_path_factory) -> Path:
    """A tiny generator (``save_tiny_generator``) with its NumPy export beside it."""
    from pianogan.models import portable

    path = save_tiny_generator(tmp_path_factory.mktemp("tiny-model") / "tiny.keras")
    portable.export(path)
    return path


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
