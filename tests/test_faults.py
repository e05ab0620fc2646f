"""Faults around the commands: a full disk, read-only folders, a file where a folder should be,
files pianogan did not write, writers killed half-way. Whatever happens, no file is lost or
left half-written, and every failure is a one-line error naming the file.

A full disk is a small tmpfs filled up where the tests may mount one (root), else every
sync of a written file fails with ENOSPC (``conftest.SmallDisk``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import run_cli as run

from pianogan.errors import PianoganError
from pianogan.io import atomic
from pianogan.io.midi import write_midi
from pianogan.io.outputs import OWNED
from pianogan.io.png import read_png, write_png


def error_line(err: str, command: str) -> str:
    """The command's final error, checked to be one line (progress bars aside)."""
    lines = [line for line in err.splitlines() if line.strip() and "|" not in line]
    assert lines and lines[-1].startswith(f"pianogan {command}: error: "), err
    return lines[-1]


def piece(seed: int, columns: int = 700) -> np.ndarray:
    roll = np.zeros((106, columns), dtype=bool)
    rng = np.random.default_rng(seed)
    for start in range(0, columns - 8, 6):
        roll[rng.integers(30, 70), start : start + 4] = True
    return roll


@pytest.fixture
def inputs(tmp_path) -> SimpleNamespace:
    """MIDI files (87 s and 2 s), a roll PNG and a folder of MIDI files, and a way to change them all."""
    folder = tmp_path / "inputs"
    songs = folder / "songs"

    def write(seed: int) -> None:
        write_midi(piece(seed), folder / "song.mid")
        write_midi(piece(seed, 16), folder / "short.mid")
        write_png(piece(seed, 300), folder / "roll.png")
        for k in range(2):
            write_midi(piece(seed + k), songs / f"s{k}.mid")

    write(0)
    return SimpleNamespace(midi=folder / "song.mid", short=folder / "short.mid", png=folder / "roll.png", songs=songs, change=lambda: write(7))


COMMANDS = {
    "midi2img": lambda i, out: ["midi2img", i.midi, "-o", out],
    "img2midi": lambda i, out: ["img2midi", i.png, "-o", out],
    "plot": lambda i, out: ["plot", i.midi, "-o", out / "picture.png"],
    "prepare": lambda i, out: ["prepare", i.songs, "-o", out, "--png", "--jobs", "1"],
    "midi2wav": lambda i, out: ["midi2wav", i.short, "-o", out, "--renderer", "fallback"],
}


# --- a full disk --------------------------------------------------------------------


