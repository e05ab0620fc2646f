"""Training speed of the default, bars and seed architectures side by side (TensorFlow, CPU).

Prints steps/s at batch 32 and the achieved GFLOP/s (forward + backward counted as 3 x
the forward FLOPs of G on one batch and D on two), beside the machine's measured peak
(a large float32 matrix product). The seed architecture is timed at a small batch and
extrapolated linearly to 32, since one of its steps at batch 32 takes minutes here.

    python benchmarks/train_speed.py [--steps 30] [--seed-batch 1] [--no-seed]

``bars`` is timed with the shipped recipe (``--augment both``: DiffAugment's moves of D's
inputs cost a little on top of its FLOPs).
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from pianogan.data.batches import BatchMaker
from pianogan.models import architectures
from pianogan.training.train import Batches, build_gan, recipe_config


class StepTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.times = []

    def on_train_batch_end(self, batch, logs=None):
        self.times.append(time.perf_counter())


def seconds_per_step(arch: str, batch_size: int, steps: int, augment: str = "real") -> float:
    """Median seconds per training step after the first (tracing) steps."""
    config = recipe_config("ours", arch=arch, batch_size=batch_size, steps=steps, augment=augment)
    gan = build_gan(config)
    windows = np.random.default_rng(0).random((64, 106, 300)) < 0.03
    maker = BatchMaker(windows, batch_size, config.latent_dim, seed=0, max_transpose=6, time_shift=True)
    timer = StepTimer()
    gan.fit(Batches(maker, 0, steps), epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    return float(np.median(np.diff(timer.times[2:])))


def peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Float32 matrix-product throughput of this machine, the practical peak."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    tf.matmul(a, a).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        tf.matmul(a, a).numpy()
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def step_gflop(arch: str, batch_size: int) -> float:
    generator, discriminator = architectures.build(arch)
    return 3 * (batch_size * architectures.count_flops(generator) + 2 * batch_size * architectures.count_flops(discriminator)) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps timed for the default architecture")
    parser.add_argument("--seed-batch", type=int, default=1, help="batch size the seed architecture is timed at")
    parser.add_argument("--no-seed", action="store_true", help="leave out the seed architecture (minutes per step)")
    args = parser.parse_args()

    peak = peak_gflops()
    default_s = seconds_per_step("default", 32, args.steps)
    bars_s = seconds_per_step("bars", 32, args.steps, augment="both")
    rows = [("default", 32, default_s, step_gflop("default", 32)), ("bars (DiffAugment)", 32, bars_s, step_gflop("bars", 32))]
    if not args.no_seed:
        seed_s = seconds_per_step("seed", args.seed_batch, 5) * 32 / args.seed_batch
        rows.append((f"seed (batch {args.seed_batch} x {32 // args.seed_batch})", 32, seed_s, step_gflop("seed", 32)))
    print(f"machine peak (float32 matmul): {peak:.0f} GFLOP/s, {os.cpu_count()} cores, keras {keras.__version__} ({keras.backend.backend()})")
    print(f"{'architecture':<24}{'batch':>6}{'s/step':>10}{'steps/s':>9}{'GFLOP/step':>12}{'GFLOP/s':>9}{'of peak':>9}")
    for name, batch, seconds, gflop in rows:
        print(f"{name:<24}{batch:>6}{seconds:>10.3f}{1 / seconds:>9.2f}{gflop:>12.1f}{gflop / seconds:>9.0f}{gflop / seconds / peak:>9.0%}")
    print(f"a bars step costs {bars_s / default_s:.2f}x a default step")
    if not args.no_seed:
        print(f"default is {seed_s / default_s:.0f}x faster per step than seed at batch 32")


if __name__ == "__main__":
    main()
