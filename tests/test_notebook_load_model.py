"""``load_model.ipynb`` runs top to bottom, shows pieces with players, writes MIDI, morphs, and re-seeds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import save_tiny_generator

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "load_model.ipynb"
SHIPPED = REPO / "models" / "generator.keras"


def outputs_of(cells, mime: str) -> list:
    return [o for c in cells if c.cell_type == "code" for o in c.outputs if mime in o.get("data", {})]


def reseeded(notebook, seed: int, pieces: int):
    settings = next(c for c in notebook.cells if c.cell_type == "code" and "SEED = " in c.source)
    lines = settings.source.splitlines()
    swap = {"SEED": seed, "N_PIECES": pieces}
    settings.source = "\n".join(f"{line.split(' = ')[0]} = {swap[line.split(' = ')[0]]}" if line.split(" = ")[0] in swap else line for line in lines)
    return notebook


@pytest.mark.slow
def test_notebook_makes_music_and_a_new_seed_makes_new_music(tmp_path, monkeypatch):
    if not SHIPPED.is_file() and "PIANOGAN_MODEL" not in os.environ:  # before a model is shipped
        monkeypatch.setenv("PIANOGAN_MODEL", str(save_tiny_generator(tmp_path / "tiny.keras")))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    notebook = reseeded(nbformat.read(NOTEBOOK, as_version=4), seed=0, pieces=2)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    out = tmp_path / "out" / "notebook"
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        assert len(outputs_of(notebook.cells, "image/png")) == 2  # one matplotlib roll per piece
        first = {p.name: p.read_bytes() for p in out.glob("*.mid")}
        assert sorted(first) == ["piece_000.mid", "piece_001.mid"]
        shown = [o["data"]["text/html"] for o in outputs_of(notebook.cells, "text/html") if "pianogan-piece" in o["data"]["text/html"]]
        wavs = sorted(p.name for p in out.glob("*.wav"))
        assert len(shown) == len(wavs) == 2  # each piece displayed with its roll and a player
        assert all('<img src="data:image/png' in html and "data:audio/wav;base64," in html for html in shown)
        morph = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
        assert morph.count("t = ") == 4
        assert "bar  18 |" in morph and "melody " in morph  # the lead sheet of the first piece

        reseeded(notebook, seed=1, pieces=2)  # the user's edit, then "run all" in the same kernel
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        second = {p.name: p.read_bytes() for p in out.glob("*.mid")}
    assert sorted(second) == sorted(first)
    assert all(second[name] != first[name] for name in first)
    assert (out / "index.html").is_file() and (out / "pieces.json").is_file()
