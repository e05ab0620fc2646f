"""Sampling, long pieces, interpolation and ``pianogan generate``'s files, on a tiny generator."""

from __future__ import annotations

import json
import re
import wave
from pathlib import Path

import numpy as np
import pytest
from conftest import quiet_save, save_tiny_generator
from PIL import Image

from pianogan.cli import main
from pianogan.compose import generate
from pianogan.compose.piece import move_to_key
from pianogan.io import midi
from pianogan.io.png import read_png
from pianogan.models import modelio, sampling
from pianogan.music import keys
from pianogan.roll import N_PITCHES

LATENT = 14
WIDTH = 300


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    return save_tiny_generator(tmp_path_factory.mktemp("model") / "tiny.keras")


@pytest.fixture(scope="module")
def model(model_path):
    from pianogan.models.modelio import load_generator

    return load_generator(model_path)


def run_cli(*argv) -> int:
    return main(["generate", *map(str, argv)])


# --- latent paths -------------------------------------------------------------------


def test_slerp_ends_exactly_at_its_endpoints_and_keeps_the_sphere():
    a, b = np.array([1.0, 0.0, 0.0]), np.array([0.0, 2.0, 0.0])
    assert np.array_equal(generate.slerp(a, b, 0.0), a)
    assert np.array_equal(generate.slerp(a, b, 1.0), b)
    unit_b = b / 2
    np.testing.assert_allclose(generate.slerp(a, unit_b, 0.5), [0.5**0.5, 0.5**0.5, 0.0])
    np.testing.assert_allclose(np.linalg.norm(generate.slerp(a, unit_b, 0.3)), 1.0)
    np.testing.assert_allclose(generate.slerp(a, 3 * a, 0.5), 2 * a)  # parallel: falls back to a line


def test_windows_overlap_by_a_quarter_and_cover_the_length():
    assert generate.overlap_of(300) == 75
    assert [generate.window_count(n, 300) for n in (1, 300, 301, 525, 526, 700, 975)] == [1, 1, 2, 2, 3, 3, 4]


def test_window_latents_slerp_between_anchors():
    anchors = generate.anchors(seed=4, count=1, n_anchors=3, latent_dim=LATENT)[0]
    latents = generate.path_latents(anchors, windows=4)
    assert np.array_equal(latents[0], anchors[0]) and np.array_equal(latents[2], anchors[1])
    np.testing.assert_allclose(latents[1], generate.slerp(anchors[0], anchors[1], 0.5))
    np.testing.assert_allclose(latents[3], generate.slerp(anchors[1], anchors[2], 0.5))


def test_a_piece_depends_on_its_seed_and_index_only():
    assert np.array_equal(generate.anchors(7, 5, 1, LATENT)[2], generate.anchors(7, 3, 1, LATENT)[2])
    assert np.array_equal(generate.anchors(7, 2, 3, LATENT)[1, 0], generate.anchors(7, 2, 1, LATENT)[1, 0])
    assert not np.allclose(generate.anchors(7, 1, 1, LATENT), generate.anchors(8, 1, 1, LATENT))


# --- joining windows ----------------------------------------------------------------


def two_windows() -> np.ndarray:
    return np.zeros((2, N_PITCHES, WIDTH), np.float32)


def test_a_note_both_windows_play_continues_across_the_seam():
    windows = two_windows()
    windows[:, 30] = 0.9
    roll = generate.join_windows(windows, 525)
    rows, first, length = midi.roll_notes(roll)
    assert (rows.tolist(), first.tolist(), length.tolist()) == ([30], [0], [525])


