"""The conversion commands: midi2img, img2midi and plot, as users run them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mido
import numpy as np
import pytest
import symusic
from conftest import run_cli as run
from conftest import write_piece
from PIL import Image

from pianogan.cli import main
from pianogan.io.midi import read_midi
from pianogan.io.png import read_png, write_png
from pianogan.roll import N_PITCHES


def names(folder: Path) -> list[str]:
    """The files a user sees in ``folder`` (not pianogan's hidden list of its outputs)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


# --------------------------------------------------------------------------- midi2img


def test_midi2img_takes_files_and_folders_recursively_in_any_case(tmp_path, capsys):
    songs = tmp_path / "songs"
    write_piece(songs / "a.mid", [(0, 4, 60), (650, 8, 72)])  # windows 0 and 2; window 1 silent
    write_piece(songs / "sub" / "deeper" / "B.MID", [(10, 2, 21), (12, 2, 126)])
    write_piece(songs / "sub" / "c.Midi", [(299, 3, 64)])  # crosses into window 1
    (songs / "notes.txt").write_text("not music")
    (songs / "._a.mid").write_bytes(b"\x00\x05\x16\x07")  # macOS resource fork: hidden, not read
    solo = write_piece(tmp_path / "solo.mid", [(0, 1, 40)])
    out = tmp_path / "images"
    code, stdout, stderr = run(capsys, "midi2img", str(songs), str(solo), "-o", str(out))
    assert code == 0 and stderr == ""
    assert names(out) == ["B_0.png", "a_0.png", "a_2.png", "c_0.png", "c_1.png", "solo_0.png"]
    assert stdout.strip() == (
        f"midi2img: 4 files converted, 0 bad; 6 windows written to {out}, 1 silent windows skipped; notes dropped: 0 out of range, 0 on drum tracks"
    )
    a2 = read_png(out / "a_2.png")
    assert a2.shape == (N_PITCHES, 300) and np.argwhere(a2).tolist() == [[72 - 21, c] for c in range(50, 58)]
    assert np.argwhere(read_png(out / "B_0.png")).tolist() == [[0, 10], [0, 11], [105, 12], [105, 13]]
    assert np.argwhere(read_png(out / "c_1.png")).tolist() == [[64 - 21, 0], [64 - 21, 1]]
    with Image.open(out / "a_0.png") as image:
        assert image.mode == "L" and image.size == (300, 106)


def test_midi2img_columns_sets_the_window_width(tmp_path, capsys):
    song = write_piece(tmp_path / "song.mid", [(0, 4, 60), (250, 4, 62)])
    out = tmp_path / "out"
    code, _, _ = run(capsys, "midi2img", str(song), "-o", str(out), "--columns", "100")
    assert code == 0 and names(out) == ["song_0.png", "song_2.png"]
    assert read_png(out / "song_2.png").shape == (N_PITCHES, 100)
    assert np.argwhere(read_png(out / "song_2.png")).tolist() == [[62 - 21, c] for c in range(50, 54)]
    with pytest.raises(SystemExit):
        main(["midi2img", str(song), "-o", str(out), "--columns", "0"])
    assert "--columns: must be 1..262144 columns, got 0" in capsys.readouterr().err


def test_midi2img_matches_the_library_with_pedal_and_jobs(tmp_path, capsys):
    from pianogan.io.midi import midi_to_windows

    score = symusic.Score(480)
    track = symusic.Track("piano", 0, False)
    for i in range(24):  # one note every 33 1/3 columns: three windows
        track.notes.append(symusic.Note(i * 4000, 200, 40 + i, 70))
    track.controls.append(symusic.ControlChange(100, 64, 127))
    track.controls.append(symusic.ControlChange(9000, 64, 0))
    score.tracks.append(track)
    (tmp_path / "in").mkdir()
    for name in ("p1", "p2", "p3"):
        score.dump_midi(str(tmp_path / "in" / f"{name}.mid"))
    one, two = tmp_path / "one", tmp_path / "two"
    assert run(capsys, "midi2img", str(tmp_path / "in"), "-o", str(one), "--pedal")[0] == 0
    assert run(capsys, "midi2img", str(tmp_path / "in"), "-o", str(two), "--pedal", "--jobs", "2")[0] == 0
    assert names(one) == names(two) and len(names(one)) == 3 * 3
    assert all((one / n).read_bytes() == (two / n).read_bytes() for n in names(one))
    for k, window in midi_to_windows(tmp_path / "in" / "p2.mid", pedal=True).windows:
        assert np.array_equal(read_png(one / f"p2_{k}.png"), window)
    held = read_png(one / "p2_0.png")
    assert np.flatnonzero(held[40 - 21]).tolist() == list(range(75))  # held to the release at tick 9000


def test_midi2img_skips_bad_files_names_them_and_converts_the_others(tmp_path, capsys):
    folder = tmp_path / "mixed"
    write_piece(folder / "good1.mid", [(0, 4, 60)])
    write_piece(folder / "good2.mid", [(5, 4, 61), (6, 2, 10), (7, 2, 127)], drums=[(0, 1, 36), (4, 1, 38)])
    good = (folder / "good1.mid").read_bytes()
    (folder / "empty.mid").write_bytes(b"")
    (folder / "random.mid").write_bytes(np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8).tobytes())
    (folder / "truncated.mid").write_bytes(good[:30])
    (folder / "letter.mid").write_text("Dear reader, this is not MIDI.\n")
    write_piece(folder / "silent.mid", [])
    write_piece(folder / "only_drums.mid", [], drums=[(0, 2, 42)])
    code, stdout, stderr = run(capsys, "midi2img", str(folder), str(tmp_path / "absent"), "-o", str(tmp_path / "out"))
    assert code == 0
    assert names(tmp_path / "out") == ["good1_0.png", "good2_0.png"]
    lines = stderr.strip().splitlines()
    assert len(lines) == 7
    assert lines[0] == f"skipped {tmp_path / 'absent'}: no such file or folder"
    reasons = dict(line.removeprefix("skipped ").split(": ", 1) for line in lines[1:])
    assert sorted(Path(p).name for p in reasons) == ["empty.mid", "letter.mid", "only_drums.mid", "random.mid", "silent.mid", "truncated.mid"]
    for name in ("empty.mid", "letter.mid", "random.mid", "truncated.mid"):
        assert reasons[str(folder / name)].startswith("not a readable MIDI file (")
    assert reasons[str(folder / "silent.mid")] == "no notes"
    assert reasons[str(folder / "only_drums.mid")] == "no notes in the pitch range 21..126 (1 drum notes and 0 out of range dropped)"
    assert stdout.strip() == (
        f"midi2img: 2 files converted, 7 bad; 2 windows written to {tmp_path / 'out'}, "
        "0 silent windows skipped; notes dropped: 2 out of range, 3 on drum tracks"
    )


