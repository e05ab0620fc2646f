"""Time ``pianogan generate`` as a user runs it: a whole command, imports and model load included.

Targets: one piece with audio in under 5 s; 100 pieces without audio in under 10 s.
Uses the shipped ``models/generator.keras`` when it is there; otherwise an untrained
generator of the default architecture (same shapes and cost), with its key path
zeroed and its output bias set so that about 3% of the roll is lit in short notes (a
few hundred per piece, as in real music), because the notes drive the MIDI and audio work. Each command runs ``REPEATS`` times; the median counts.

    python benchmarks/generate.py
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "models" / "generator.keras"
REPEATS = 3
LIT_SHARE = 0.03


def stand_in_generator(path: Path) -> Path:
    """Save an untrained default generator that lights about LIT_SHARE of its pixels."""
    import numpy as np

    from pianogan.modelio import import_keras

    import_keras()
    from pianogan import models

    model = models.default_generator()
    key = model.get_layer("key")  # untrained, its per-pitch-class bias would hold notes for a whole window
    key.set_weights([np.zeros_like(w) for w in key.get_weights()])
    z = np.random.default_rng(0).standard_normal((32, models.LATENT_DIM)).astype("float32")
    p = np.clip(np.asarray(model(z, training=False)), 1e-7, 1 - 1e-7)
    logits = np.log(p / (1 - p))
    pitches = model.get_layer("pitches")
    kernel, bias = pitches.get_weights()
    pitches.set_weights([kernel, bias - np.quantile(logits, 1 - LIT_SHARE)])
    model.save(path)
    return path


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user + system, children included) of one command.

    The CPU time tells what the command costs when the machine is shared and the wall
    clock includes waiting for other people's work.
    """
    cpu_before = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pianogan", *argv], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"pianogan {' '.join(argv)} failed:\n{done.stderr}")
    return seconds, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if SHIPPED.is_file():
            model, which = SHIPPED, f"shipped model {SHIPPED.relative_to(REPO)}"
        else:
            model = stand_in_generator(tmp / "stand_in.keras")
            which = "stand-in: untrained default architecture, 3% lit (models/generator.keras not present)"
        print(f"pianogan generate benchmark on {os.cpu_count()} CPU cores; model: {which}")
        cases = [
            ("1 piece with audio", ["--n", "1"], 5.0),
            ("100 pieces without audio", ["--n", "100", "--no-audio"], 10.0),
        ]
        for label, options, target in cases:
            runs = [timed(["generate", "--model", str(model), *options, "-o", str(tmp / f"run{r}")], env) for r in range(REPEATS)]
            median = statistics.median(wall for wall, _ in runs)
            cpu = statistics.median(cpu for _, cpu in runs)
            verdict = "ok" if median < target else "SLOW"
            walls = ", ".join(f"{wall:.2f}" for wall, _ in runs)
            print(f"{label:>26}: {median:5.2f} s median wall, {cpu:.2f} s CPU (runs {walls}; target < {target:g} s) {verdict}")
        print(f"load average during the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
