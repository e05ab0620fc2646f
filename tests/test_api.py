"""The Python API, pieces and their files, tempo, and what `import pianogan` costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import symusic

import pianogan
from pianogan.cli import main
from pianogan.io import audio
from pianogan.io.midi import read_midi
from pianogan.roll import N_PITCHES

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def g(model_path):
    return pianogan.load_generator(model_path)


def fresh_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip()


def test_import_and_help_load_no_tensorflow_and_no_numpy():
    out = fresh_python(
        "import sys, pianogan; from pianogan.cli import build_parser; build_parser().format_help(); "
        "print(sorted(m for m in ('tensorflow', 'keras', 'numpy', 'starlette') if m in sys.modules))"
    )
    assert out == "[]"


def test_the_api_runs_an_exported_model_without_tensorflow(model_path):
    out = fresh_python(
        f"import sys, pianogan; g = pianogan.load_generator({str(model_path)!r}); p = g.sample(1)[0]; "
        "print(g.runtime, p.notes > 0, 'tensorflow' in sys.modules)"
    )
    assert out == "numpy True False"


def test_sample_is_what_the_command_writes_and_piece_reproduces_it(g, model_path, tmp_path):
    pieces = g.sample(3, seed=5)
    assert main(["generate", "--model", str(model_path), "--n", "3", "--seed", "5", "--no-audio", "-o", str(tmp_path)]) == 0
    records = json.loads((tmp_path / "pieces.json").read_text())["pieces"]
    for piece, record in zip(pieces, records):
        assert np.array_equal(piece.latents, np.array(record["latents"])) and piece.notes == record["notes"]
    again = g.piece(g.latent(5, index=2), seed=5)
    assert np.array_equal(again.roll, pieces[2].roll)
    long = g.piece(g.latent(5), seed=5, length=700)
    assert np.array_equal(long.roll, g.sample(1, seed=5, length=700)[0].roll)
    sheet = pieces[0].lead_sheet().splitlines()
    assert sheet[0].startswith(pieces[0].key) and len(sheet) == 1 + 300 // 16
    moved = g.latent(5) + 0.8
    assert not np.array_equal(g.piece(moved, seed=5).roll, pieces[0].roll)


def test_interpolate_between_seeds_pieces_and_latents(g):
    a, b = g.sample(2, seed=1)
    row = g.interpolate(a, b, n=5)
    assert np.array_equal(row[0].roll, a.roll) and np.array_equal(row[-1].roll, b.roll)
    assert [p.origin["morph"] for p in row] == [0, 0.25, 0.5, 0.75, 1]
    seeds = g.interpolate(3, 9, n=3)
    assert np.array_equal(seeds[0].roll, g.sample(1, seed=3)[0].roll) and seeds[1].origin["t"] == 0.5
    with pytest.raises(pianogan.api.PianoganError, match="14 finite numbers"):
        g.interpolate([0.0] * 3, b)


def test_variations_stay_near_their_piece(g):
    piece = g.sample(1, seed=2)[0]
    near = g.variations(piece, n=4, spread=0.1)
    far = g.variations(piece, n=4, spread=2.0)

    def distance(pieces):
        return np.mean([np.linalg.norm(p.latents[0] - piece.latents[0]) for p in pieces])

    assert distance(near) < distance(far) and len({p.roll.tobytes() for p in near}) > 1


def test_invert_finds_the_latent_of_the_models_own_piece(g, tmp_path):
    piece = g.sample(1, seed=4)[0]
    found = g.invert(piece.to_midi(tmp_path / "mine.mid"), generations=10)
    assert found.target.origin["name"] == "mine.mid" and found.target.roll.shape == (N_PITCHES, 300)
    assert found.iou > 0.8 and found.piece.origin["iou"] == pytest.approx(found.iou, abs=1e-6)
    assert found.iou > g.invert(piece, starts=8, keep=1, generations=0).iou  # the search improves on its starts
    assert "<img" in found._repr_html_()


def test_pieces_write_midi_png_and_wav_at_their_tempo(g, tmp_path):
    piece = g.sample(1, seed=6)[0].at_bpm(60)
    assert piece.seconds == 75.0 and piece.seconds_per_column == 0.25
    score = symusic.Score(str(piece.to_midi(tmp_path / "slow.mid")))
    assert score.tempos[0].qpm == pytest.approx(60)
    played, _ = read_midi(tmp_path / "slow.mid")
    assert np.array_equal(played, piece.roll[:, : played.shape[1]])
    assert piece.midi_bytes() == (tmp_path / "slow.mid").read_bytes()
    up = piece.transpose(2)
    assert up.transposition == 2 and np.array_equal(up.roll[2:], piece.roll[:-2])
    assert piece.in_key("C major").key in ("C major", "A minor")
    try:
        audio.choose_renderer()
        audio.find_soundfont()
    except pianogan.api.PianoganError as error:
        pytest.skip(f"no audio renderer: {error}")
    fast = piece.at_bpm(240).to_wav(tmp_path / "fast.wav")
    slow = piece.to_wav(tmp_path / "slow.wav")

    def seconds(path):
        samples, rate = audio.read_wav(path)
        return samples.shape[1] / rate

    last = read_midi(tmp_path / "slow.mid")[0].shape[1]
    assert last * 0.25 <= seconds(slow) <= last * 0.25 + 2.01 and last * 0.0625 <= seconds(fast) <= last * 0.0625 + 2.01
    shown = piece._repr_html_()
    assert shown.count("<img") == 1 and "data:audio/wav;base64," in shown and "60 BPM" in shown


def test_generate_bpm_and_img2midi_bpm_write_the_tempo(model_path, tmp_path):
    assert main(["generate", "--model", str(model_path), "--n", "2", "--bpm", "90", "--no-audio", "-o", str(tmp_path / "gen")]) == 0
    summary = json.loads((tmp_path / "gen" / "pieces.json").read_text())
    assert summary["options"]["bpm"] == 90 and {r["seconds"] for r in summary["pieces"]} == {300 * 60 / 90 / 4}
    assert symusic.Score(str(tmp_path / "gen" / "piece_000.mid")).tempos[0].qpm == pytest.approx(90)
    # The page's pictures are no PNG, so a batch command takes exactly the rolls of a run.
    assert main(["img2midi", str(tmp_path / "gen"), "--bpm", "75", "-o", str(tmp_path / "midi")]) == 0
    assert sorted(p.name for p in (tmp_path / "midi").iterdir() if not p.name.startswith(".")) == ["piece_000.mid", "piece_001.mid"]
    assert symusic.Score(str(tmp_path / "midi" / "piece_001.mid")).tempos[0].qpm == pytest.approx(75)
    assert main(["generate", "--model", str(model_path), "--bpm", "0", "--no-audio", "-o", str(tmp_path / "x")]) == 2