def test_midi2img_exits_2_when_nothing_converts(tmp_path, capsys):
    (tmp_path / "bad.mid").write_bytes(b"MThd nonsense")
    write_piece(tmp_path / "silent.mid", [])
    code, stdout, stderr = run(capsys, "midi2img", str(tmp_path), "-o", str(tmp_path / "out"))
    assert code == 2
    assert stderr.strip().splitlines()[-1] == "pianogan midi2img: error: none of the 2 inputs could be converted (reasons above)"
    assert "0 files converted, 2 bad" in stdout
    code, _, stderr = run(capsys, "midi2img", str(tmp_path / "out"), "-o", str(tmp_path / "o2"))
    assert code == 2 and stderr.strip() == f"pianogan midi2img: error: no .mid or .midi files found in {tmp_path / 'out'}"


def test_midi2img_never_overwrites_one_input_with_another(tmp_path, capsys):
    write_piece(tmp_path / "bach" / "prelude.mid", [(0, 4, 60)])
    write_piece(tmp_path / "chopin" / "Prelude.mid", [(0, 4, 72)])
    write_piece(tmp_path / "chopin" / "etude.mid", [(0, 4, 50)])
    out = tmp_path / "out"
    assert run(capsys, "midi2img", str(tmp_path / "bach"), str(tmp_path / "chopin"), "-o", str(out))[0] == 0
    assert names(out) == ["bach-prelude_0.png", "chopin-Prelude_0.png", "etude_0.png"]
    assert np.argwhere(read_png(out / "chopin-Prelude_0.png"))[0].tolist() == [72 - 21, 0]
    write_piece(tmp_path / "chopin" / "etude.midi", [(0, 4, 50)])
    code, _, stderr = run(capsys, "midi2img", str(tmp_path / "chopin"), "-o", str(tmp_path / "out2"))
    assert code == 2
    assert stderr.strip() == (
        f"pianogan midi2img: error: {tmp_path / 'chopin' / 'etude.mid'} and {tmp_path / 'chopin' / 'etude.midi'} "
        "would write outputs with the same name ('etude'); rename one of them"
    )
    assert not (tmp_path / "out2").exists()


def test_midi2img_output_must_be_a_folder(tmp_path, capsys):
    song = write_piece(tmp_path / "s.mid", [(0, 1, 60)])
    (tmp_path / "file").write_text("")
    code, _, stderr = run(capsys, "midi2img", str(song), "-o", str(tmp_path / "file"))
    assert code == 2 and f"{tmp_path / 'file'}: it is a file, not a folder" in stderr