def test_notes_hand_over_in_the_middle_of_the_seam_and_it_is_never_silent():
    # Window 0 plays row 10 at p = 0.6, window 1 row 20 at 0.6. In the 75-column overlap
    # (columns 225..299) the blend keeps row 10 while 0.6 (1 - w) >= 0.5, i.e. up to
    # overlap column 12, and starts row 20 where 0.6 w >= 0.5, from column 62; the silent
    # columns between take the dominant window (w = (i + 0.5) / 75 > 0.5 from column 38).
    windows = two_windows()
    windows[0, 10] = 0.6
    windows[1, 20] = 0.6
    roll = generate.join_windows(windows, 525)
    assert roll.any(axis=0).all()
    assert np.flatnonzero(roll[10]).tolist() == list(range(0, 225 + 38))
    assert np.flatnonzero(roll[20]).tolist() == list(range(225 + 38, 525))
    windows[0, 10] = 0.9  # confident notes survive the blend further: 0.9 (1 - w) >= 0.5 up to column 32
    roll = generate.join_windows(windows, 525)
    assert np.flatnonzero(roll[10]).tolist() == list(range(0, 225 + 38))


def test_join_crops_to_the_length_and_keeps_single_window_columns():
    windows = np.random.default_rng(0).random((3, N_PITCHES, WIDTH)).astype(np.float32)
    roll = generate.join_windows(windows, 700, threshold=0.7)
    assert roll.shape == (N_PITCHES, 700)
    assert np.array_equal(roll[:, :225], windows[0, :, :225] >= 0.7)
    assert np.array_equal(roll[:, 300:450], windows[1, :, 75:225] >= 0.7)
    assert np.array_equal(roll[:, 525:700], windows[2, :, 75:250] >= 0.7)


# --- sampling with a model ----------------------------------------------------------


def test_sample_is_deterministic_and_longer_pieces_begin_like_short_ones(model):
    first = generate.sample(model, n=3, seed=11)
    again = generate.sample(model, n=3, seed=11)
    assert all(np.array_equal(a.roll, b.roll) for a, b in zip(first, again))
    assert first[0].roll.shape == (N_PITCHES, WIDTH) and 0.01 < first[0].lit_share < 0.2
    long = generate.sample(model, n=3, seed=11, length=700)
    assert long[1].roll.shape == (N_PITCHES, 700) and long[1].latents.shape == (3, LATENT)
    assert np.array_equal(long[1].latents[0], first[1].latents[0])
    assert np.array_equal(long[1].roll[:, :225], first[1].roll[:, :225])
    short = generate.sample(model, n=2, seed=11, length=100)[1]
    assert np.array_equal(short.roll, first[1].roll[:, :100])
    other = generate.sample(model, n=1, seed=12)[0]
    assert not np.array_equal(other.roll, first[0].roll)


def test_lower_threshold_means_more_notes(model):
    sparse, dense = (generate.sample(model, n=1, seed=2, threshold=t)[0] for t in (0.9, 0.1))
    assert dense.lit_share > sparse.lit_share
    assert not (sparse.roll & ~dense.roll).any()


# --- the command --------------------------------------------------------------------


def test_generate_writes_pieces_deterministically(model_path, tmp_path):
    out, again = tmp_path / "a", tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run_cli("--model", model_path, "--n", 3, "--seed", 5, "--no-audio", "-o", out) == 0
    assert run_cli("--model", model_path, "--n", 3, "--seed", 5, "--no-audio", "-o", again) == 0
    names = ["piece_000", "piece_001", "piece_002"]
    expected = {f"{n}{suffix}" for n in names for suffix in (".png", ".mid", "_roll.webp")}
    assert {p.name for p in out.iterdir()} == expected | {"pieces.json", "index.html", "keep.txt", ".pianogan-outputs.json"}
    assert (out / "keep.txt").read_text() == "mine"
    summary = json.loads((out / "pieces.json").read_text())
    assert summary["model"] == str(model_path) and summary["seed"] == 5
    assert summary["options"] == {"n": 3, "length": 300, "threshold": 0.5, "velocity": 90, "interpolate": None, "audio": False, "key": None, "bpm": 120.0}
    anchors = generate.anchors(5, 3, 1, LATENT)
    for k, (name, record) in enumerate(zip(names, summary["pieces"])):
        assert (out / f"{name}.mid").read_bytes() == (again / f"{name}.mid").read_bytes()
        assert Image.open(out / f"{name}.png").size == (300, 106)
        roll = read_png(out / f"{name}.png")
        played, stats = midi.read_midi(out / f"{name}.mid")
        assert stats.notes == record["notes"] == len(midi.roll_notes(roll)[0]) > 0
        assert np.array_equal(played, roll[:, : played.shape[1]]) and not roll[:, played.shape[1] :].any()
        assert record["lit_share"] == pytest.approx(roll.mean(), abs=1e-6)
        assert record["seconds"] == 37.5 and record["columns"] == 300
        assert record["origin"] == {"seed": 5, "index": k}
        # A model saved without training facts keeps the keys it wrote.
        assert record["transposition"] == 0 and record["key"] == generate.Piece(roll, anchors[k]).key
        assert np.array_equal(np.array(record["latents"]), anchors[k])
        assert record["files"] == {"roll": f"{name}.png", "midi": f"{name}.mid", "picture": f"{name}_roll.webp", "wav": None}


