"""``pianogan evaluate`` end to end: inputs, report files, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_compare import real_looking_rolls, transposed

from pianogan import evaluate, metrics
from pianogan.cli import main
from pianogan.datasets import save_split
from pianogan.midi import write_midi
from pianogan.roll import write_png

TRAIN_SONGS = 30  # 4 windows per song


def make_dataset(root: Path, train: np.ndarray, test: np.ndarray, manifest: bool = True) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for split, rolls in (("train", train), ("test", test)):
        save_split(root / f"{split}.npz", np.packbits(rolls, axis=-1), rolls.shape[2])
        rows += [(split, i, f"{split}/song{i // 4:03d}.mid", i % 4, "", "", "") for i in range(len(rolls))]
    if manifest:
        with open(root / "manifest.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(("split", "index", "file", "k", "composer", "title", "year"))
            writer.writerows(rows)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    train = real_looking_rolls(4 * TRAIN_SONGS, seed=20)
    test = real_looking_rolls(40, seed=21)
    return make_dataset(tmp_path_factory.mktemp("data") / "dataset", train, test), train, test


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(["evaluate", *[str(a) for a in args]])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_load_real_gives_windows_and_their_songs(data, tmp_path):
    dataset, train, _ = data
    rolls, songs = evaluate.load_real(dataset, "train")
    np.testing.assert_array_equal(rolls, train)
    np.testing.assert_array_equal(songs, np.arange(len(train)) // 4)
    bare = make_dataset(tmp_path / "bare", train[:8], train[8:16], manifest=False)
    assert evaluate.load_real(bare, "test")[1] is None


def test_a_png_folder_end_to_end(data, tmp_path, capsys):
    dataset, train, test = data
    folder = tmp_path / "generated"
    pieces = real_looking_rolls(24, seed=30)
    pieces[9] = transposed(train[5], 3)  # a transposed copy of a training window
    for i, roll in enumerate(pieces):
        write_png(roll, folder / f"{i:03d}.png")
    write_png(np.concatenate(real_looking_rolls(2, seed=31), axis=1), folder / "long" / "wide.png")  # 2 windows
    write_midi(real_looking_rolls(1, seed=32)[0], folder / "zz.mid")  # 1 window
    Image.new("L", (300, 50)).save(folder / "bad.png")

    code, out, err = run_cli(["--generated", folder, "--real", dataset, "--n", 100, "--copy-sample", 50, "-o", tmp_path / "out"], capsys)
    assert code == 0
    assert "skipped" in err and "bad.png: image is 50 pixels high" in err
    assert "two-sample classifier accuracy" in out

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    print(report["seconds"])
    assert report["counts"] == {"generated": 27, "real": 40, "train": 120, "floor_train_sample": 40}
    skipped = [line for line in err.splitlines() if line.startswith("pianogan evaluate: skipped ")]
    assert report["source"]["skipped"] == [line.removeprefix("pianogan evaluate: skipped ") for line in skipped]
    assert len(skipped) == 1
    assert set(report["metrics"]) == set(metrics.FEATURE_NAMES)
    row = report["metrics"]["scale_consistency"]
    assert row["real_mean"] == 1.0 and row["floor"]["generated_mean"] == 1.0  # one key per roll
    copying = report["copying"]["generated_vs_train"]
    assert copying["near_copies"] == 1 and copying["max"] == 1.0
    # files are read in sorted order: 009.png, the copy, gives window 9
    assert copying["closest"][0] == {"piece": 9, "training_window": 5, "transposition": -3, "iou": 1.0}
    assert report["copying"]["floor_real_vs_train"]["near_copies"] == 0
    for test_name in ("generated_vs_real", "floor_train_vs_real"):
        result = report["two_sample_test"][test_name]
        assert 0.0 <= result["accuracy"] <= 1.0 and result["folds"] == 5
    assert report["two_sample_test"]["floor_train_vs_real"]["real_groups"] == 10  # 40 test windows, 4 per song

    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| metric | real | generated | train (floor) | overlap | floor | KL | floor |" in markdown
    assert sum(line.startswith(f"| {name} |") for name in metrics.FEATURE_NAMES for line in markdown.splitlines()) == len(metrics.FEATURE_NAMES)
    assert "| near copies (IoU > 0.8, 8+ notes) | 1 (0.037) | 0 (0.000) |" in markdown
    for picture in ("histograms.png", "rolls.png"):
        with Image.open(tmp_path / "out" / picture) as image:
            assert image.format == "PNG" and image.width > 500


def test_n_caps_generated_and_real_windows(data, tmp_path, capsys):
    dataset, _, _ = data
    folder = tmp_path / "generated"
    for i, roll in enumerate(real_looking_rolls(15, seed=40)):
        write_png(roll, folder / f"{i}.png")
    code, _, _ = run_cli(["--generated", folder, "--real", dataset, "--n", 12, "-o", tmp_path / "out"], capsys)
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["generated"] == 12 and report["counts"]["real"] == 12


def _tiny_generator(path: Path) -> None:
    from pianogan.modelio import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((14,)),
            keras.layers.Dense(106 * 300, activation="sigmoid", kernel_initializer=keras.initializers.RandomNormal(stddev=0.5), bias_initializer=keras.initializers.Constant(-3.5)),
            keras.layers.Reshape((106, 300, 1)),
        ]
    )
    model.save(path)


def test_a_keras_model_end_to_end(data, tmp_path, capsys):
    dataset, _, _ = data
    model = tmp_path / "generator.keras"
    _tiny_generator(model)
    rolls = evaluate.sample_model(model, 20, seed=3, progress=False)
    assert rolls.shape == (20, 106, 300) and rolls.dtype == bool
    assert 0.01 < rolls.mean() < 0.06
    np.testing.assert_array_equal(rolls, evaluate.sample_model(model, 20, seed=3, progress=False))
    code, _, _ = run_cli(["--model", model, "--real", dataset, "--n", 20, "--seed", 3, "-o", tmp_path / "out"], capsys)
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["generated"] == 20
    assert report["metrics"]["lit_share"]["generated_mean"] == pytest.approx(rolls.mean(axis=(1, 2)).mean())


def test_a_silent_generator_is_reported_not_a_crash(data, tmp_path):
    _, train, test = data
    silent = np.zeros((20, 106, 300), dtype=bool)
    result = evaluate.evaluate(silent, test, train, seed=0, progress=False)
    evaluate.write_outputs(result, silent, test, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    row = report["metrics"]["mean_note_length"]
    assert row["generated_mean"] is None and row["overlap"] is None and row["generated_undefined"] == 1.0
    assert report["metrics"]["empty_beat_rate"]["generated_mean"] == 1.0
    assert report["diversity"]["generated"] == 0.0
    assert report["copying"]["generated_vs_train"]["max"] == 0.0
    assert report["two_sample_test"]["generated_vs_real"]["accuracy"] == 1.0
    line = next(row for row in (tmp_path / "report.md").read_text().splitlines() if row.startswith("| mean_note_length |"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[2] == "n/a" and cells[4] == "n/a" and cells[1] != "n/a"  # generated mean and overlap undefined


@pytest.mark.parametrize("case", ["empty folder", "wrong image size", "model missing", "not a keras model", "dataset missing", "split missing"])
def test_bad_inputs_are_one_line_errors(case, data, tmp_path, capsys):
    dataset, _, _ = data
    folder = tmp_path / "generated"
    folder.mkdir()
    args = ["--generated", folder, "--real", dataset]
    named = folder
    if case == "wrong image size":
        named = folder / "small.png"
        Image.new("L", (300, 88)).save(named)
    elif case == "model missing":
        named = tmp_path / "nothing.keras"
        args = ["--model", named, "--real", dataset]
    elif case == "not a keras model":
        named = tmp_path / "notes.keras"
        named.write_text("not a model")
        args = ["--model", named, "--real", dataset]
    elif case == "dataset missing":
        write_png(real_looking_rolls(1)[0], folder / "a.png")
        named = tmp_path / "no-dataset"
        args = ["--generated", folder, "--real", named]
    elif case == "split missing":
        write_png(real_looking_rolls(1)[0], folder / "a.png")
        args += ["--split", "validation"]
        named = "'validation'"
    code, out, err = run_cli([*args, "-o", tmp_path / "out"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pianogan evaluate: error: ")
    assert str(named) in lines[0]
    assert not (tmp_path / "out").exists()


def test_bad_options_are_one_line_errors(data, tmp_path, capsys):
    dataset, _, _ = data
    for option, value in (("--n", 3), ("--threshold", 1.5), ("--copy-sample", -1)):
        code, _, err = run_cli(["--generated", tmp_path, "--real", dataset, option, value, "-o", tmp_path / "out"], capsys)
        assert code == 2 and err.count("\n") == 1 and option in err