# --------------------------------------------------------------------------- img2midi


def roll_with(*runs: tuple[int, int, int], width: int = 300) -> np.ndarray:
    """A roll with runs (pitch, first column, length)."""
    roll = np.zeros((N_PITCHES, width), dtype=bool)
    for pitch, first, length in runs:
        roll[pitch - 21, first : first + length] = True
    return roll


def test_img2midi_writes_exact_notes_at_120_bpm_on_a_piano(tmp_path, capsys):
    rolls = tmp_path / "rolls"
    write_png(roll_with((60, 0, 4), (21, 0, 1), (64, 10, 2), (64, 13, 1), (126, 296, 4)), rolls / "first.png")
    write_png(roll_with((67, 2, 3), width=7), rolls / "nested" / "Second.PNG")
    write_png(roll_with((40, 0, 1), width=1), tmp_path / "one_column.png")
    out = tmp_path / "midi"
    code, stdout, stderr = run(capsys, "img2midi", str(rolls), str(tmp_path / "one_column.png"), "-o", str(out), "--velocity", "64")
    assert code == 0 and stderr == ""
    assert names(out) == ["Second.mid", "first.mid", "one_column.mid"]
    assert stdout.strip() == f"img2midi: 3 files converted, 0 bad; 3 MIDI files written to {out} with 7 notes (0 without notes)"
    midi = mido.MidiFile(out / "first.mid")
    messages = [m for track in midi.tracks for m in track]
    assert midi.ticks_per_beat == 480
    assert [m.tempo for m in messages if m.type == "set_tempo"] == [500000]
    assert [m.program for m in messages if m.type == "program_change"] == [0]
    assert {m.velocity for m in messages if m.type == "note_on" and m.velocity} == {64}
    notes = sorted((n.time, n.duration, n.pitch) for n in symusic.Score(str(out / "first.mid")).tracks[0].notes)
    # column c starts at tick 120 c: column 0 holds real notes, nothing is shifted
    assert notes == [(0, 120, 21), (0, 480, 60), (1200, 240, 64), (1560, 120, 64), (35520, 480, 126)]
    assert [(n.time, n.duration, n.pitch) for n in symusic.Score(str(out / "one_column.mid")).tracks[0].notes] == [(0, 120, 40)]
    assert np.array_equal(read_midi(out / "Second.mid")[0], roll_with((67, 2, 3), width=5))


def test_img2midi_threshold_reads_soft_images(tmp_path, capsys):
    pixels = np.zeros((N_PITCHES, 5), dtype=np.uint8)
    pixels[39] = [100, 127, 128, 200, 255]
    Image.fromarray(pixels).save(tmp_path / "soft.png")
    deep = pixels.astype(np.uint16) * 257
    Image.fromarray(deep).save(tmp_path / "deep.png")

    def notes(name: str) -> list[tuple[int, int]]:
        return [(n.time, n.duration) for n in symusic.Score(str(tmp_path / "out" / name)).tracks[0].notes]

    assert run(capsys, "img2midi", str(tmp_path / "soft.png"), str(tmp_path / "deep.png"), "-o", str(tmp_path / "out"))[0] == 0
    assert notes("soft.mid") == notes("deep.mid") == [(240, 360)]  # columns 2..4
    assert run(capsys, "img2midi", str(tmp_path / "soft.png"), str(tmp_path / "deep.png"), "-o", str(tmp_path / "out"), "--threshold", "200")[0] == 0
    assert notes("soft.mid") == notes("deep.mid") == [(360, 240)]  # columns 3..4