def test_the_page_links_every_file_of_the_run(model_path, tmp_path):
    assert run_cli("--model", model_path, "--n", 2, "--no-audio", "-o", tmp_path) == 0
    page = (tmp_path / "index.html").read_text()
    links = set(re.findall(r'(?:src|href)="([^"]+)"', page))
    assert links == {f"piece_00{k}{s}" for k in (0, 1) for s in (".png", ".mid", "_roll.webp")} | {"pieces.json"}
    assert all((tmp_path / link).is_file() for link in links)
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_long_pieces_have_no_silent_seam(model, model_path, tmp_path):
    assert run_cli("--model", model_path, "--n", 4, "--length", 700, "--seed", 3, "--no-audio", "-o", tmp_path) == 0
    summary = json.loads((tmp_path / "pieces.json").read_text())
    filled = 0
    for record in summary["pieces"]:
        roll = read_png(tmp_path / record["files"]["roll"])
        assert roll.shape == (N_PITCHES, 700) and record["seconds"] == 87.5
        windows = sampling.probabilities(model, np.array(record["latents"])) >= 0.5
        assert len(windows) == 3
        for j in range(2):  # seam j: columns 225 (j + 1) .. 225 (j + 1) + 74
            start = 225 * (j + 1)
            either = windows[j][:, 225:].any(axis=0) | windows[j + 1][:, :75].any(axis=0)
            joined = roll[:, start : start + 75].any(axis=0)
            assert np.array_equal(joined, either)  # silent only where both windows are silent
            filled += either.sum()
        assert np.array_equal(roll[:, 300:450], windows[1][:, 75:225])
    assert filled > 0


def test_interpolation_goes_from_seed_a_to_seed_b(model, model_path, tmp_path):
    assert run_cli("--model", model_path, "--interpolate", 2, 9, "--n", 4, "--no-audio", "-o", tmp_path) == 0
    summary = json.loads((tmp_path / "pieces.json").read_text())
    assert summary["seed"] is None and summary["options"]["interpolate"] == [2, 9]
    records = summary["pieces"]
    assert [r["origin"]["t"] for r in records] == pytest.approx([0, 1 / 3, 2 / 3, 1])
    start, end = (generate.sample(model, n=1, seed=s)[0] for s in (2, 9))
    assert np.array_equal(records[0]["latents"], start.latents)
    assert np.array_equal(records[-1]["latents"], end.latents)
    assert np.array_equal(read_png(tmp_path / "piece_000.png"), start.roll)
    assert np.array_equal(read_png(tmp_path / "piece_003.png"), end.roll)
    middle = np.array(records[1]["latents"][0])
    assert np.allclose(middle, generate.slerp(start.latents[0], end.latents[0], 1 / 3))


