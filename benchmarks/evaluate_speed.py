"""How long evaluation takes: featurising windows, and the full comparison of 1,000 vs 1,000.

Uses POP909 windows when ../shared/data/pop909/midi is present (windows of test and
validation songs, also at half-window offsets, as the real set; train songs as the
training split; the "generated" set is other held-out windows with their columns
shuffled, so the figures have something to find), else synthetic rolls of the same
density. The full comparison is ``evaluate.evaluate`` and ``write_outputs``, what
``pianogan evaluate`` runs after loading its windows: every figure against all real
windows and against the training-like ones, each with its floor. Prints seconds per
stage; ``pianogan evaluate`` must stay under 2 minutes on 2 cores.

    python benchmarks/evaluate_speed.py [--n 1000] [--pop909 DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from pianogan.evaluation import compare, evaluate, metrics
from pianogan.roll import N_PITCHES, WINDOW

POP909 = Path(__file__).resolve().parents[2] / "shared" / "data" / "pop909" / "midi"


def pop909_windows(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Windows and song numbers per split (test: number divisible by 10, validation: ending in 5)."""
    from pianogan.io.midi import read_midi
    from pianogan.roll import windows

    rolls: dict[str, list] = {"train": [], "validation": [], "test": []}
    songs: dict[str, list] = {"train": [], "validation": [], "test": []}
    for path in sorted(folder.glob("*.mid")):
        number = int(path.stem)
        split = "test" if number % 10 == 0 else "validation" if number % 10 == 5 else "train"
        roll = read_midi(path)[0]
        cut = [w for _, w in windows(roll, WINDOW)]
        if split != "train":  # half-window offsets too: enough held-out windows for 1,000 of each
            cut += [w for _, w in windows(roll[:, WINDOW // 2 :], WINDOW)]
        rolls[split] += cut
        songs[split] += [number] * len(cut)
    return {k: np.stack(v) for k, v in rolls.items()}, {k: np.asarray(v) for k, v in songs.items()}


def synthetic(n: int, seed: int) -> np.ndarray:
    """Sparse random notes of 1-8 columns, about 3% of pixels lit."""
    rng = np.random.default_rng(seed)
    rolls = np.zeros((n, N_PITCHES, WINDOW), dtype=bool)
    for k in range(n):
        for pitch, start, length in zip(rng.integers(20, 80, 250), rng.integers(0, WINDOW, 250), rng.integers(1, 9, 250)):
            rolls[k, pitch, start : start + length] = True
    return rolls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="generated and real windows (default: 1000)")
    parser.add_argument("--pop909", type=Path, default=POP909, help="POP909 MIDI folder (default: %(default)s)")
    args = parser.parse_args()

    started = time.perf_counter()
    if args.pop909.is_dir():
        rolls, songs = pop909_windows(args.pop909)
        held_out = np.concatenate([rolls["test"], rolls["validation"]])
        held_songs = np.concatenate([songs["test"], songs["validation"]])
        rng = np.random.default_rng(0)
        pick = rng.permutation(len(held_out))
        real_idx = pick[: args.n]
        other_idx = pick[(args.n + np.arange(args.n)) % len(pick)]  # reuses windows when short; shuffled anyway
        real, real_groups = held_out[real_idx], held_songs[real_idx]
        generated = np.stack([r[:, rng.permutation(WINDOW)] for r in held_out[other_idx]])
        train, train_groups = rolls["train"], songs["train"]
        source = f"POP909 ({len(train)} train windows)"
    else:
        real, generated, train = synthetic(args.n, 1), synthetic(args.n, 2), synthetic(3000, 3)
        real_groups = train_groups = None
        source = "synthetic rolls (POP909 not found)"
    print(f"data: {source}, loaded in {time.perf_counter() - started:.1f} s")

    both = np.concatenate([real, generated])[: 2 * args.n]
    started = time.perf_counter()
    metrics.features(both)
    print(f"featurise {len(both)} windows (scalar metrics): {time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    compare.classifier_features(both)
    print(f"featurise {len(both)} windows (classifier features): {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    result = evaluate.evaluate(generated, real, train, None, real_groups, train_groups, seed=0, progress=False)
    with tempfile.TemporaryDirectory() as out:
        evaluate.write_outputs(result, generated, real, out)
    total = time.perf_counter() - started
    for stage, seconds in result.report["seconds"].items():
        print(f"  {stage}: {seconds:.2f} s")
    print(f"full comparison, {len(generated)} generated vs {len(real)} real vs {len(train)} training windows: {total:.1f} s")
    for line in evaluate.summary_lines(result.report):
        print("  " + line)


if __name__ == "__main__":
    main()
