"""``pianogan evaluate`` end to end: inputs, report files, and one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_compare import real_looking_rolls, transposed

from pianogan.cli import main
from pianogan.compose.piece import Piece, move_to_key
from pianogan.data.datasets import save_split
from pianogan.evaluation import compare, evaluate, metrics
from pianogan.io.midi import write_midi
from pianogan.io.png import write_png
from pianogan.models import modelio
from pianogan.roll import music_span

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


@pytest.mark.slow
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
    assert "classifier accuracy" in out and "training-like real windows" in out

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"] == {"generated": 27, "real": 40, "train": 120}
    skipped = [line for line in err.splitlines() if line.startswith("pianogan evaluate: skipped ")]
    assert report["source"]["skipped"] == [line.removeprefix("pianogan evaluate: skipped ") for line in skipped]
    assert len(skipped) == 1
    assert list(report["references"]) == ["all", "training_like"]
    assert report["references"]["all"]["counts"] == {"real": 40, "train": 120, "floor_train_sample": 40}
    like = report["references"]["training_like"]["counts"]
    assert like == {"real": int((music_span(test) >= 0.9).sum()), "train": int((music_span(train) >= 0.9).sum()), "floor_train_sample": like["real"]}
    for reference in report["references"].values():
        assert set(reference["metrics"]) == set(metrics.FEATURE_NAMES)
        row = reference["metrics"]["scale_consistency"]
        assert row["real_mean"] == 1.0 and row["floor"]["generated_mean"] == 1.0  # one key per roll
        for test_name in ("generated_vs_real", "floor_train_vs_real"):
            result = reference["two_sample_test"][test_name]
            assert 0.0 <= result["accuracy"] <= 1.0 and result["folds"] == 5
            assert set(reference["feature_groups"]) == set(compare.FEATURE_GROUPS)
            assert all(0.0 <= g[test_name]["accuracy"] <= 1.0 for g in reference["feature_groups"].values())
            prdc = reference["precision_recall_density_coverage"][test_name]
            assert all(0.0 <= prdc[f] <= 1.0 for f in ("precision", "recall", "coverage")) and prdc["density"] >= 0.0
        assert 0.0 <= reference["mean_overlap"]["generated_vs_real"] <= 1.0
    assert report["references"]["all"]["two_sample_test"]["floor_train_vs_real"]["real_groups"] == 10  # 40 test windows, 4 per song
    assert report["feature_groups"] == {name: list(features) for name, features in compare.FEATURE_GROUPS.items()}
    copying = report["copying"]["generated_vs_train"]
    assert copying["near_copies"] == 1 and copying["max"] == 1.0
    # files are read in sorted order: 009.png, the copy, gives window 9
    assert copying["closest"][0] == {"piece": 9, "training_window": 5, "transposition": -3, "iou": 1.0}
    assert report["copying"]["floor_real_vs_train"]["near_copies"] == 0

    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| group | metric | generated | real | floor | overlap | floor | KL | floor |" in markdown
    cells = [[cell.strip() for cell in line.strip("|").split("|")] for line in markdown.splitlines() if line.startswith("|")]
    metric_rows = [row[1] for row in cells if len(row) == 9 and row[0] in compare.FEATURE_GROUPS]
    assert sorted(metric_rows) == sorted(2 * metrics.FEATURE_NAMES)  # every metric, once per reference
    assert sum(
        line.startswith(f"| {group} | {len(features)} |") for group, features in compare.FEATURE_GROUPS.items() for line in markdown.splitlines()
    ) == len(compare.FEATURE_GROUPS)
    assert "| near copies (IoU > 0.8, 8+ notes) | 1 (0.037) | 0 (0.000) |" in markdown
    assert "| classifier two-sample accuracy (0.5 = indistinguishable) |" in markdown
    ends_rows = [row for row in cells if row[0] in {label for _, label in evaluate.ENDS_ROWS}]
    assert len(ends_rows) == 4 and all(len(row) == 7 for row in ends_rows)  # generated, real, floor against each reference
    for picture in ("histograms.png", "rolls.png"):
        with Image.open(tmp_path / "out" / picture) as image:
            assert image.format == "PNG" and image.width > 500


@pytest.mark.slow
def test_the_training_like_reference_keeps_windows_with_music_across_them(data):
    _, train, test = data
    test, train = test.copy(), train.copy()
    test[:10, :, 150:] = False  # music across half the width: not training-like
    train[:30, :, :100] = False
    references = evaluate._references(test, train, np.arange(len(train)) // 4, min_span=0.9, seed=0)
    np.testing.assert_array_equal(references["all"].keep, np.ones(40, bool))
    np.testing.assert_array_equal(references["training_like"].keep, np.arange(40) >= 10)
    like = references["training_like"]
    assert like.train_windows == 90 and len(like.floor) == 30
    assert (music_span(like.floor) >= 0.9).all() and (like.floor_groups >= 30 // 4).all()  # training-like songs only
    result = evaluate.evaluate(real_looking_rolls(12, seed=33), test, train, seed=0, copy_sample=20, progress=False)
    counts = {key: ref["counts"] for key, ref in result.report["references"].items()}
    assert counts == {"all": {"real": 40, "train": 120, "floor_train_sample": 40}, "training_like": {"real": 30, "train": 90, "floor_train_sample": 30}}
    real_means = {key: ref["metrics"]["note_count"]["real_mean"] for key, ref in result.report["references"].items()}
    assert real_means == pytest.approx({"all": metrics.note_count(test).mean(), "training_like": metrics.note_count(test[10:]).mean()})


def test_a_cluster_piled_into_the_last_bar_is_reported_at_the_ends_only():
    rolls = np.zeros((4, 106, 300), dtype=bool)
    rolls[:, 40, :] = True  # one pitch held all through
    rolls[:, 50, 16:272:4] = True  # and a second, struck every beat between the ends
    rolls[2:, 60:69, 272:] = True  # half of them end on a cluster of nine pitches over the last 28 columns
    first, between, last = metrics.pitches_sounding_at_the_ends(rolls)[3]
    assert (first, between, last) == (1.0, 1.25, 10.0)
    figures = evaluate.ends(rolls)
    assert figures["first_bar_density"] == pytest.approx(1 / 1.25) and figures["first_bar_dense_share"] == 0.0
    assert figures["last_bar_density"] == pytest.approx((1 + 1 + 10 + 10) / 4 / 1.25) and figures["last_bar_dense_share"] == 0.5
    assert np.isnan(metrics.pitches_sounding_at_the_ends(rolls[0, :, :40])).all()  # no bars between the ends


def test_an_empty_training_like_reference_gives_undefined_figures(data):
    _, train, test = data
    result = evaluate.evaluate(real_looking_rolls(10, seed=34), test[:10], train[:20], seed=0, copy_sample=5, min_span=1.01, progress=False)
    nothing = result.report["references"]["training_like"]
    assert nothing["counts"] == {"real": 0, "train": 0, "floor_train_sample": 0}
    assert np.isnan(nothing["two_sample_test"]["generated_vs_real"]["accuracy"])
    assert np.isnan(nothing["precision_recall_density_coverage"]["generated_vs_real"]["precision"])
    assert np.isnan(nothing["metrics"]["note_count"]["overlap"]) and np.isnan(nothing["diversity"]["real"])
    assert np.isnan(nothing["ends"]["real"]["last_bar_density"]) and np.isnan(nothing["ends"]["real"]["last_bar_dense_share"])
    lines = evaluate.summary_lines(result.report)
    assert len(lines) == 5 and lines[2] == "features that give it away most (training-like): n/a"
    assert "| density and length | note_count | " in evaluate.report_markdown(evaluate._plain(result.report))


@pytest.mark.slow
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
    from pianogan.models.modelio import import_keras

    keras = import_keras()
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((14,)),
            keras.layers.Dense(
                106 * 300,
                activation="sigmoid",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.5),
                bias_initializer=keras.initializers.Constant(-3.5),
            ),
            keras.layers.Reshape((106, 300, 1)),
        ]
    )
    model.save(path)


@pytest.mark.slow
def test_a_keras_model_end_to_end(data, tmp_path, capsys):
    dataset, _, _ = data
    model = tmp_path / "generator.keras"
    _tiny_generator(model)
    rolls, decided, moved = evaluate.sample_model(model, 20, seed=3, progress=False)
    assert rolls.shape == (20, 106, 300) and rolls.dtype == bool and not moved  # a model without facts keeps the keys it writes
    assert 0.01 < rolls.mean() < 0.06
    np.testing.assert_array_equal(rolls, evaluate.sample_model(model, 20, seed=3, progress=False).rolls)
    assert set(decided) == {"pixels_between_0.3_and_0.7", "sounding_pixels_below_0.6"} and all(0 <= v <= 1 for v in decided.values())

    # A key-normalised model's windows are moved as generate moves its pieces: here every one to D major's notes.
    d_major = [0.0] * 24
    d_major[2] = 1.0
    modelio.write_facts(model, {"key_mode": "normalise", "key_distribution": d_major})
    in_d, _, moved = evaluate.sample_model(model, 20, seed=3, progress=False)
    assert moved and all(np.array_equal(a, move_to_key(Piece(b, np.zeros((1, 14))), 2).roll) for a, b in zip(in_d, rolls))
    code, _, _ = run_cli(["--model", model, "--real", dataset, "--n", 20, "--seed", 3, "-o", tmp_path / "out"], capsys)
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["counts"]["generated"] == 20 and report["decidedness"] == decided
    assert "each window moved to a key drawn from the training data's" in report["source"]["generated"]
    assert report["references"]["all"]["metrics"]["lit_share"]["generated_mean"] == pytest.approx(in_d.mean(axis=(1, 2)).mean())


def test_a_silent_generator_is_reported_not_a_crash(data, tmp_path):
    _, train, test = data
    silent = np.zeros((20, 106, 300), dtype=bool)
    result = evaluate.evaluate(silent, test, train, seed=0, progress=False)
    evaluate.write_outputs(result, silent, test, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    for reference in report["references"].values():
        row = reference["metrics"]["mean_note_length"]
        assert row["generated_mean"] is None and row["overlap"] is None and row["generated_undefined"] == 1.0
        assert reference["metrics"]["empty_beat_rate"]["generated_mean"] == 1.0
        assert reference["diversity"]["generated"] == 0.0
        assert reference["ends"]["generated"]["first_bar_density"] is None  # nothing between to compare with
        assert reference["two_sample_test"]["generated_vs_real"]["accuracy"] == 1.0
        assert reference["precision_recall_density_coverage"]["generated_vs_real"]["precision"] == 0.0
    assert report["copying"]["generated_vs_train"]["max"] == 0.0
    line = next(row for row in (tmp_path / "report.md").read_text().splitlines() if "| mean_note_length |" in row)
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[2] == "n/a" and cells[5] == "n/a" and cells[3] != "n/a"  # generated mean and overlap undefined
    assert len(evaluate.summary_lines(report)) == 5


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
    code, _, err = run_cli([*args, "-o", tmp_path / "out"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pianogan evaluate: error: ")
    assert str(named) in lines[0]
    assert not (tmp_path / "out").exists()


def test_bad_options_are_one_line_errors(data, tmp_path, capsys):
    dataset, _, _ = data
    for option, value in (("--n", 3), ("--threshold", 1.5), ("--copy-sample", -1), ("--min-span", 1.5)):
        code, _, err = run_cli(["--generated", tmp_path, "--real", dataset, option, value, "-o", tmp_path / "out"], capsys)
        assert code == 2 and err.count("\n") == 1 and option in err


@pytest.mark.parametrize("where", ["read-only", "full", "others-file"])
def test_an_output_that_cannot_be_written_fails_before_the_evaluation(where, data, tmp_path, capsys, monkeypatch, request):
    dataset, train, _ = data
    folder = tmp_path / "generated"
    for i, roll in enumerate(train[:12]):
        write_png(roll, folder / f"g{i}.png")
    out = tmp_path / "eval"
    if where == "read-only":
        out = request.getfixturevalue("read_only_folder") / "eval"
    if where == "full":
        disk = request.getfixturevalue("small_disk")
        disk.fill()
        out = disk.path / "eval"
    if where == "others-file":
        out.mkdir()
        (out / "report.md").write_text("my notes")
    monkeypatch.setattr(evaluate, "evaluate", lambda *args, **kwargs: pytest.fail("evaluated although the report could not be written"))
    code, _, err = run_cli(["--generated", folder, "--real", dataset, "--split", "train", "-o", out], capsys)
    assert code == 2 and err.count("\n") == 1 and err.startswith("pianogan evaluate: error: ")
    assert {"read-only": "Read-only file system", "full": "No space left on device", "others-file": "pianogan did not write it"}[where] in err


def test_decidedness_counts_pixels_near_the_threshold():
    counts = np.array([900, 40, 30, 10, 20])  # below 0.3, 0.3-0.5, 0.5-0.6, 0.6-0.7, 0.7 and above
    assert evaluate.decidedness(counts) == {"pixels_between_0.3_and_0.7": 0.08, "sounding_pixels_below_0.6": 0.5}
