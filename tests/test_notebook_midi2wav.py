"""midi2wav.ipynb runs top to bottom in a fresh folder: demo piece, WAV, inline player."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "midi2wav.ipynb"


def test_notebook_renders_and_plays_the_demo(tmp_path):
    shutil.copy(NOTEBOOK, tmp_path)  # run in an empty folder: no out/img2midi, so the demo is made
    notebook = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    with wave.open(str(tmp_path / "out" / "wav" / "demo.wav"), "rb") as wav:
        # The demo ends at 4.5 s (36 sixteenths at 120 BPM); its tail is under 2 s.
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, 44100)
        assert 4.5 < wav.getnframes() / 44100 < 6.5
    players = [
        output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
        if "<audio" in output.get("data", {}).get("text/html", "")
    ]  # fmt: skip
    assert len(players) == 1
