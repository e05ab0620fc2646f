"""The conversion notebooks run top to bottom and write what they promise.

Each runs in a temporary copy of the repository root, so its ``out/`` folder is
throw-away and ``../shared/data`` is whatever the test puts beside the copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from pianogan.data.examples import chord_progression_piece
from pianogan.io.midi import read_midi, roll_notes
from pianogan.io.png import read_png
from pianogan.roll import N_PITCHES

REPO = Path(__file__).resolve().parents[1]


def execute(name: str, root: Path) -> nbformat.NotebookNode:
    """Run notebook ``name`` with ``root`` as working directory; return it with its outputs."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / name, root / name)
    notebook = nbformat.read(root / name, as_version=4)
    NotebookClient(notebook, kernel_name="python3", timeout=300, resources={"metadata": {"path": str(root)}}).execute()
    return notebook


def text_of(notebook: nbformat.NotebookNode) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)


def pictures(notebook: nbformat.NotebookNode) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs)


def test_both_notebooks_without_pop909(tmp_path):
    root = tmp_path / "repo"  # no ../shared beside it: the notebooks make their own input
    first = execute("midi2img.ipynb", root)
    images = sorted(p.name for p in (root / "out" / "images").iterdir() if not p.name.startswith("."))
    assert images == ["example_0_0.png", "example_0_1.png", "example_0_2.png"]  # 640 columns: the last window is partial
    demo, _ = read_midi(root / "out" / "demo_midi" / "example_0.mid")
    assert demo.shape == (N_PITCHES, 40 * 16 - 1)  # the last melody note ends one column before the bar
    assert np.array_equal(read_png(root / "out" / "images" / "example_0_1.png"), demo[:, 300:600])
    assert "midi2img: 1 files converted, 0 bad; 3 windows written to out/images" in text_of(first)
    assert pictures(first) == 1

    second = execute("img2midi.ipynb", root)  # reads the images the first notebook wrote
    midis = sorted(p.name for p in (root / "out" / "img2midi").iterdir() if not p.name.startswith("."))
    assert midis == ["example_0_0.mid", "example_0_1.mid", "example_0_2.mid"]
    back, _ = read_midi(root / "out" / "img2midi" / "example_0_1.mid")
    assert np.array_equal(back, demo[:, 300 : 300 + back.shape[1]])
    text = text_of(second)
    assert "img2midi: 3 files converted, 0 bad" in text
    assert "example_0_0.mid: " in text and "    C3    0.000      1.750" in text  # the first chord: 14 columns of 0.125 s
    assert pictures(second) == 1


def test_img2midi_notebook_makes_its_own_roll(tmp_path):
    root = tmp_path / "repo"
    notebook = execute("img2midi.ipynb", root)
    roll = read_png(root / "out" / "example_rolls" / "example.png")
    assert np.array_equal(roll, chord_progression_piece(bars=19)[:, :300])
    back, _ = read_midi(root / "out" / "img2midi" / "example.mid")
    assert np.array_equal(back, roll)
    assert f"example.mid: {len(roll_notes(roll)[0])} notes, the first 16:" in text_of(notebook)


def test_midi2img_notebook_finds_pop909_beside_the_repository(tmp_path, pop909_midi):
    songs = tmp_path / "shared" / "data" / "pop909" / "midi"
    songs.mkdir(parents=True)
    for name in ("001.mid", "002.mid"):
        shutil.copy(pop909_midi / name, songs / name)
    root = tmp_path / "repo"
    notebook = execute("midi2img.ipynb", root)
    images = sorted(p.name for p in (root / "out" / "images").iterdir() if not p.name.startswith("."))
    assert images[0] == "001_0.png" and {name.split("_")[0] for name in images} == {"001", "002"}
    assert not (root / "out" / "demo_midi").exists()
    assert "midi2img: 2 files converted, 0 bad" in text_of(notebook)


@pytest.mark.parametrize("name", ["midi2img.ipynb", "img2midi.ipynb"])
def test_notebooks_are_stored_without_outputs(name):
    notebook = nbformat.read(REPO / name, as_version=4)
    nbformat.validate(notebook)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
