"""``pianogan train DATASET -o RUN``: train a GAN (or continue one with --resume)."""

from __future__ import annotations

import argparse

from pianogan.training.choices import CHOICES

TUNABLE = [
    "arch",
    "batch_size",
    "seed",
    "latent_dim",
    "loss",
    "lr_g",
    "lr_d",
    "r1_gamma",
    "ema_decay",
    "key_mode",
    "augment",
    "split",
    "min_span",
    "sample_every",
    "checkpoint_every",
]


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a GAN on a prepared dataset",
        description="Train a generator and discriminator on a dataset made by 'pianogan prepare'. "
        "RUN receives config.json, checkpoint.npz (whole state, written atomically), generator.keras "
        "(the generator, or its weight average with --ema-decay), train_log.csv, samples/ and logs/ (TensorBoard). Ctrl-C writes a checkpoint; "
        "--resume continues exactly where it stopped. Options left out take the recipe's values.",
    )
    p.add_argument("dataset", metavar="DATASET", help="dataset folder made by 'pianogan prepare'")
    p.add_argument("-o", "--output", required=True, metavar="RUN", help="run folder")
    p.add_argument(
        "--arch",
        choices=CHOICES["arch"],
        default=None,
        help="architecture (default: default; bars: per-bar codes and harmony, for bar-aligned data; bars-melody: bars whose "
        "discriminator also sees the top voice's intervals and the register)",
    )
    p.add_argument(
        "--recipe",
        choices=["ours", "seed"],
        default=None,
        help="training recipe: ours (default), or the seed project's (BCE with flipped labels, RMSprop, batch 16, no shuffling)",
    )
    p.add_argument("--steps", type=int, default=None, help="total steps; with --resume, training continues up to this many (default 2000)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size (default 32; seed recipe 16)")
    p.add_argument("--seed", type=int, default=None, help="seed for weights, batch order, augmentation and latents (default 0)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent vector size (default 14)")
    p.add_argument("--loss", choices=["nonsaturating", "hinge", "seed"], default=None, help="adversarial loss (default nonsaturating)")
    p.add_argument("--lr-g", type=float, default=None, help="generator learning rate (default 2e-4)")
    p.add_argument("--lr-d", type=float, default=None, help="discriminator learning rate (default 2e-4)")
    p.add_argument("--r1-gamma", type=float, default=None, help="weight of the R1 gradient penalty on real data; 0 turns it off (default 1)")
    p.add_argument(
        "--ema-decay",
        type=float,
        default=None,
        help="decay of the exponential moving average of the generator's weights, which is what gets saved; 0 (default) saves the generator itself. It may change on --resume: G and D never read it",
    )
    p.add_argument(
        "--key-mode",
        choices=["transpose", "normalise"],
        default=None,
        help="transpose: move each real window by a random transposition of up to 6 semitones (default); "
        "normalise: move every window to C major / A minor (the nearer way, kept on the piano), and let generate choose the key",
    )
    p.add_argument(
        "--augment",
        choices=["real", "both"],
        default=None,
        help="real: time shifts and transpositions of the real windows only (default); both: the discriminator's inputs, "
        "real and generated alike, move by whole bars and semitones and lose a bar at random (DiffAugment)",
    )
    p.add_argument("--split", default=None, help="dataset split to train on (default train)")
    p.add_argument(
        "--min-span",
        type=float,
        default=None,
        help="train only on windows whose music spans at least this share of their width (default 0.9: leaves out the mostly silent first and last windows of pieces; seed recipe 0)",
    )
    p.add_argument("--sample-every", type=int, default=None, help="write a sample grid every N steps (default 500)")
    p.add_argument("--checkpoint-every", type=int, default=None, help="write a checkpoint every N steps (default 500)")
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds (with a checkpoint), e.g. to compare recipes at equal budgets",
    )
    p.add_argument("--resume", action="store_true", help="continue the run in RUN from its checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.training.options import check_options, check_run

    explicit = {name: getattr(args, name) for name in TUNABLE}
    check_options({**explicit, "steps": args.steps, "time_limit": args.time_limit})  # all before TensorFlow loads
    check_run(args.dataset, args.output, args.split, args.resume)

    from pianogan.training.train import recipe_config, train

    config = recipe_config(args.recipe or "ours", steps=args.steps, **explicit)
    explicit["recipe"] = args.recipe
    folder = train(args.dataset, args.output, config, resume=args.resume, explicit=explicit, verbose=0 if args.quiet else 1, time_limit=args.time_limit)
    print(f"run in {folder}: generator {folder / 'generator.keras'}")
    return 0
