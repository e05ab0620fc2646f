"""``pianogan info ARCH``: parameters and forward cost of an architecture's G and D."""

from __future__ import annotations

import argparse

from pianogan.constants import LATENT_DIM
from pianogan.training.choices import CHOICES


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "info",
        help="parameters and FLOPs of an architecture",
        description="Print the parameter counts and forward cost (FLOPs counted from the layer "
        "shapes, a multiply and an add = 2 FLOPs) of an architecture's generator and discriminator.",
    )
    p.add_argument("arch", metavar="ARCH", choices=CHOICES["arch"], help=", ".join(CHOICES["arch"]))
    p.add_argument("--latent-dim", type=int, default=LATENT_DIM, help=f"latent vector size (default {LATENT_DIM})")
    p.add_argument("--batch-size", type=int, default=32, help="batch size for the per-step estimate (default 32)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.training.options import check_options

    check_options({"latent_dim": args.latent_dim, "batch_size": args.batch_size})  # before Keras loads

    from pianogan.models.architectures import build, count_flops, voiced_to_roll

    generator, discriminator = build(args.arch, args.latent_dim)
    g_flops, d_flops = count_flops(generator), count_flops(discriminator)
    # Forward + backward is about 3x forward; a step runs G on one batch, D on two.
    step = 3 * args.batch_size * g_flops + 3 * 2 * args.batch_size * d_flops
    print(f"architecture: {args.arch} (latent {args.latent_dim})")
    voices = generator.output.shape[-1] - 1
    merged = f" (merged from {voices} voices; the training output holds them too)" if voices else ""
    print(f"generator: {generator.count_params():,} parameters, output {tuple(voiced_to_roll(generator).output.shape[1:])}{merged}")
    print(f"GFLOP per image: {g_flops / 1e9:.3f}")
    print(f"discriminator: {discriminator.count_params():,} parameters, {d_flops / 1e9:.3f} GFLOP per image")
    print(f"training step at batch {args.batch_size}: about {step / 1e9:.1f} GFLOP (3 x forward; G on {args.batch_size}, D on {2 * args.batch_size})")
    return 0
