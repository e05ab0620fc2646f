"""Training speed of the default, bars, bars-lead, bars-voices and seed architectures, and of each Keras backend, side by side.

Prints steps/s at batch 32 and the achieved GFLOP/s (forward + backward counted as 3 x
the forward FLOPs of G on one batch and D on two), beside the machine's measured peak
(a large float32 matrix product). The seed architecture is timed at a small batch and
extrapolated linearly to 32, since one of its steps at batch 32 takes minutes here.
The architectures are timed under TensorFlow; then the default architecture is timed
under each installed backend (TensorFlow, JAX, PyTorch), each in its own process since
Keras picks its backend once per process, with the first step's time (tracing or
compilation) beside the steady one.

    python benchmarks/train_speed.py [--steps 30] [--seed-batch 1] [--no-seed] [--backends tensorflow,jax,torch] [--backend-steps 10]

``bars`` is timed with ``--augment both`` (DiffAugment's moves of D's inputs cost a little
on top of its FLOPs), and again with the shipped generator's whole recipe (drawn notes
too: one uniform draw per pixel of D's generated input), with and without texture
matching (``--texture-matching``: the texture figures of G's batch and their gradient),
with its kernel discrepancy as well (``--texture-kernel``), with its discrepancy
figure by figure on top (``--texture-marginals``), and with a critic of the figures
beside D (``--figure-critic``: the real batch's figures, and the critic's own update),
that last one again with the figures read as plain TensorFlow operations rather than
compiled by XLA, as the step read them before, and with that critic's memory
(``--critic-memory``: one remembered batch more for it).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np

from pianogan.data.batches import BatchMaker
from pianogan.models import architectures
from pianogan.training import backends
from pianogan.training.config import recipe_config
from pianogan.training.train import build_gan, real_texture_figures

SHIPPED_RECIPE = dict(augment="both", key_mode="normalise", fakes="stochastic", r1_gamma=10.0, lr_d=1e-4)  # models/MODEL_CARD.md


def step_times(arch: str, batch_size: int, steps: int, compiled_figures: bool = True, **options) -> list[float]:
    """Seconds of each of ``steps`` training steps, each waited for (a logged figure is read,
    as the trainer's log does: JAX would otherwise return before the step is done).
    ``compiled_figures=False`` reads the texture figures as plain operations, as the
    TensorFlow step did before it compiled them."""
    config = recipe_config("ours", arch=arch, batch_size=batch_size, steps=steps, **options)
    backend = backends.load()
    backend.enable_determinism()
    rng = np.random.default_rng(0)
    windows = rng.random((64, 106, 300)) < 0.03
    if architectures.is_voiced(arch):  # voice masks: each sounding pixel in one to three voices
        windows = (windows * rng.integers(1, 8, windows.shape)).astype(np.uint8)
    maker = BatchMaker(windows, batch_size, config.latent_dim, seed=0, max_transpose=6, time_shift=True, voice_groups=architectures.VOICE_GROUPS.get(arch))
    gan = build_gan(config, real_texture_figures(maker) if config.uses_texture else None)
    step = backend.make_step(gan)
    if not compiled_figures:
        gan.compile_figures(lambda read: read)  # before the step is traced at its first batch
    times = []
    for index in range(steps):
        batch = maker.batch(index)
        began = time.perf_counter()
        float(step(batch)["d_loss"])
        times.append(time.perf_counter() - began)
    return times


def seconds_per_step(arch: str, batch_size: int, steps: int, compiled_figures: bool = True, **options) -> float:
    """Median seconds per training step after the first two (tracing) steps; ``options`` are TrainConfig fields."""
    return float(np.median(step_times(arch, batch_size, steps, compiled_figures, **options)[2:]))


def peak_gflops(size: int = 2048, repeats: int = 10) -> float:
    """Float32 matrix-product throughput of this machine under the running backend, the practical peak."""
    a = keras.random.normal((size, size), seed=0)
    keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
    start = time.perf_counter()
    for _ in range(repeats):
        keras.ops.convert_to_numpy(keras.ops.matmul(a, a))
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def backend_row(backend: str, steps: int) -> dict:
    """The default architecture's step under ``backend``, timed in a process of its own."""
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, __file__, "--worker", "--backend-steps", str(steps)], capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{backend}: {done.stderr.strip().splitlines()[-1]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(steps: int) -> None:
    """One backend's figures as a JSON line (run with KERAS_BACKEND set)."""
    times = step_times("default", 32, steps)
    print(json.dumps({"first": times[0], "seconds": float(np.median(times[2:])), "peak": peak_gflops()}))


def step_gflop(arch: str, batch_size: int) -> float:
    generator, discriminator = architectures.build(arch)
    return 3 * (batch_size * architectures.count_flops(generator) + 2 * batch_size * architectures.count_flops(discriminator)) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps timed for the default architecture")
    parser.add_argument("--seed-batch", type=int, default=1, help="batch size the seed architecture is timed at")
    parser.add_argument("--no-seed", action="store_true", help="leave out the seed architecture (minutes per step)")
    installed = ",".join(name for name in backends.BACKENDS if importlib.util.find_spec(name))
    parser.add_argument("--backends", default=installed, help=f"backends to time the default architecture under (default: those installed, {installed})")
    parser.add_argument("--backend-steps", type=int, default=10, help="steps timed per backend")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.backend_steps)
        return

    peak = peak_gflops()
    default_s = seconds_per_step("default", 32, args.steps)
    bars_s = seconds_per_step("bars", 32, args.steps, augment="both")
    shipped_s = seconds_per_step("bars", 32, args.steps, **SHIPPED_RECIPE)
    texture_s = seconds_per_step("bars", 32, args.steps, **SHIPPED_RECIPE, texture_matching=1.0)
    kernel_s = seconds_per_step("bars", 32, args.steps, **SHIPPED_RECIPE, texture_matching=1.0, texture_kernel=1.0)
    marginals_s = seconds_per_step("bars", 32, args.steps, **SHIPPED_RECIPE, texture_matching=1.0, texture_kernel=1.0, texture_marginals=1.0)
    with_critic = dict(SHIPPED_RECIPE, texture_matching=1.0, texture_kernel=1.0, texture_marginals=1.0, figure_critic=1.0)
    critic_s = seconds_per_step("bars", 32, args.steps, **with_critic)
    plain_s = seconds_per_step("bars", 32, args.steps, compiled_figures=False, **with_critic)
    memory_s = seconds_per_step("bars", 32, args.steps, **with_critic, critic_memory=400)
    lead_s = seconds_per_step("bars-lead", 32, args.steps, **SHIPPED_RECIPE)
    lead_voices_s = seconds_per_step("bars-lead-voices", 32, args.steps, **SHIPPED_RECIPE)
    voices_s = seconds_per_step("bars-voices", 32, args.steps, augment="both")
    rows = [
        ("default", 32, default_s, step_gflop("default", 32)),
        ("bars (DiffAugment)", 32, bars_s, step_gflop("bars", 32)),
        ("bars, shipped recipe", 32, shipped_s, step_gflop("bars", 32)),
        ("the same, texture matching", 32, texture_s, step_gflop("bars", 32)),
        ("the same, and its kernel", 32, kernel_s, step_gflop("bars", 32)),
        ("the same, and each shape", 32, marginals_s, step_gflop("bars", 32)),
        ("the same, and a figure critic", 32, critic_s, step_gflop("bars", 32)),
        ("the same, figures plain", 32, plain_s, step_gflop("bars", 32)),
        ("the critic, and its memory", 32, memory_s, step_gflop("bars", 32)),
        ("bars-lead, same recipe", 32, lead_s, step_gflop("bars-lead", 32)),
        ("bars-lead-voices, same", 32, lead_voices_s, step_gflop("bars-lead-voices", 32)),
        ("bars-voices (DiffAugment)", 32, voices_s, step_gflop("bars-voices", 32)),
    ]
    if not args.no_seed:
        seed_s = seconds_per_step("seed", args.seed_batch, 5) * 32 / args.seed_batch
        rows.append((f"seed (batch {args.seed_batch} x {32 // args.seed_batch})", 32, seed_s, step_gflop("seed", 32)))
    print(f"machine peak (float32 matmul): {peak:.0f} GFLOP/s, {os.cpu_count()} cores, keras {keras.__version__} ({keras.backend.backend()})")
    print(f"{'architecture':<27}{'batch':>6}{'s/step':>10}{'steps/s':>9}{'GFLOP/step':>12}{'GFLOP/s':>9}{'of peak':>9}")
    for name, batch, seconds, gflop in rows:
        print(f"{name:<27}{batch:>6}{seconds:>10.3f}{1 / seconds:>9.2f}{gflop:>12.1f}{gflop / seconds:>9.0f}{gflop / seconds / peak:>9.0%}")
    print(
        f"a bars step costs {bars_s / default_s:.2f}x a default step, with the shipped recipe {shipped_s / default_s:.2f}x "
        f"({texture_s / default_s:.2f}x with texture matching, {kernel_s / default_s:.2f}x with its kernel as well, "
        f"{marginals_s / default_s:.2f}x with each figure's shape too, {critic_s / default_s:.2f}x with a figure critic as well "
        f"({plain_s / default_s:.2f}x with the figures read as plain operations, not compiled by XLA), "
        f"{memory_s / default_s:.2f}x with its memory), "
        f"bars-lead and bars-lead-voices with that recipe {lead_s / default_s:.2f}x and {lead_voices_s / default_s:.2f}x, "
        f"a bars-voices step {voices_s / default_s:.2f}x"
    )
    if not args.no_seed:
        print(f"default is {seed_s / default_s:.0f}x faster per step than seed at batch 32")

    gflop = step_gflop("default", 32)
    print(f"\ndefault architecture, batch 32, by backend ({args.backend_steps} steps each; first step: tracing or compilation):")
    print(f"{'backend':<12}{'s/step':>10}{'steps/s':>9}{'GFLOP/s':>9}{'of peak':>9}{'first step s':>14}")
    for backend in args.backends.split(","):
        row = backend_row(backend, args.backend_steps)
        print(
            f"{backend:<12}{row['seconds']:>10.3f}{1 / row['seconds']:>9.2f}{gflop / row['seconds']:>9.0f}{gflop / row['seconds'] / row['peak']:>9.0%}{row['first']:>14.1f}"
        )


if __name__ == "__main__":
    main()
