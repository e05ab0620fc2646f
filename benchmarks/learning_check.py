"""Is the generator learning, not just running? Diversity and density of 64 samples.

Compares 64 samples of a generator with 64 random real windows of a dataset split:
mean pairwise IoU of the binarised rolls (one piece repeated gives an IoU near 1) and
the share of lit pixels. The target: samples' IoU below the real windows' IoU + 0.1,
and their lit share within a factor 2 of the real share. With --run it also draws the
run's loss curves, and with -o it writes both figures there.

    python benchmarks/learning_check.py --model RUN/generator.keras --dataset DATA [--run RUN] [-o docs/]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np

from pianogan.data.datasets import load_split
from pianogan.evaluation.compare import diversity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="generator .keras file")
    parser.add_argument("--dataset", required=True, help="prepared dataset folder")
    parser.add_argument("--split", default="train")
    parser.add_argument("--run", help="run folder, for the loss curves")
    parser.add_argument("-o", "--output", help="folder for samples.png and curves.png")
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from pianogan.compose.generate import sample
    from pianogan.models.modelio import load_generator

    samples = np.stack([piece.roll for piece in sample(load_generator(args.model), n=args.n, seed=args.seed)])
    real = load_split(args.dataset, args.split)
    real = real[np.random.default_rng(args.seed).choice(len(real), args.n, replace=False)]
    # Mean pairwise IoU is 1 - diversity, every pair counted (no subsampling).
    fake_iou, real_iou = (1.0 - diversity(rolls, max_pieces=len(rolls)) for rolls in (samples, real))
    fake_lit, real_lit = float(samples.mean()), float(real.mean())
    print(f"{'':<22}{'samples':>10}{'real':>10}")
    print(f"{'mean pairwise IoU':<22}{fake_iou:>10.4f}{real_iou:>10.4f}   target: samples < real + 0.1 -> {'met' if fake_iou < real_iou + 0.1 else 'MISSED'}")
    print(
        f"{'lit-pixel share':<22}{fake_lit:>10.4f}{real_lit:>10.4f}   ratio {fake_lit / real_lit:.2f}, target 0.5..2 -> {'met' if 0.5 <= fake_lit / real_lit <= 2 else 'MISSED'}"
    )
    if args.output:
        import matplotlib

        matplotlib.use("Agg")
        from PIL import Image

        from pianogan.training.train import sample_grid

        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sample_grid(samples[:16])).save(out / "samples.png")
        if args.run:
            from pianogan.training.runlog import plot_run

            plot_run(args.run).savefig(out / "curves.png", dpi=80)
        print(f"figures in {out}")


if __name__ == "__main__":
    main()