def test_generate_with_audio_writes_a_wav_per_piece(model_path, tmp_path):
    audio = pytest.importorskip("pianogan.io.audio")
    try:
        audio.choose_renderer()
        audio.find_soundfont()
    except Exception as error:  # no renderer or SoundFont on this machine
        pytest.skip(str(error))
    assert run_cli("--model", model_path, "--n", 2, "--seed", 1, "-o", tmp_path) == 0
    summary = json.loads((tmp_path / "pieces.json").read_text())
    for record in summary["pieces"]:
        assert record["files"]["wav"] == f"{record['name']}.wav"
        played, _ = midi.read_midi(tmp_path / record["files"]["midi"])
        with wave.open(str(tmp_path / record["files"]["wav"]), "rb") as wav:
            seconds = wav.getnframes() / wav.getframerate()
            assert wav.getframerate() == 44100
        assert played.shape[1] * 0.125 <= seconds <= played.shape[1] * 0.125 + 2.01
    page = (tmp_path / "index.html").read_text()
    assert page.count("<audio controls") == 2 and 'src="piece_001.wav"' in page


def test_default_model_comes_from_the_environment_or_the_repository(monkeypatch, tmp_path):
    monkeypatch.setenv("PIANOGAN_MODEL", str(tmp_path / "g.keras"))
    assert sampling.default_model_path() == tmp_path / "g.keras"
    monkeypatch.delenv("PIANOGAN_MODEL")
    shipped = sampling.default_model_path()
    assert shipped.parts[-3:] == ("pianogan", "shipped", "generator.keras")  # package data, in a wheel too
    assert shipped.resolve() == (Path(__file__).resolve().parents[1] / "models" / "generator.keras").resolve()


# --- bad input ----------------------------------------------------------------------


def save_model_with_shapes(path: Path, inputs: tuple, outputs: tuple) -> Path:
    from pianogan.models.modelio import import_keras

    keras = import_keras()
    model = keras.Sequential([keras.Input(inputs), keras.layers.Flatten(), keras.layers.Dense(int(np.prod(outputs))), keras.layers.Reshape(outputs)])
    return quiet_save(model, path)