def test_img2midi_skips_images_of_another_height(tmp_path, capsys):
    write_png(roll_with((60, 0, 2)), tmp_path / "good.png")
    Image.fromarray(np.zeros((88, 300), dtype=np.uint8)).save(tmp_path / "short.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    code, stdout, stderr = run(capsys, "img2midi", str(tmp_path), "-o", str(tmp_path / "out"))
    assert code == 0 and names(tmp_path / "out") == ["good.mid"]
    lines = stderr.strip().splitlines()
    assert lines[1] == f"skipped {tmp_path / 'short.png'}: image is 88 pixels high, a roll must be 106 (one row per pitch 21..126)"
    assert lines[0].startswith(f"skipped {tmp_path / 'broken.png'}: not a readable PNG image")
    assert "1 files converted, 2 bad" in stdout
    code, _, stderr = run(capsys, "img2midi", str(tmp_path / "short.png"), "-o", str(tmp_path / "out2"))
    assert code == 2 and stderr.strip().endswith("error: none of the 1 inputs could be converted (reasons above)")


def test_img2midi_rejects_bad_velocity(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["img2midi", str(tmp_path), "-o", str(tmp_path), "--velocity", "128"])
    assert "--velocity: must be 1..127, got 128" in capsys.readouterr().err


def check_midi2img_then_img2midi(tmp_path, capsys, source: Path) -> None:
    assert run(capsys, "midi2img", str(source), "-o", str(tmp_path / "img"))[0] == 0
    assert run(capsys, "img2midi", str(tmp_path / "img"), "-o", str(tmp_path / "mid"))[0] == 0
    roll, _ = read_midi(source)
    for png in sorted((tmp_path / "img").glob("*.png")):
        k = int(png.stem.rsplit("_", 1)[1])
        back, _ = read_midi(tmp_path / "mid" / f"{png.stem}.mid")
        expected = roll[:, 300 * k : 300 * (k + 1)]
        assert np.array_equal(back, expected[:, : back.shape[1]]) and not expected[:, back.shape[1] :].any()


def test_midi2img_then_img2midi_gives_back_the_windows(tmp_path, capsys):
    rng = np.random.default_rng(3)
    notes = [(int(c), int(n), int(p)) for c, n, p in zip(rng.integers(0, 1000, 300), rng.integers(0, 12, 300), rng.integers(21, 127, 300))]
    check_midi2img_then_img2midi(tmp_path, capsys, write_piece(tmp_path / "random.mid", notes))


def test_midi2img_then_img2midi_gives_back_real_windows(tmp_path, capsys, pop909_midi):
    check_midi2img_then_img2midi(tmp_path, capsys, pop909_midi / "003.mid")


# --------------------------------------------------------------------------- plot


def test_plot_draws_a_roll_png_and_a_midi_file(tmp_path, capsys):
    write_png(roll_with((60, 0, 16), (72, 20, 8)), tmp_path / "roll.png")
    song = write_piece(tmp_path / "song.mid", [(0, 8, 48), (900, 8, 84)])
    code, stdout, _ = run(capsys, "plot", str(tmp_path / "roll.png"), "-o", str(tmp_path / "roll_picture.png"), "--title", "A test")
    assert code == 0 and stdout.strip() == f"plot: {tmp_path / 'roll.png'} (300 columns) drawn to {tmp_path / 'roll_picture.png'}"
    code, stdout, _ = run(capsys, "plot", str(song), "-o", str(tmp_path / "song.svg"))
    assert code == 0 and "(908 columns)" in stdout
    with Image.open(tmp_path / "roll_picture.png") as picture:
        assert picture.format == "PNG" and picture.size[0] > 600 and picture.size[1] > 400
        pixels = np.asarray(picture.convert("L"))
    assert (pixels < 50).mean() > 0.001  # notes and text are drawn in black
    assert (tmp_path / "song.svg").read_text().lstrip().startswith("<?xml")


def test_plot_errors(tmp_path, capsys):
    write_png(roll_with((60, 0, 16)), tmp_path / "roll.png")
    code, _, stderr = run(capsys, "plot", str(tmp_path / "roll.png"), "-o", str(tmp_path / "picture.xyz"))
    assert code == 2 and "picture.xyz: unknown picture format '.xyz'" in stderr
    write_piece(tmp_path / "empty.mid", [])
    code, _, stderr = run(capsys, "plot", str(tmp_path / "empty.mid"), "-o", str(tmp_path / "p.png"))
    assert code == 2 and stderr.strip() == f"pianogan plot: error: {tmp_path / 'empty.mid'}: no notes in the pitch range 21..126 to draw"
    assert not (tmp_path / "p.png").exists()


# --------------------------------------------------------------------------- start-up cost

NO_HEAVY_IMPORTS = r"""
import contextlib, io, json, sys
from pianogan.cli import main
steps = json.loads(sys.argv[1])
report = []
for argv in steps:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exit:
            code = exit.code
    heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
    report.append([argv, code, heavy])
print(json.dumps(report))
"""


def test_help_and_conversions_do_not_import_tensorflow_or_keras(tmp_path):
    song = write_piece(tmp_path / "song.mid", [(0, 4, 60)])
    steps = [["--help"]] + [[name, "--help"] for name in ("midi2img", "img2midi", "plot", "prepare")]
    steps += [["midi2img", str(song), "-o", str(tmp_path / "img")], ["img2midi", str(tmp_path / "img"), "-o", str(tmp_path / "mid")]]
    result = subprocess.run([sys.executable, "-c", NO_HEAVY_IMPORTS, json.dumps(steps)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [argv for argv, _, _ in report] == steps
    assert [code for _, code, _ in report] == [0] * len(steps)
    assert [heavy for _, _, heavy in report] == [[]] * len(steps)
    assert (tmp_path / "mid" / "song_0.mid").is_file()
