"""train_gan.ipynb runs top to bottom (with a tiny step count) and trains a run that resumes."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from pianogan.training.runlog import read_log

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_train_gan_notebook_trains_plots_and_resumes(tmp_path):
    root = tmp_path / "repo"  # no ../shared beside it: the notebook makes example pieces
    root.mkdir()
    notebook = nbformat.read(REPO / "train_gan.ipynb", as_version=4)
    settings = notebook.cells[1]
    assert "STEPS = 300" in settings.source
    settings.source = (
        settings.source.replace("STEPS = 300", "STEPS = 3").replace("BATCH_SIZE = 32", "BATCH_SIZE = 4").replace("SAMPLE_EVERY = 100", "SAMPLE_EVERY = 2")
    )
    client = NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(root)}})
    client.execute()
    run = root / "out" / "runs" / "train_gan"
    assert [int(row["step"]) for row in read_log(run)] == [1, 2, 3]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_0000002.png", "step_0000003.png"]
    images = sum("image/png" in o.get("data", {}) for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    assert images == 3  # the curves, the sample grid, the two rolls

    # Re-running with more steps continues the same run.
    settings.source = settings.source.replace("STEPS = 3", "STEPS = 5")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    NotebookClient(notebook, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(root)}}).execute()
    assert [int(row["step"]) for row in read_log(run)] == [1, 2, 3, 4, 5]
    shutil.rmtree(root / "out")
