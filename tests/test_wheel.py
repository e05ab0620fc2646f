"""A wheel built from this tree, installed in a fresh environment, generates pieces from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*argv, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{argv} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_the_installed_wheel_ships_the_model_and_generates_offline(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the repository
    source.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / part, source / part)
    for part in ("src", "models"):  # the package's links into models/ stay links, as in a checkout
        shutil.copytree(REPO / part, source / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", tmp_path / "dist", source, cwd=tmp_path)
    (wheel,) = (tmp_path / "dist").glob("pianogan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {"pianogan/shipped/generator.keras", "pianogan/shipped/generator.npz", "pianogan/serve/static/app.js"} <= set(names)

    # A fresh environment that borrows this one's dependencies but not its pianogan.
    env_dir = tmp_path / "env"
    run(sys.executable, "-m", "venv", env_dir, cwd=tmp_path)
    python = env_dir / "bin" / "python"
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path).stdout.strip())
    (site / "borrowed.pth").write_text("\n".join(dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])) + "\n")
    run(python, "-m", "pip", "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIANOGAN_MODEL")}
    where = run(python, "-c", "import pianogan; print(pianogan.__file__)", cwd=elsewhere, env=env).stdout.strip()
    assert Path(where).is_relative_to(env_dir)
    done = run(env_dir / "bin" / "pianogan", "generate", "--n", "2", "--no-audio", "-o", "out", cwd=elsewhere, env=env)
    assert "(numpy)" in done.stderr
    summary = json.loads((elsewhere / "out" / "pieces.json").read_text())
    assert Path(summary["model"]).is_relative_to(env_dir) and len(summary["pieces"]) == 2
    assert all(record["notes"] > 0 for record in summary["pieces"])
