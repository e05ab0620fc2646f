"""Dataset preparation: sources, splits, bad files, the dataset files and the CLI."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import symusic

from pianogan.cli import main
from pianogan.data import datasets
from pianogan.data.datasets import dataset_fingerprint, list_splits, load_split, pop909_splits, prepare
from pianogan.errors import OptionError, PianoganError
from pianogan.io.midi import midi_to_windows, read_midi, roll_notes
from pianogan.io.png import read_png, write_png
from pianogan.music.keys import estimate_keys, key_name

TPQ = 384  # MAESTRO's ticks per quarter; all its files are at 120 BPM


def make_midi(path: Path, notes: list[tuple[int, int, int]], pedal: list[tuple[int, int]] = (), drums: int = 0) -> Path:
    """A MAESTRO-shaped MIDI file: 384 tpq, 120 BPM, notes as (quarter*4 column, columns, pitch)."""
    score = symusic.Score(TPQ)
    score.tempos.append(symusic.Tempo(0, qpm=120))
    track = symusic.Track("Piano", 0, False)
    for column, length, pitch in notes:
        track.notes.append(symusic.Note(column * TPQ // 4, length * TPQ // 4, pitch, 80))
    for tick, value in pedal:
        track.controls.append(symusic.ControlChange(tick, 64, value))
    score.tracks.append(track)
    if drums:
        kit = symusic.Track("Drums", 0, True)
        for i in range(drums):
            kit.notes.append(symusic.Note(i * TPQ, TPQ, 36, 100))
        score.tracks.append(kit)
    path.parent.mkdir(parents=True, exist_ok=True)
    score.dump_midi(str(path))
    return path


# Three performances: windows 0 and 2 (window 1 silent); one window; two windows.
PIECES = {
    "2004/first.midi": [(0, 4, 60), (2, 8, 64), (640, 4, 72)],
    "2006/second.midi": [(10, 20, 21), (11, 3, 108), (12, 1, 126), (13, 1, 127)],
    "2008/third.MIDI": [(299, 2, 48), (450, 16, 50)],
}
META = {
    "2004/first.midi": ("Johann Sebastian Bach", "Prelude in C", "train", 2004),
    "2006/second.midi": ("Frédéric Chopin", 'Ballade No. 1, "Op. 23"', "validation", 2006),
    "2008/third.MIDI": ("Claude Debussy", "Clair de Lune", "test", 2008),
}


def expected_windows(path: Path, columns: int = 300, pedal: bool = False, align: bool = False) -> list[tuple[int, np.ndarray]]:
    return midi_to_windows(path, columns, pedal, align).windows


def maestro_tree(root: Path, metadata: str) -> Path:
    """A MAESTRO-like root with its metadata as CSV, v2 JSON (records) or v3 JSON (columns)."""
    for name, notes in PIECES.items():
        make_midi(root / name, notes)
    records = [
        {
            "canonical_composer": c,
            "canonical_title": t,
            "split": s,
            "year": y,
            "midi_filename": n,
            "audio_filename": n.rsplit(".", 1)[0] + ".wav",
            "duration": 40.5,
        }
        for n, (c, t, s, y) in META.items()
    ]
    if metadata == "csv":
        with open(root / "maestro-v2.0.0.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
    elif metadata == "json-v2":
        (root / "maestro-v2.0.0.json").write_text(json.dumps(records), encoding="utf-8")
    else:
        columns = {key: {str(i): r[key] for i, r in enumerate(records)} for key in records[0]}
        (root / "maestro-v3.0.0.json").write_text(json.dumps(columns), encoding="utf-8")
    return root


def read_manifest(out: Path) -> list[dict]:
    with open(out / "manifest.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def report_of(out: Path) -> dict:
    return json.loads((out / "prepare_report.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("metadata", ["csv", "json-v2", "json-v3"])
def test_maestro_root_gives_splits_metadata_and_exact_windows(tmp_path, metadata):
    root = maestro_tree(tmp_path / "maestro", metadata)
    report = prepare(root, tmp_path / "out", jobs=1, progress=False)
    rows = read_manifest(tmp_path / "out")
    expected_rows = []
    for name in sorted(PIECES):
        composer, title, split, year = META[name]
        for index, (k, window) in enumerate(expected_windows(root / name)):
            # Too few notes to find a grid in: the pieces stay as they are, windows every 300 columns.
            key = key_name(estimate_keys(window))
            expected_rows.append(
                {
                    "split": split,
                    "index": str(index),
                    "file": name,
                    "k": str(k),
                    "start": str(300 * k),
                    "shift_ticks": "0",
                    "key": key,
                    "composer": composer,
                    "title": title,
                    "year": str(year),
                }
            )
    assert rows == expected_rows
    assert [(r["file"], r["k"]) for r in rows] == [
        ("2004/first.midi", "0"),
        ("2004/first.midi", "2"),
        ("2006/second.midi", "0"),
        ("2008/third.MIDI", "0"),
        ("2008/third.MIDI", "1"),
    ]
    assert list_splits(tmp_path / "out") == ["train", "validation", "test"]
    for name, (_, _, split, _) in META.items():
        expected = np.stack([w for _, w in expected_windows(root / name)])
        assert np.array_equal(load_split(tmp_path / "out", split), expected)
    assert report["source_kind"].startswith("MAESTRO (maestro-v")
    assert report["windows"] == {"train": 2, "validation": 1, "test": 2}
    assert report["silent_windows_skipped"] == 1
    assert report["notes"] == 8 and report["notes_dropped_out_of_range"] == 1
    assert (report["files"], report["files_converted"], report["failed"]) == (3, 3, [])


def test_maestro_partial_download_is_reported_and_splits_option_refused(tmp_path):
    root = maestro_tree(tmp_path / "maestro", "csv")
    (root / "2006" / "second.midi").unlink()
    report = prepare(root, tmp_path / "out", jobs=1, progress=False)
    assert report["failed"] == [{"file": "2006/second.midi", "split": "validation", "reason": "no such file"}]
    assert report["files"] == 3 and report["files_converted"] == 2
    assert "validation" not in list_splits(tmp_path / "out")
    with pytest.raises(OptionError, match=r"^splits: .*MAESTRO root.*leave splits out$"):
        prepare(root, tmp_path / "out2", splits="pop909", progress=False)


def test_maestro_metadata_without_needed_column_is_one_line_error(tmp_path):
    root = tmp_path / "maestro"
    make_midi(root / "2004" / "a.midi", [(0, 4, 60)])
    (root / "maestro-v2.0.0.csv").write_text("canonical_composer,split,year,midi_filename\nX,train,2004,2004/a.midi\n")
    with pytest.raises(PianoganError, match=r"maestro-v2.0.0.csv: record 1 lacks canonical_title$"):
        prepare(root, tmp_path / "out", progress=False)


def test_midi_folder_without_splits_is_all_train_and_recursive(tmp_path):
    source = tmp_path / "src"
    make_midi(source / "b.mid", [(0, 4, 60)])
    make_midi(source / "deep" / "er" / "a.MID", [(5, 4, 62)])
    (source / "notes.txt").write_text("not music")
    report = prepare(source, tmp_path / "out", jobs=1, progress=False)
    assert [(r["split"], r["file"]) for r in read_manifest(tmp_path / "out")] == [("train", "b.mid"), ("train", "deep/er/a.MID")]
    assert report["source_kind"] == "MIDI folder" and list_splits(tmp_path / "out") == ["train"]


def test_splits_csv_with_relative_paths_and_bare_names(tmp_path):
    source = tmp_path / "src"
    for name, column in [("x/one.mid", 0), ("y/one.mid", 1), ("two.mid", 2), ("x/three.midi", 3), ("x/unlisted.mid", 4)]:
        make_midi(source / name, [(column, 4, 60 + column)])
    table = tmp_path / "splits.csv"
    table.write_text("file,split\nx/one.mid,test\none.mid,validation\n.\\x\\three.midi,train\ntwo.mid,test\ngone.mid,train\n")
    report = prepare(source, tmp_path / "out", splits=table, jobs=1, progress=False)
    files = {r["file"]: r["split"] for r in read_manifest(tmp_path / "out")}
    # A path wins over a bare name; a bare name applies wherever that file is.
    assert files == {"x/one.mid": "test", "y/one.mid": "validation", "two.mid": "test", "x/three.midi": "train"}
    assert report["unlisted"] == ["x/unlisted.mid"]
    assert report["failed"] == [{"file": "gone.mid", "split": "train", "reason": "no such file"}]
    assert report["files"] == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,split\na.mid,train\n", r"first line must be the header 'file,split', got 'name,split'$"),
        ("a.mid,train\n", r"first line must be the header 'file,split'"),
        ("", r"first line must be the header 'file,split', got 'nothing'$"),
        ("file,split\na.mid,valid\n", r"line 2: unknown split 'valid' \(use train, validation, test\)$"),
        ("file,split\na.mid,train\na.mid,test\n", r"line 3: a.mid is already in split 'train'$"),
        ("file,split\n", r"no rows after the header$"),
        ("file,split\na.mid\n", r"line 2: expected 'file,split', got 'a.mid'$"),
    ],
)
def test_bad_splits_csv_is_one_line_error(tmp_path, text, message):
    make_midi(tmp_path / "src" / "a.mid", [(0, 4, 60)])
    table = tmp_path / "splits.csv"
    table.write_text(text)
    with pytest.raises(OptionError, match=message) as caught:
        prepare(tmp_path / "src", tmp_path / "out", splits=table, progress=False)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(f"splits: {table}") and caught.value.parameter == "splits"
    assert not (tmp_path / "out").exists()


def test_pop909_splits_rule(tmp_path):
    for name in ["001.mid", "005.mid", "010.mid", "015.mid", "100.mid", "909.mid", "versions/001-v1.mid", "sub/205.MID"]:
        make_midi(tmp_path / name, [(0, 4, 60)])
    assert pop909_splits(tmp_path) == {
        "001.mid": "train",
        "005.mid": "validation",
        "010.mid": "test",
        "015.mid": "validation",
        "100.mid": "test",
        "909.mid": "train",
        "sub/205.MID": "validation",
    }
    with pytest.raises(OptionError, match=r"^splits pop909: no POP909 song files \(NNN.mid\) under"):
        pop909_splits(tmp_path / "versions")


def test_png_folder_source_cuts_and_pads_windows(tmp_path):
    source = tmp_path / "pngs"
    rng = np.random.default_rng(7)
    wide = rng.random((106, 700)) < 0.05
    wide[:, 300:600] = False  # window 1 silent
    narrow = np.zeros((106, 100), dtype=bool)
    narrow[40, 10:20] = True
    write_png(wide, source / "wide.png")
    write_png(narrow, source / "sub" / "narrow.png")
    write_png(np.zeros((106, 300), dtype=bool), source / "black.png")
    from PIL import Image

    Image.fromarray(np.zeros((50, 300), dtype=np.uint8)).save(source / "tall.png")
    report = prepare(source, source / "out", png=True, jobs=1, progress=False)  # OUT inside SOURCE
    assert report["source_kind"] == "PNG folder"
    padded = np.zeros((106, 300), dtype=bool)
    padded[:, :100] = narrow
    expected = np.stack([padded, wide[:, :300], np.pad(wide[:, 600:], ((0, 0), (0, 200)))])
    assert np.array_equal(load_split(source / "out"), expected)
    assert [(r["file"], r["k"]) for r in read_manifest(source / "out")] == [("sub/narrow.png", "0"), ("wide.png", "0"), ("wide.png", "2")]
    assert report["notes"] == len(roll_notes(wide)[0]) + 1
    assert {f["file"]: f["reason"] for f in report["failed"]} == {
        "black.png": "no notes",
        "tall.png": "image is 50 pixels high, a roll must be 106 (one row per pitch 21..126)",
    }
    # Running again does not pick up its own PNGs from OUT/png inside SOURCE.
    again = prepare(source, source / "out", jobs=1, progress=False)
    assert again["files"] == 4 and again["windows_written"] == 3


def test_png_option_writes_each_window_in_the_seed_layout(tmp_path):
    root = maestro_tree(tmp_path / "maestro", "csv")
    out = tmp_path / "out"
    (out / "png" / "train").mkdir(parents=True)
    (out / "png" / "train" / "photo_9.png").write_bytes(b"someone else's")
    prepare(root, out, png=True, jobs=1, progress=False)
    written = sorted(p.relative_to(out / "png").as_posix() for p in (out / "png").rglob("*.png"))
    assert written == [
        "test/2008__third_0.png",
        "test/2008__third_1.png",
        "train/2004__first_0.png",
        "train/2004__first_2.png",
        "train/photo_9.png",
        "validation/2006__second_0.png",
    ]
    for k, window in expected_windows(root / "2004/first.midi"):
        assert np.array_equal(read_png(out / "png" / "train" / f"2004__first_{k}.png"), window)
    # A re-run removes the images of its earlier run that it does not make again, never others'.
    make_midi(root / "2004" / "first.midi", [(0, 4, 60)])
    prepare(root, out, png=True, jobs=1, progress=False)
    assert sorted(p.name for p in (out / "png" / "train").iterdir() if not p.name.startswith(".")) == ["2004__first_0.png", "photo_9.png"]
    assert (out / "png" / "train" / "photo_9.png").read_bytes() == b"someone else's"


def test_every_kind_of_bad_file_is_named_once_and_the_rest_converted(tmp_path):
    source = tmp_path / "src"
    good = make_midi(source / "good.mid", [(0, 4, 60), (4, 4, 64)], drums=3)
    data = good.read_bytes()
    (source / "empty.mid").write_bytes(b"")
    (source / "truncated.mid").write_bytes(data[: len(data) // 2])
    (source / "random.midi").write_bytes(np.random.default_rng(0).bytes(2000))
    (source / "text.mid").write_text("this is not a MIDI file\n")
    make_midi(source / "silent.mid", [])
    make_midi(source / "too_high.mid", [(0, 4, 127), (0, 4, 10)])
    make_midi(source / "also_good.mid", [(900, 4, 50)])
    make_midi(source / "corrupt_time.mid", [(0, 4, 60), (4 << 18, 4, 60)])
    report = prepare(source, tmp_path / "out", jobs=2, progress=False)
    reasons = {f["file"]: f["reason"] for f in report["failed"]}
    assert sorted(reasons) == ["corrupt_time.mid", "empty.mid", "random.midi", "silent.mid", "text.mid", "too_high.mid", "truncated.mid"]
    assert all(
        reasons[n].startswith("not a readable MIDI file (") and "\n" not in reasons[n] for n in ("empty.mid", "random.midi", "text.mid", "truncated.mid")
    )
    assert reasons["corrupt_time.mid"].startswith("a note ends at column 1048580 ")
    assert reasons["silent.mid"] == "no notes"
    assert reasons["too_high.mid"] == "no notes (2 out of range 21..126, 0 on drums)"
    named = [c["file"] for c in report["converted"]] + list(reasons) + report["unlisted"]
    assert sorted(named) == sorted(p.name for p in source.iterdir())
    assert (report["files"], report["files_converted"], report["files_failed"]) == (9, 2, 7)
    assert report["notes_dropped_drums"] == 3 and report["notes_dropped_out_of_range"] == 2
    expected = [w for name in ("also_good.mid", "good.mid") for _, w in expected_windows(source / name)]
    assert np.array_equal(load_split(tmp_path / "out"), np.stack(expected))
    assert [r["k"] for r in read_manifest(tmp_path / "out")] == ["3", "0"]


def test_all_bad_exits_2_with_one_line_and_keeps_the_report(tmp_path, capsys):
    source = tmp_path / "src"
    source.mkdir()
    (source / "a.mid").write_bytes(b"")
    (source / "b.mid").write_text("hello")
    assert main(["prepare", str(source), "-o", str(tmp_path / "out"), "--jobs", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"pianogan prepare: error: {source}: no file converted (2 failed, 0 without a split; see ")
    assert "e.g. a.mid: not a readable MIDI file" in err
    assert report_of(tmp_path / "out")["files_failed"] == 2
    assert list_splits(tmp_path / "out") == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, r"no such folder$"),
        (lambda p: p.mkdir(), r"no MIDI files \(.mid, .midi\) or roll PNGs found$"),
        (lambda p: p.write_text("x"), r"SOURCE must be a folder"),
    ],
)
def test_bad_source_is_one_line_cli_error(tmp_path, capsys, make, message):
    make(tmp_path / "src")
    assert main(["prepare", str(tmp_path / "src"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"pianogan prepare: error: {tmp_path / 'src'}: ")
    assert re.search(message, err.strip())


def test_cli_prepare_with_options_and_summary(tmp_path, capsys):
    source = tmp_path / "src"
    notes = [(0, 1, 60), (40, 2, 62)]
    pedal = [(0, 127), (30 * TPQ // 4, 0)]  # pedal down from 0 to column 30
    make_midi(source / "a.mid", notes, pedal=pedal)
    out = tmp_path / "out"
    assert main(["prepare", str(source), "-o", str(out), "--columns", "20", "--pedal", "--jobs", "1"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("prepared 1 of 1 files (MIDI folder) in ")
    assert "windows: train 3, validation 0, test 0 (0 silent windows skipped)" in printed
    rolls = load_split(out)
    assert rolls.shape == (3, 106, 20) and rolls.sum() == 32
    assert np.flatnonzero(rolls[0, 60 - 21]).tolist() == list(range(20))  # held by the pedal
    assert np.flatnonzero(rolls[1, 60 - 21]).tolist() == list(range(10))
    assert np.flatnonzero(rolls[2, 62 - 21]).tolist() == [0, 1]
    assert [r["k"] for r in read_manifest(out)] == ["0", "1", "2"]
    assert report_of(out)["pedal"] is True
    with pytest.raises(SystemExit):
        main(["prepare", str(source)])  # -o is required
    assert main(["prepare", str(source), "-o", str(out), "--jobs", "0"]) == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err
    assert main(["prepare", str(source), "-o", str(out), "--columns", "0"]) == 2
    assert "--columns must be 1..262144 columns, got 0" in capsys.readouterr().err


def test_jobs_do_not_change_the_dataset_and_fingerprint_is_stable(tmp_path):
    root = maestro_tree(tmp_path / "maestro", "csv")
    prepare(root, tmp_path / "one", jobs=1, progress=False)
    prepare(root, tmp_path / "two", jobs=2, progress=False)
    assert (tmp_path / "one" / "manifest.csv").read_bytes() == (tmp_path / "two" / "manifest.csv").read_bytes()
    fingerprint = dataset_fingerprint(tmp_path / "one")
    assert len(fingerprint) == 64 and fingerprint == dataset_fingerprint(tmp_path / "two")
    make_midi(root / "2004" / "first.midi", [(0, 4, 61)])
    prepare(root, tmp_path / "two", jobs=1, progress=False)
    assert dataset_fingerprint(tmp_path / "two") != fingerprint


def test_load_split_errors_are_one_line(tmp_path):
    root = maestro_tree(tmp_path / "maestro", "csv")
    (root / "2006" / "second.midi").unlink()
    out = tmp_path / "out"
    prepare(root, out, jobs=1, progress=False)
    with pytest.raises(PianoganError, match=r"nowhere: no such dataset folder"):
        load_split(tmp_path / "nowhere")
    with pytest.raises(PianoganError, match=r"out: no 'validation' split \(found: train, test\)$"):
        load_split(out, "validation")
    good = (out / "train.npz").read_bytes()
    for damaged in [good[: len(good) // 2], b"", np.random.default_rng(1).bytes(500), good[:-30] + bytes(30)]:
        (out / "train.npz").write_bytes(damaged)
        with pytest.raises(PianoganError, match=r"train.npz: not a readable pianogan dataset file \(") as caught:
            load_split(out)
        assert "\n" not in str(caught.value)
    np.savez(out / "train.npz", rolls=np.zeros((2, 50, 38), dtype=np.uint8), columns=np.int64(300))
    with pytest.raises(PianoganError, match=r"train.npz: not a pianogan dataset file \(rolls uint8 \(2, 50, 38\), columns 300\)$"):
        load_split(out)
    with pytest.raises(PianoganError, match=r"train.npz: not a pianogan dataset file"):
        dataset_fingerprint(out)


def test_failed_write_keeps_the_previous_dataset_file(tmp_path, monkeypatch):
    root = maestro_tree(tmp_path / "maestro", "csv")
    out = tmp_path / "out"
    prepare(root, out, jobs=1, progress=False)
    before = load_split(out)
    make_midi(root / "2004" / "first.midi", [(0, 300, 61)])

    def killed(handle, **arrays):
        handle.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # as if the process were stopped mid-write

    monkeypatch.setattr(datasets.np, "savez_compressed", killed)
    with pytest.raises(KeyboardInterrupt):
        prepare(root, out, jobs=1, progress=False)
    assert np.array_equal(load_split(out), before)
    assert sorted(p.name for p in out.iterdir()) == [".pianogan-outputs.json", "manifest.csv", "prepare_report.json", "test.npz", "train.npz", "validation.npz"]


def test_a_split_missing_from_a_new_run_is_removed(tmp_path):
    source = tmp_path / "src"
    make_midi(source / "010.mid", [(0, 4, 60)])
    make_midi(source / "001.mid", [(0, 4, 62)])
    prepare(source, tmp_path / "out", splits="pop909", jobs=1, progress=False)
    assert list_splits(tmp_path / "out") == ["train", "test"]
    (source / "010.mid").unlink()
    prepare(source, tmp_path / "out", splits="pop909", jobs=1, progress=False)
    assert list_splits(tmp_path / "out") == ["train"]
    assert len(read_manifest(tmp_path / "out")) == 1


def test_real_pop909_files(tmp_path, capsys, pop909_midi):
    source = tmp_path / "pop909"
    source.mkdir()
    for number in ("001", "005", "010", "123"):
        shutil.copy(pop909_midi / f"{number}.mid", source)
    assert main(["prepare", str(source), "-o", str(tmp_path / "out"), "--splits", "pop909", "--jobs", "2"]) == 0
    assert "prepared 4 of 4 files" in capsys.readouterr().out
    splits = {"train": ["001", "123"], "validation": ["005"], "test": ["010"]}
    for split, numbers in splits.items():
        expected = [w for n in numbers for _, w in expected_windows(source / f"{n}.mid", align=True)]
        assert np.array_equal(load_split(tmp_path / "out", split), np.stack(expected))
    report = report_of(tmp_path / "out")
    # Song 001's grid sits 40 ticks (a third of a column) after tick 0 and its beats on that grid.
    assert report["align"] and report["files_aligned"] == 4 and report["files_without_steady_grid"] == []
    first = next(c["alignment"] for c in report["converted"] if c["file"] == "001.mid")
    assert first["grid_offset"] == pytest.approx(1 / 3, abs=0.01) and first["on_grid"] > 0.9
    rows = [r for r in read_manifest(tmp_path / "out") if r["file"] == "001.mid"]
    assert {r["shift_ticks"] for r in rows} == {str(first["shift_ticks"])} and [int(r["start"]) for r in rows] == [288 * int(r["k"]) for r in rows]
    # Aligned, nearly every window's onsets peak on the beat (column phase 0 of 4).
    rolls = np.concatenate([load_split(tmp_path / "out", split) for split in splits])
    onsets = rolls & ~np.concatenate([np.zeros_like(rolls[..., :1]), rolls[..., :-1]], axis=-1)
    on_the_beat = onsets.sum(axis=1).reshape(len(onsets), -1, 4).sum(axis=1).argmax(axis=1) == 0
    assert on_the_beat.mean() >= 0.9, on_the_beat
    assert report["notes"] == sum(read_midi(source / f"{n}.mid")[1].notes for n in ("001", "005", "010", "123"))
    assert report["failed"] == [] and report["windows_written"] == sum(report["windows"].values())