@pytest.fixture(scope="module")
def bad_models(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    (folder / "text.keras").write_text("not a model\n")
    return {
        "text": folder / "text.keras",
        "output": save_model_with_shapes(folder / "output.keras", (LATENT,), (100, 30, 1)),
        "input": save_model_with_shapes(folder / "input.keras", (2, 7), (N_PITCHES, 30, 1)),
    }


@pytest.mark.parametrize(
    "case, argv, message",
    [
        ("missing", ["--model", "{tmp}/none.keras"], "none.keras: no such model file"),
        ("folder", ["--model", "{tmp}"], ": is a folder, not a .keras model file"),
        ("text", ["--model", "{text}"], "text.keras: not a loadable Keras model"),
        ("output", ["--model", "{output}"], "output.keras: generator output must be (None, 106, W, 1), got (None, 100, 30, 1)"),
        ("input", ["--model", "{input}"], "input.keras: generator input must be (None, latent_dim), got (None, 2, 7)"),
        ("n zero", ["--n", "0"], "--n must be at least 1, got 0"),
        ("n negative", ["--n", "-3"], "--n must be at least 1, got -3"),
        ("seed", ["--seed", "-1"], "--seed must be 0 or more"),
        ("length", ["--length", "0"], "--length must be 1..262144 columns, got 0"),
        ("length huge", ["--length", "300000"], "--length must be 1..262144 columns, got 300000"),
        ("n huge", ["--n", "1000000"], "--n 1000000 pieces of 300 columns are more than the 3,000,000 columns"),
        ("threshold nan", ["--threshold", "nan"], "--threshold must lie strictly between 0 and 1, got nan"),
        ("threshold", ["--threshold", "1.5"], "--threshold must lie strictly between 0 and 1"),
        ("velocity", ["--velocity", "128"], "--velocity must be 1..127"),
        ("interpolate", ["--interpolate", "1", "2", "--n", "1"], "--interpolate needs --n of at least 2"),
        ("output file", ["-o", "{tmp}/file.txt"], "file.txt: it is a file, not a folder"),
        ("key tonic", ["--key", "H major"], "key 'H major': unknown tonic 'H'"),
        ("key mode", ["--key", "C lydian"], "key 'C lydian': unknown mode 'lydian'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(case, argv, message, model_path, bad_models, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    places = {"tmp": tmp_path, **bad_models}
    argv = [a.format(**places) for a in argv]
    if "--model" not in argv:
        argv = ["--model", str(model_path), *argv]
    if "-o" not in argv:
        argv += ["-o", str(tmp_path / "out")]
    assert run_cli(*argv, "--no-audio") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("pianogan generate: error: ") and "\n" not in err
    assert message in err
    assert not (tmp_path / "out").exists()


def test_a_missing_soundfont_stops_before_any_work(model_path, tmp_path, capsys):
    assert run_cli("--model", model_path, "--soundfont", tmp_path / "none.sf2", "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err == f"pianogan generate: error: soundfont {tmp_path / 'none.sf2'}: no such file (or pass --no-audio)"
    assert not (tmp_path / "out").exists()


def c_major_piece() -> generate.Piece:
    """Four bars of C major triads with a scale above them, mid-keyboard."""
    roll = np.zeros((N_PITCHES, WIDTH), dtype=bool)
    for column in range(0, WIDTH, 8):
        for pitch in (48, 52, 55):
            roll[pitch - 21, column : column + 6] = True
        roll[[60, 62, 64, 65, 67, 69, 71, 72][column // 8 % 8] - 21, column : column + 4] = True
    return generate.Piece(roll, np.zeros((1, LATENT)))


def test_a_piece_moves_to_the_asked_key_the_nearer_way():
    piece = c_major_piece()
    assert piece.key == "C major"
    assert move_to_key(piece, None) is piece
    assert move_to_key(piece, 21).transposition == 0  # A minor shares C major's notes
    g = move_to_key(piece, 7)
    assert g.key == "G major" and g.transposition == -5 and g.roll[48 - 5 - 21].any()
    d = move_to_key(g, 2)
    assert d.key == "D major" and d.transposition == -5 - 5
    # A tritone away both ways are as near: up, the reverse of how training moved a window
    # in F# major down to C major, so that pieces sit where the music they learnt from does.
    f_sharp = move_to_key(piece, 6)
    assert f_sharp.key == "F# major" and f_sharp.transposition == 6
    assert move_to_key(piece, 12 + 3).transposition == 6  # D# minor shares F# major's notes


def test_a_piece_wider_than_any_move_allows_keeps_its_notes_on_the_piano():
    roll = c_major_piece().roll.copy()
    roll[[24 - 21, 108 - 21], :4] = True  # C1 and C8 as well: no move to G keeps both on the keyboard
    g = move_to_key(generate.Piece(roll, np.zeros((1, LATENT))), 7)
    assert g.key == "G major" and g.transposition == -5
    assert not g.roll[88:].any() and g.roll[108 - 5 - 21, :4].all() and g.roll[24 - 5 + 12 - 21, :4].all()  # G7, and G1 an octave up
    assert g.roll.sum() == roll.sum()  # no note lost


def test_keys_are_asked_for_drawn_from_the_data_or_left_alone():
    seeds = [(3, k) for k in range(200)]
    assert keys.choose_keys("A minor", seeds[:2], None) == [21, 21]
    assert keys.choose_keys(None, seeds[:2], None) == [None, None]
    only_two = [0.0] * 24
    only_two[0], only_two[21] = 0.75, 0.25
    drawn = keys.choose_keys(None, seeds, only_two)
    assert set(drawn) == {0, 21} and 0.6 < drawn.count(0) / len(drawn) < 0.9
    assert drawn == keys.choose_keys(None, seeds, only_two)  # the seed decides
    assert drawn[:5] == keys.choose_keys(None, seeds[:5], only_two)  # and not how many pieces
    assert len(set(keys.choose_keys("any", seeds, only_two))) > 15


def key_normalised(roll: np.ndarray) -> np.ndarray:
    """``roll`` moved to C major / A minor the nearer way, as key-normalised training moves a window."""
    from pianogan.roll import transpose_on_piano
    from pianogan.training.train import key_normalising_shifts

    (shift,) = key_normalising_shifts(roll[None], keys.estimate_keys(roll[None]))
    return transpose_on_piano(roll, int(shift))


def test_drawn_keys_put_each_piece_where_windows_in_that_key_sit():
    """Windows in all twelve major keys with their bass on one octave of the keyboard, C3
    to B3, as pianists place it whatever the key: key-normalised (the nearer way), they sit
    on C3 or on C4. Keys drawn from the data's shares alone move them by up to a tritone
    either way, from F#2 to F4; weighed by where windows in each key sit, most land back
    on the octave, spread as the data's lowest notes are."""
    from pianogan.roll import transpose_on_piano

    c_major = c_major_piece().roll
    windows = np.stack([transpose_on_piano(c_major, key) for key in range(12)])  # C major up to B major
    assert np.ptp(keys.register(windows)[:, 0]) == 11  # the lowest notes: one octave, 12 keys
    registers = keys.key_registers(windows, keys.estimate_keys(windows))
    normalised = [key_normalised(window) for window in windows for _ in range(20)]
    seeds = [(1, k) for k in range(len(normalised))]
    shares = [1 / 12] * 12 + [0.0] * 12

    def lowest_notes(chosen):
        return np.array([keys.register(move_to_key(generate.Piece(roll, np.zeros((1, LATENT))), key).roll)[0] for roll, key in zip(normalised, chosen)])

    blind = lowest_notes(keys.choose_keys(None, seeds, shares))
    weighed = lowest_notes(keys.choose_keys(None, seeds, shares, normalised, registers))
    data = keys.register(windows)[:, 0]

    def on_the_octave(lowest):
        return np.mean((data.min() <= lowest) & (lowest <= data.max()))

    assert on_the_octave(blind) < 0.6 and np.std(blind) > 1.8 * np.std(data)  # measured: 52%, 6.8 semitones against 3.5
    assert on_the_octave(weighed) > 0.85 and np.std(weighed) < 1.2 * np.std(data)  # measured: 89%, 3.6
    assert len(set(keys.choose_keys(None, seeds, shares, normalised, registers))) == 12  # every key still drawn
    # the draws stay the seed's and the piece's, and an asked key or "any" ignores the registers
    assert keys.choose_keys(None, seeds, shares, normalised, registers) == keys.choose_keys(None, seeds, shares, normalised, registers)
    assert keys.choose_keys("any", seeds[:5], shares, normalised[:5], registers) == keys.choose_keys("any", seeds[:5], shares)
    silent = [np.zeros_like(c_major)] * 5
    assert keys.choose_keys(None, seeds[:5], shares, silent, registers) == keys.choose_keys(None, seeds[:5], shares)


def test_generate_key_moves_every_piece_and_records_it(model, model_path, tmp_path):
    assert run_cli("--model", model_path, "--n", "3", "--key", "Eb major", "--no-audio", "-o", tmp_path / "out") == 0
    summary = json.loads((tmp_path / "out" / "pieces.json").read_text())
    assert summary["options"]["key"] == "Eb major"
    moved = [read_png(tmp_path / "out" / f"{r['name']}.png") for r in summary["pieces"]]
    plain = generate.sample(model, n=3, seed=0)
    for record, roll, original in zip(summary["pieces"], moved, plain):
        assert np.array_equal(roll, move_to_key(original, 3).roll) and record["transposition"] == move_to_key(original, 3).transposition
        assert record["key"] in ("D# major", "C minor")  # the scale of E flat major
    assert "D# major" in (tmp_path / "out" / "index.html").read_text() or "C minor" in (tmp_path / "out" / "index.html").read_text()


def test_a_key_normalised_model_draws_keys_like_its_training_data(model_path, tmp_path):
    import shutil

    from pianogan.models.modelio import read_facts, write_facts

    normalised = tmp_path / "normalised.keras"
    shutil.copy(model_path, normalised)
    only_d_minor = [0.0] * 24
    only_d_minor[12 + 2] = 1.0
    write_facts(normalised, {"key_mode": "normalise", "key_distribution": only_d_minor})
    assert read_facts(normalised)["key_distribution"] == only_d_minor and read_facts(model_path) == {}
    assert run_cli("--model", normalised, "--n", "4", "--no-audio", "-o", tmp_path / "out") == 0
    records = json.loads((tmp_path / "out" / "pieces.json").read_text())["pieces"]
    assert {r["key"] for r in records} <= {"F major", "D minor"} and any(r["transposition"] for r in records)
    # facts written again replace the first, and the model still loads
    registers = {"means": [[20.0, 40.0]] * 24, "covariance": [[9.0, 0.0], [0.0, 9.0]]}
    write_facts(normalised, {"key_mode": "normalise", "key_distribution": only_d_minor, "key_registers": registers})
    assert modelio.key_registers(read_facts(normalised)) == registers and modelio.load_generator(normalised) is not None
    for broken in (
        {"means": [[20.0, 40.0]] * 23, "covariance": registers["covariance"]},
        {**registers, "covariance": [[1.0, 0.0], [0.0, 0.0]]},
        {"means": "x"},
    ):
        assert modelio.key_registers({"key_mode": "normalise", "key_registers": broken}) is None  # drawn by the shares alone
    import zipfile

    assert [name for name in zipfile.ZipFile(normalised).namelist() if name == modelio.FACTS] == [modelio.FACTS]


# --- faults ---------------------------------------------------------------------------


def test_a_rerun_replaces_its_own_pieces_and_refuses_others_files(model_path, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert run_cli("--model", model_path, "--n", 3, "--no-audio", "-o", out) == 0
    capsys.readouterr()
    assert run_cli("--model", model_path, "--n", 1, "--seed", 4, "--no-audio", "-o", out) == 0
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "index.html",
        "piece_000.mid",
        "piece_000.png",
        "piece_000_roll.webp",
        "pieces.json",
    ]
    err = capsys.readouterr().err
    assert "replaced 5 files of an earlier run" in err and "removed 6 files of an earlier run that this one does not make" in err
    (out / "piece_001.mid").write_bytes(b"my own tune")
    monkeypatch.setattr(modelio, "load_generator", lambda path: pytest.fail("the model was loaded"))
    assert run_cli("--model", model_path, "--n", 2, "--no-audio", "-o", out) == 2
    assert f"{out / 'piece_001.mid'}: exists and pianogan did not write it" in capsys.readouterr().err
    assert (out / "piece_001.mid").read_bytes() == b"my own tune"


def test_a_full_disk_is_found_before_the_model_loads(model_path, small_disk, capsys, monkeypatch):
    small_disk.fill()
    monkeypatch.setattr(modelio, "load_generator", lambda path: pytest.fail("the model was loaded"))
    assert run_cli("--model", model_path, "--no-audio", "-o", small_disk.path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("pianogan generate: error: ") and ("No space left" in err or "disk full" in err)


def test_a_disk_that_fills_while_writing_keeps_the_earlier_pieces(model_path, small_disk, capsys, monkeypatch):
    out = small_disk.path / "out"
    assert run_cli("--model", model_path, "--n", 2, "--no-audio", "-o", out) == 0
    before = small_disk.files()
    from pianogan.io import atomic

    monkeypatch.setattr(atomic, "check_writable", lambda folder: None)  # let the writes meet the full disk
    small_disk.fill()
    assert run_cli("--model", model_path, "--n", 2, "--seed", 9, "--no-audio", "-o", out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("pianogan generate: error: ") and "cannot write" in err[-1]
    assert small_disk.files() == before


def test_a_folder_from_before_pianogan_listed_its_files_is_reused_by_its_pieces_json(model_path, tmp_path, capsys):
    out = tmp_path / "out"
    assert run_cli("--model", model_path, "--n", 2, "--no-audio", "-o", out) == 0
    (out / ".pianogan-outputs.json").unlink()  # as an older pianogan left it
    capsys.readouterr()
    assert run_cli("--model", model_path, "--n", 1, "--no-audio", "-o", out) == 0
    assert "replaced 5 files of an earlier run" in capsys.readouterr().err
    assert not (out / "piece_001.png").exists()
