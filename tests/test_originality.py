"""Each piece's nearest training window: in pieces.json, on the page, in the app, from the model's facts."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import save_tiny_generator
from serving import live_server
from test_serve import get_json

import pianogan
from pianogan.cli import main
from pianogan.data import datasets
from pianogan.models import portable
from pianogan.models.modelio import write_facts


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A tiny exported model and a dataset holding three of its own pieces (seed 7) among others' (seed 70)."""
    folder = tmp_path_factory.mktemp("originality")
    model = save_tiny_generator(folder / "tiny.keras")
    portable.export(model)
    g = pianogan.load_generator(model)
    (folder / "rolls").mkdir()
    for k, piece in enumerate(g.sample(3, seed=7) + g.sample(5, seed=70)):
        piece.to_png(folder / "rolls" / f"song{k}.png")
    assert main(["prepare", str(folder / "rolls"), "-o", str(folder / "dataset"), "--jobs", "1"]) == 0
    return model, folder / "dataset"


def test_generate_records_the_nearest_training_window(setup, tmp_path):
    model, dataset = setup
    out = tmp_path / "out"
    assert main(["generate", "--model", str(model), "--n", "4", "--seed", "7", "--no-audio", "--training", str(dataset), "-o", str(out)]) == 0
    records = json.loads((out / "pieces.json").read_text())["pieces"]
    for k in range(3):  # the training set holds these very pieces
        assert records[k]["nearest_training"] == {"iou": 1.0, "source": f"song{k}.png", "window": 0, "shift": 0, "near_copy": True}
    assert records[3]["nearest_training"]["iou"] < 0.8 and not records[3]["nearest_training"]["near_copy"]
    assert "nearest training window: song1.png #0, IoU 1.00 (a near copy)" in (out / "index.html").read_text()


def test_without_a_training_set_nothing_is_recorded(setup, tmp_path):
    model, _ = setup
    assert main(["generate", "--model", str(model), "--n", "1", "--no-audio", "-o", str(tmp_path)]) == 0
    assert "nearest_training" not in json.loads((tmp_path / "pieces.json").read_text())["pieces"][0]


def test_a_model_finds_its_own_training_set_while_it_is_unchanged(setup, tmp_path):
    model, dataset = setup
    trained = tmp_path / "trained.keras"
    shutil.copy(model, trained)
    write_facts(trained, {"dataset": str(dataset), "dataset_fingerprint": datasets.dataset_fingerprint(dataset)})
    g = pianogan.load_generator(trained)
    assert g.training is not None and g.nearest_training(g.sample(1, seed=7))[0]["source"] == "song0.png"
    changed = tmp_path / "changed.keras"
    shutil.copy(model, changed)
    write_facts(changed, {"dataset": str(dataset), "dataset_fingerprint": "another"})  # the folder now holds other data
    assert pianogan.load_generator(changed).training is None


def test_the_app_shows_the_nearest_training_window(setup):
    model, dataset = setup
    with live_server(model, "--training", str(dataset)) as url:
        status, body = get_json(url, "/api/nearest?seed=7")
        assert status == 200 and body["nearest"]["source"] == "song0.png" and body["nearest"]["iou"] == 1.0
    with live_server(model) as url:
        assert get_json(url, "/api/nearest?seed=7") == (200, {"nearest": None})