@pytest.mark.parametrize("probed", [True, False], ids=["found-before-work", "found-by-each-write"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_disk_is_one_line_and_replaces_no_file(command, probed, small_disk, inputs, capsys, monkeypatch):
    argv = COMMANDS[command](inputs, small_disk.path / "out")
    assert run(capsys, *argv)[0] == 0
    before = small_disk.files()
    inputs.change()  # a new run would write other content
    if not probed:  # let the writes themselves meet the full disk
        monkeypatch.setattr(atomic, "check_writable", lambda folder: None)
    small_disk.fill()
    code, _, err = run(capsys, *argv)
    assert code == 2
    line = error_line(err, command)
    assert "No space left on device" in line or "disk full" in line
    assert small_disk.files() == before  # nothing replaced, no empty or temporary file left


def test_a_midi_file_is_never_left_empty_on_a_full_disk(small_disk):
    """symusic's own writer returns normally after writing 0 bytes to a full disk."""
    path = small_disk.path / "song.mid"
    write_midi(piece(0), path)
    good = path.read_bytes()
    small_disk.fill()
    with pytest.raises(PianoganError, match=r"song.mid: cannot write \(.*\)$"):
        write_midi(piece(1), path)
    assert path.read_bytes() == good and small_disk.files() == {"song.mid": good}


def test_an_empty_or_truncated_write_is_an_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "kept.png"
    target.write_bytes(b"old")
    with pytest.raises(PianoganError, match="nothing was written"), atomic.atomic_path(target):
        pass  # a writer that reports success and writes nothing
    with pytest.raises(PianoganError, match="the PNG file is truncated"), atomic.atomic_path(target, check=atomic.complete_png) as tmp:
        tmp.write_bytes(b"\x89PNG\r\n\x1a\n half of an image")
    with pytest.raises(PianoganError, match="3 of 4 bytes written"), atomic.atomic_path(target, check=atomic.size_is(4)) as tmp:
        tmp.write_bytes(b"abc")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["kept.png"]


# --- folders that cannot be written -------------------------------------------------


@pytest.mark.parametrize("below", [False, True], ids=["in-it", "below-it"])
@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_output_is_one_line_and_writes_nothing(command, below, read_only_folder, inputs, capsys):
    out = read_only_folder / "out" if below else read_only_folder
    code, _, err = run(capsys, *COMMANDS[command](inputs, out))
    assert code == 2
    assert "Read-only file system" in error_line(err, command) or "Permission denied" in error_line(err, command)
    assert list(read_only_folder.iterdir()) == []


OUTPUT_BELOW_A_FILE = {
    **COMMANDS,
    "generate": lambda i, out: ["generate", "--model", i.midi.parent / "absent.keras", "--no-audio", "-o", out],
    "evaluate": lambda i, out: ["evaluate", "--model", i.midi.parent / "absent.keras", "--real", i.songs, "-o", out],
    "train": lambda i, out: ["train", i.songs, "-o", out],
}


@pytest.mark.parametrize("command", OUTPUT_BELOW_A_FILE)
def test_an_output_below_a_file_is_one_line_before_any_work(command, tmp_path, inputs, capsys):
    (tmp_path / "file").write_text("mine")
    code, _, err = run(capsys, *OUTPUT_BELOW_A_FILE[command](inputs, tmp_path / "file" / "out"))
    assert code == 2
    assert f"{tmp_path / 'file'} is a file, not a folder" in error_line(err, command) or f"{tmp_path / 'file'}: it is a file" in error_line(err, command)
    assert (tmp_path / "file").read_text() == "mine"


# --- files pianogan did not write ---------------------------------------------------


def test_prepare_png_keeps_others_files_and_refuses_a_source_inside_its_png_folder(tmp_path, inputs, capsys):
    out = tmp_path / "dataset"
    photos = out / "png" / "photos"
    photos.mkdir(parents=True)
    (photos / "cat.png").write_bytes(b"a photo")
    assert run(capsys, "prepare", inputs.songs, "-o", out, "--png", "--jobs", "1")[0] == 0
    assert (photos / "cat.png").read_bytes() == b"a photo"
    ours = sorted(p.name for p in (out / "png" / "train").glob("*.png"))
    assert ours == ["s0_0.png", "s0_1.png", "s0_2.png", "s1_0.png", "s1_1.png", "s1_2.png"]
    # Its own images as SOURCE: refused before anything is read or deleted.
    code, _, err = run(capsys, "prepare", out / "png" / "train", "-o", out, "--png")
    assert code == 2 and "lies inside" in error_line(err, "prepare")
    assert sorted(p.name for p in (out / "png" / "train").glob("*.png")) == ours and (photos / "cat.png").exists()


def test_prepare_refuses_a_dataset_file_it_did_not_write(tmp_path, inputs, capsys):
    out = tmp_path / "dataset"
    out.mkdir()
    (out / "test.npz").write_bytes(b"someone's archive")
    code, _, err = run(capsys, "prepare", inputs.songs, "-o", out, "--jobs", "1")
    assert code == 2 and f"{out / 'test.npz'}: exists and pianogan did not write it" in error_line(err, "prepare")
    assert (out / "test.npz").read_bytes() == b"someone's archive" and not (out / "train.npz").exists()


def test_midi2img_reruns_leave_no_stale_windows_and_say_what_they_replaced(tmp_path, inputs, capsys):
    out = tmp_path / "images"
    assert run(capsys, "midi2img", inputs.midi, "-o", out)[0] == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["song_0.png", "song_1.png", "song_2.png"]
    code, _, err = run(capsys, "midi2img", inputs.midi, "-o", out, "--columns", "600")
    assert code == 0
    assert sorted(p.name for p in out.glob("*.png")) == ["song_0.png", "song_1.png"]
    assert all(read_png(p).shape == (106, 600) for p in out.glob("*.png"))
    assert "replaced 2 files of an earlier run" in err and "removed 1 file of an earlier run" in err


def test_a_file_of_an_outputs_name_that_pianogan_did_not_write_is_refused_and_kept(tmp_path, inputs, capsys):
    out = tmp_path / "images"
    out.mkdir()
    (out / "song_1.png").write_bytes(b"my drawing")
    write_midi(piece(3), tmp_path / "other.mid")
    code, _, err = run(capsys, "midi2img", inputs.midi, tmp_path / "other.mid", "-o", out)
    assert code == 0  # the other file converts
    assert f"skipped {out / 'song_1.png'}: exists and pianogan did not write it" in err
    assert (out / "song_1.png").read_bytes() == b"my drawing" and not (out / "song_0.png").exists()
    assert (out / "other_0.png").exists()


def test_plot_and_img2midi_refuse_to_write_over_their_input(tmp_path, capsys):
    write_png(piece(0, 300), tmp_path / "x.png")
    before = (tmp_path / "x.png").read_bytes()
    code, _, err = run(capsys, "plot", tmp_path / "x.png", "-o", tmp_path / "x.png")
    assert code == 2 and f"{tmp_path / 'x.png'}: is one of the inputs" in error_line(err, "plot")
    assert (tmp_path / "x.png").read_bytes() == before
    (tmp_path / "x.png").rename(tmp_path / "song.mid")  # a roll image named like a MIDI file
    code, _, err = run(capsys, "img2midi", tmp_path / "song.mid", "-o", tmp_path)
    assert code == 2 and f"skipped {tmp_path / 'song.mid'}: is one of the inputs" in err
    assert (tmp_path / "song.mid").read_bytes() == before


def test_a_damaged_or_escaping_list_of_outputs_deletes_nothing(tmp_path, inputs, capsys):
    out = tmp_path / "images"
    out.mkdir()
    (tmp_path / "precious.txt").write_text("keep me")
    (out / OWNED).write_text(json.dumps({"format": 1, "files": {"../precious.txt": "midi2img:song"}}))
    code, _, err = run(capsys, "midi2img", inputs.midi, "-o", out, "--columns", "100")
    assert code == 2 and "'../precious.txt', which is not inside" in error_line(err, "midi2img")
    (out / OWNED).write_text("{not json")
    code, _, err = run(capsys, "midi2img", inputs.midi, "-o", out)
    assert code == 2 and "damaged list of pianogan's files" in error_line(err, "midi2img")
    assert (tmp_path / "precious.txt").read_text() == "keep me" and list(out.glob("*.png")) == []


# --- writers killed half-way --------------------------------------------------------


def dead_pid() -> int:
    """The process id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_temporary_files_of_killed_writers_are_removed_by_the_next_run(tmp_path, inputs, capsys):
    out = tmp_path / "images"
    out.mkdir()
    dead = out / f".song_0.png.{atomic.TEMP_TAG}-{dead_pid()}-abcd1234.tmp"
    alive = out / f".song_0.png.{atomic.TEMP_TAG}-{os.getpid()}-abcd1234.tmp"  # a writer still at work
    unrelated = out / ".song_0.png.abcd1234.tmp"  # not a name pianogan makes
    for path in (dead, alive, unrelated):
        path.write_bytes(b"half a file")
    assert run(capsys, "midi2img", inputs.midi, "-o", out)[0] == 0
    assert not dead.exists() and alive.exists() and unrelated.exists()


def test_a_rerun_that_fails_before_its_report_keeps_the_earlier_report(tmp_path, inputs, monkeypatch):
    from pianogan.data import datasets

    out = tmp_path / "dataset"
    datasets.prepare(inputs.songs, out, jobs=1, progress=False)
    report = (out / datasets.REPORT).read_bytes()

    def fails(report: dict) -> str:
        raise PianoganError("the report could not be made")

    monkeypatch.setattr(datasets, "_report_text", fails)
    with pytest.raises(PianoganError, match="the report could not be made"):
        datasets.prepare(inputs.songs, out, jobs=1, progress=False)
    assert (out / datasets.REPORT).read_bytes() == report


# --- folders written before pianogan listed its files -------------------------------


def test_an_output_folder_older_than_lists_is_reused_where_pianogan_left_a_record(tmp_path, inputs, capsys):
    """A dataset's report names what prepare wrote there, so an older folder is re-prepared;
    midi2img leaves no such record, so its older images are refused, never overwritten."""
    out, images = tmp_path / "dataset", tmp_path / "images"
    assert run(capsys, "prepare", inputs.songs, "-o", out, "--png", "--jobs", "1")[0] == 0
    assert run(capsys, "midi2img", inputs.midi, "-o", images)[0] == 0
    (out / OWNED).unlink()
    (images / OWNED).unlink()
    (out / "png" / "train" / "photo_1.png").write_bytes(b"a photo")
    inputs.change()
    code, _, err = run(capsys, "prepare", inputs.songs, "-o", out, "--png", "--jobs", "1")
    assert code == 0 and "replaced 9 files of an earlier run" in err
    assert (out / "png" / "train" / "photo_1.png").read_bytes() == b"a photo"
    code, _, err = run(capsys, "midi2img", inputs.midi, "-o", images)
    assert code == 2 and "song_0.png: exists and pianogan did not write it" in err


TERMINATED_MID_BATCH = r"""
import os, signal, sys
from pianogan.cli import main
from pianogan.io import png

write_png, written = png.write_png, []

def write_then_get_killed(window, path):
    write_png(window, path)
    written.append(path)
    if len(written) == 3:
        os.kill(os.getpid(), signal.SIGTERM)

png.write_png = write_then_get_killed
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_mid_batch_stops_with_130_and_keeps_what_was_written_listed(tmp_path, inputs):
    out = tmp_path / "images"
    argv = ["midi2img", str(inputs.songs), str(inputs.midi), "-o", str(out), "--jobs", "1"]
    done = subprocess.run([sys.executable, "-c", TERMINATED_MID_BATCH, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and "pianogan midi2img: interrupted" in done.stderr
    listed = json.loads((out / OWNED).read_text())["files"]
    assert sorted(listed) == sorted(p.name for p in out.glob("*.png")) and len(listed) == 3
    assert subprocess.run([sys.executable, "-m", "pianogan", *argv], capture_output=True).returncode == 0  # the next run may replace them


PARENT_TERMINATED_BY_A_WORKER = r"""
import os, signal, sys
from concurrent.futures import ProcessPoolExecutor
from pianogan.cli import main

pool_map = ProcessPoolExecutor.map

def map_then_stop_the_batch(self, *args, **kwargs):
    # Workers start afresh (no fork), so the signal comes with the first file they finish:
    # the user kills the main process while the others are under way.
    results = pool_map(self, *args, **kwargs)
    for k, result in enumerate(results):
        if k == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        yield result

ProcessPoolExecutor.map = map_then_stop_the_batch
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_to_a_parallel_batch_stops_it_and_lists_every_image_written(tmp_path):
    """With worker processes the signal reaches only the main one: the files under way
    finish, the others are cancelled, and whatever was written is listed."""
    songs = tmp_path / "songs"
    for k in range(40):
        write_midi(piece(k), songs / f"s{k:02d}.mid")
    out = tmp_path / "images"
    argv = ["midi2img", str(songs), "-o", str(out), "--jobs", "2"]
    done = subprocess.run([sys.executable, "-c", PARENT_TERMINATED_BY_A_WORKER, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and "pianogan midi2img: interrupted" in done.stderr
    listed = json.loads((out / OWNED).read_text())["files"]
    assert listed and sorted(listed) == sorted(p.name for p in out.glob("*.png"))


def test_sigterm_is_ctrl_c_in_the_command_and_death_in_its_forked_workers():
    """multiprocessing.Pool stops its workers with SIGTERM: a worker that raised
    KeyboardInterrupt instead of dying could hang on a lock, and the command with it."""
    import signal

    from pianogan.interrupt import terminate_as_interrupt

    with terminate_as_interrupt():
        child = os.fork()
        if child == 0:  # the worker: SIGTERM must end it, whatever Python code runs
            try:
                os.kill(os.getpid(), signal.SIGTERM)
            finally:
                os._exit(0)  # reached only if the signal did not kill
        _, status = os.waitpid(child, 0)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM
