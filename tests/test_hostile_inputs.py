"""Input built to hurt: times that overflow, images whose headers lie about their size,
metadata naming files outside its folder, archives claiming gigabytes. Each is refused
with a one-line error naming the file, before the work it would have blown up."""

from __future__ import annotations

import csv
import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli as run

from pianogan.cli import main
from pianogan.data import datasets
from pianogan.errors import PianoganError
from pianogan.evaluation import evaluate
from pianogan.io import audio, midi
from pianogan.io.png import read_png, write_png
from pianogan.models import modelio


def vlq(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    while value := value >> 7:
        out.append(0x80 | value & 0x7F)
    return bytes(reversed(out))


def midi_bytes(deltas: list[int], tpq: int = 480) -> bytes:
    """A one-track MIDI file: after each delta time, a note of 10 ticks on middle C."""
    track = b"".join(vlq(delta) + b"\x90\x3c\x5a" + vlq(10) + b"\x80\x3c\x00" for delta in deltas) + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track


LONGEST_DELTA = (1 << 28) - 1  # four bytes of delta time, the most a MIDI event may wait
# The last note after 9 longest waits lies past 2**31 ticks, where symusic's times turn
# negative; after 17, past 2**32, where they wrap to small positive ones.
PAST_2_31 = midi_bytes([0] + [LONGEST_DELTA] * 9)
PAST_2_32 = midi_bytes([0] + [LONGEST_DELTA] * 17)


@pytest.mark.parametrize("data", [PAST_2_31, PAST_2_32], ids=["past-2^31", "past-2^32"])
def test_midi_times_beyond_2_31_ticks_are_refused_by_every_reader(data, tmp_path, capsys):
    bad = tmp_path / "songs" / "corrupt.mid"
    bad.parent.mkdir()
    bad.write_bytes(data)
    message = "an event lies at tick"
    with pytest.raises(PianoganError, match=message):
        midi.read_midi(bad)
    with pytest.raises(PianoganError, match=message):
        audio.load_piece(bad)
    midi.write_midi(np.eye(106, 40, dtype=bool), tmp_path / "songs" / "good.mid")
    for jobs in ("1", "2"):  # one bad file never stops the batch, in-process or not
        code, _, err = run(capsys, "midi2img", tmp_path / "songs", "-o", tmp_path / f"images{jobs}", "--jobs", jobs)
        assert code == 0 and f"skipped {bad}: {message}" in err
        assert [p.name for p in (tmp_path / f"images{jobs}").glob("*.png")] == ["good_0.png"]
    code, _, err = run(capsys, "plot", bad, "-o", tmp_path / "picture.png")
    assert code == 2 and err.startswith(f"pianogan plot: error: {bad}: {message}") and err.count("\n") == 1
    _, _, _, skipped = evaluate.load_generated_folder(tmp_path / "songs")
    assert len(skipped) == 1 and skipped[0].startswith(f"{bad}: {message}")


def test_the_cheap_tick_bound_holds_for_real_songs(pop909_midi):
    """Only tracks whose cheap bound exceeds 2**31 ticks are read event by event, so the
    bound must never fall below a track's real end; the fuzz tests try random bytes."""
    for path in sorted(pop909_midi.glob("*.mid"))[:100]:
        data = path.read_bytes()
        array = np.frombuffer(data, np.uint8)
        for start, stop in midi._track_chunks(data):
            assert midi._tick_bound(array[start:stop]) >= midi._track_end(data, start, stop)


def test_a_file_without_ticks_per_quarter_is_refused_not_reported_as_infinite(tmp_path, capsys):
    path = tmp_path / "tpq0.mid"
    path.write_bytes(midi_bytes([0, 10], tpq=0))
    with pytest.raises(PianoganError, match="ticks per quarter note is 0"):
        midi.read_midi(path)
    code, out, err = run(capsys, "midi2wav", path, "-o", tmp_path / "wav", "--renderer", "fallback")
    assert code == 2 and "inf" not in out + err and f"{path}: ticks per quarter note is 0" in err


# --- images -------------------------------------------------------------------------


def png_claiming(width: int, height: int, bit_depth: int = 8) -> bytes:
    """A PNG file whose header claims ``width`` x ``height`` grey pixels, with almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "width, height, bit_depth, message",
    [
        (13000, 13000, 16, "image is 13000 pixels high, a roll must be 106"),
        (1_600_000, 106, 8, "image is 1600000 pixels wide; a roll has 1 to 262144 columns"),
    ],
)
def test_image_sizes_are_checked_from_the_header_before_decoding(width, height, bit_depth, message, tmp_path, capsys, monkeypatch):
    from PIL import ImageFile

    path = tmp_path / "bomb.png"
    path.write_bytes(png_claiming(width, height, bit_depth))
    assert path.stat().st_size < 200

    def never(self):
        raise AssertionError("decoded an image whose size was known to be wrong")

    monkeypatch.setattr(ImageFile.ImageFile, "load", never)
    with pytest.raises(PianoganError, match=message):
        read_png(path)
    code, _, err = run(capsys, "plot", path, "-o", tmp_path / "picture.png")
    assert code == 2 and err.startswith(f"pianogan plot: error: {path}: {message}") and err.count("\n") == 1
    code, _, err = run(capsys, "img2midi", path, "-o", tmp_path / "midi")
    assert code == 2 and f"skipped {path}: {message}" in err


def test_a_wide_roll_is_drawn_from_merged_columns(tmp_path, capsys):
    roll = np.zeros((106, 200_000), dtype=bool)
    roll[40, 150_000:150_004] = True  # one short note, far along
    write_png(roll, tmp_path / "long.png")
    assert run(capsys, "plot", tmp_path / "long.png", "-o", tmp_path / "long_plot.png")[0] == 0
    from pianogan.roll import MAX_DRAWN_COLUMNS, _drawable

    drawn, factor = _drawable(roll)
    assert drawn.shape[1] <= MAX_DRAWN_COLUMNS and drawn[40, 150_000 // factor] and drawn.sum() <= 2


# --- names that leave their folder --------------------------------------------------


def test_maestro_names_outside_the_root_are_reported_and_never_read(tmp_path):
    root, secret = tmp_path / "maestro", tmp_path / "secret.midi"
    midi.write_midi(np.eye(106, 40, dtype=bool), root / "2004" / "ok.midi")
    midi.write_midi(np.eye(106, 40, dtype=bool), secret)
    names = ["2004/ok.midi", str(secret), "../secret.midi", "2004/../../secret.midi"]
    with open(root / "maestro-v2.0.0.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=datasets.MAESTRO_COLUMNS)
        writer.writeheader()
        writer.writerows({"canonical_composer": "c", "canonical_title": "t", "split": "train", "year": "2004", "midi_filename": n} for n in names)
    out = tmp_path / "out"
    report = datasets.prepare(root, out, png=True, jobs=1, progress=False)
    assert [c["file"] for c in report["converted"]] == ["2004/ok.midi"]
    assert sorted(f["file"] for f in report["failed"]) == sorted(names[1:])
    assert {f["reason"] for f in report["failed"]} == {"the name leaves SOURCE (absolute, or '..'); not read"}
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png")] == ["out/png/train/2004__ok_0.png"]


def test_a_splits_csv_naming_files_outside_source_is_reported(tmp_path):
    source = tmp_path / "songs"
    midi.write_midi(np.eye(106, 40, dtype=bool), source / "a.mid")
    (tmp_path / "splits.csv").write_text("file,split\na.mid,train\n../../etc/passwd,test\n/etc/passwd,test\n")
    report = datasets.prepare(source, tmp_path / "out", splits=tmp_path / "splits.csv", jobs=1, progress=False)
    assert sorted(f["file"] for f in report["failed"]) == ["../../etc/passwd", "/etc/passwd"]


# --- archives that claim too much ---------------------------------------------------


def npz_claiming(path: Path, shape: tuple[int, ...]) -> Path:
    """A split file whose 'rolls' header claims ``shape`` over 100 bytes of data."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    columns = io.BytesIO()
    np.save(columns, np.int64(300))
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rolls.npy", header.getvalue() + bytes(100))
        archive.writestr("columns.npy", columns.getvalue())
    return path


def test_an_npz_header_claiming_750_gib_is_one_line(tmp_path, capsys):
    npz_claiming(tmp_path / "dataset" / "train.npz", (7_500_000, 106, 1000))
    with pytest.raises(PianoganError, match=r"train.npz: not a readable pianogan dataset file \(rolls.npy claims 795,000,000,000 bytes"):
        datasets.load_split(tmp_path / "dataset")
    write_png(np.eye(106, 300, dtype=bool), tmp_path / "generated" / "a.png")
    code, _, err = run(capsys, "evaluate", "--generated", tmp_path / "generated", "--real", tmp_path / "dataset", "--split", "train", "-o", tmp_path / "eval")
    assert code == 2 and err.count("\n") == 1 and "claims 795,000,000,000 bytes" in err


def test_a_keras_file_with_an_oversized_config_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("metadata.json", "{}")
        archive.writestr("config.json", " " * 5000)  # a gigabyte in the real attack; the limit is lowered here
    monkeypatch.setitem(modelio.MAX_MEMBER_BYTES, "config.json", 4000)
    monkeypatch.setattr(modelio, "import_keras", lambda: pytest.fail("Keras was asked to parse the file"))
    with pytest.raises(PianoganError, match=r"bomb.keras: config.json holds 5,000 bytes, more than the 4,000 a generator needs; refused unread"):
        modelio.load_generator(path)
    path.write_text("not an archive")
    with pytest.raises(PianoganError, match=r"bomb.keras: not a loadable Keras model \(not a .keras archive"):
        modelio.load_generator(path)


def test_the_shipped_generator_is_within_the_archive_limits():
    modelio.check_archive(Path(__file__).resolve().parents[1] / "models" / "generator.keras")


@pytest.mark.skipif(audio.fluidsynth_binary() is None, reason="fluidsynth not installed")
def test_a_soundfont_fluidsynth_cannot_load_is_an_error_not_another_font(tmp_path, capsys):
    font = tmp_path / "broken.sf2"
    font.write_bytes(b"RIFF" + struct.pack("<I", 1000) + b"sfbk" + bytes(996))  # the right magic, nothing behind it
    midi.write_midi(np.eye(106, 16, dtype=bool), tmp_path / "a.mid")
    code, out, err = run(capsys, "midi2wav", tmp_path / "a.mid", "-o", tmp_path / "wav", "--soundfont", font, "--renderer", "fluidsynth")
    assert code == 2 and out == ""
    assert f"pianogan midi2wav: error: soundfont {font}: FluidSynth cannot load it" in err
    assert not list((tmp_path / "wav").glob("*.wav"))


# --- numeric options ----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["prepare", "{songs}", "-o", "{tmp}/ds", "--columns", "300000"], "--columns must be 1..262144 columns, got 300000"),
        (["evaluate", "--generated", "{songs}", "--real", "{tmp}", "--seed", "-1", "-o", "{tmp}/e"], "--seed must be 0 or more, got -1"),
        (["evaluate", "--generated", "{songs}", "--real", "{tmp}", "--n", "1000000", "-o", "{tmp}/e"], "--n must be 10..10,000"),
        (["evaluate", "--generated", "{songs}", "--real", "{tmp}", "--threshold", "nan", "-o", "{tmp}/e"], "--threshold must be in (0, 1], got nan"),
        (["evaluate", "--generated", "{songs}", "--real", "{tmp}", "-o", "{songs}/eval"], "lies inside --generated"),
    ],
)
def test_numeric_options_are_checked_before_any_work(argv, message, tmp_path, capsys):
    songs = tmp_path / "songs"
    midi.write_midi(np.eye(106, 40, dtype=bool), songs / "a.mid")
    code, _, err = run(capsys, *(a.format(songs=songs, tmp=tmp_path) for a in argv))
    assert code == 2 and err.count("\n") == 1 and message in err
    assert not (tmp_path / "ds").exists() and not (tmp_path / "e").exists()


def test_midi2img_refuses_a_window_wider_than_a_piece_may_be(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["midi2img", str(tmp_path), "-o", str(tmp_path / "out"), "--columns", "1000000000"])
    assert "--columns: must be 1..262144 columns, got 1000000000" in capsys.readouterr().err


def test_info_checks_its_options_before_keras_loads():
    import subprocess
    import sys

    script = "import sys; from pianogan.cli import main; code = main(sys.argv[1:]); print(code, 'keras' in sys.modules)"
    for argv in (["info", "default", "--latent-dim", "0"], ["info", "default", "--batch-size", "-1"]):
        done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, timeout=60)
        assert done.stdout.split() == ["2", "False"], done.stderr
        assert done.stderr.count("\n") == 1 and "pianogan info: error: --" in done.stderr


def test_midi2wav_checks_the_rate_before_creating_its_folder(tmp_path, capsys):
    midi.write_midi(np.eye(106, 16, dtype=bool), tmp_path / "a.mid")
    code, _, err = run(capsys, "midi2wav", tmp_path / "a.mid", "-o", tmp_path / "wav", "--rate", "0", "--renderer", "fallback")
    assert code == 2 and "--rate 0: choose a sample rate" in err and not (tmp_path / "wav").exists()
