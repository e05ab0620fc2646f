"""midi2wav.ipynb runs top to bottom in a fresh folder: example piece, WAV, inline player."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "midi2wav.ipynb"


def test_notebook_renders_and_plays_the_example(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path)  # run in an empty folder: no out/img2midi, so the example is made
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    with wave.open(str(tmp_path / "out" / "wav" / "example.wav"), "rb") as wav:
        # The example ends at 7.875 s (63 sixteenths at 120 BPM); its tail is under 2 s.
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 44100)
        assert 7.875 < wav.getnframes() / 44100 < 9.9
    players = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
        if "<audio" in output.get("data", {}).get("text/html", "")
    ]  # fmt: skip
    assert len(players) == 1
