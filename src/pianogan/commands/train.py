"""``pianogan train DATASET -o RUN``: train a GAN (or continue one with --resume)."""

from __future__ import annotations

import argparse
import os
import sys

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
    p.add_argument("--resume", action="store_true", help="continue the run in RUN from its checkpoint (under the backend it was trained with)")
    p.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "torch"],
        default=None,
        help="Keras backend that trains (default: $KERAS_BACKEND, else tensorflow); jax and torch install as extras: pip install 'pianogan[jax]'",
    )
    p.add_argument(
        "--devices",
        default="1",
        metavar="N|all",
        help="devices per process that share each batch (data parallel, same global batch; default 1); more than one needs --backend jax",
    )
    p.add_argument("--num-processes", type=int, default=1, metavar="N", help="processes training together, one per machine (--backend jax; default 1)")
    p.add_argument("--process-id", type=int, default=0, metavar="I", help="this process's number, 0 to N-1; process 0 writes the run folder (default 0)")
    p.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="address where process 0 meets the others (with --num-processes)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.training.backends import check_backend
    from pianogan.training.options import check_options, check_resume_backend, check_run

    explicit = {name: getattr(args, name) for name in TUNABLE}
    check_options({**explicit, "steps": args.steps, "time_limit": args.time_limit})  # all before Keras loads
    placement = _placement(args)
    backend = args.backend or os.environ.get("KERAS_BACKEND") or "tensorflow"
    check_backend(backend)
    if placement.writes or args.resume:
        check_run(args.dataset, args.output, args.split, args.resume)
    if args.resume:
        check_resume_backend(args.output, backend)
    _choose_backend(backend)

    from pianogan.training.train import recipe_config, train

    config = recipe_config(args.recipe or "ours", steps=args.steps, **explicit)
    explicit["recipe"] = args.recipe
    verbose = 0 if args.quiet or not placement.writes else 1
    folder = train(args.dataset, args.output, config, resume=args.resume, explicit=explicit, verbose=verbose, time_limit=args.time_limit, placement=placement)
    if not placement.writes:
        return 0
    print(f"run in {folder}: generator {folder / 'generator.keras'}")
    return 0


def _placement(args: argparse.Namespace):
    """``--devices``, ``--num-processes``, ``--process-id`` and ``--coordinator`` as a ``Placement``."""
    from pianogan.errors import PianoganError
    from pianogan.training.backends import Placement

    if args.devices != "all" and not (args.devices.isdigit() and int(args.devices) >= 1):
        raise PianoganError(f"--devices must be a whole number of at least 1 or 'all', got {args.devices!r}")
    if args.num_processes < 1:
        raise PianoganError(f"--num-processes must be at least 1, got {args.num_processes}")
    if not 0 <= args.process_id < args.num_processes:
        raise PianoganError(f"--process-id must be at least 0 and below --num-processes {args.num_processes}, got {args.process_id}")
    if args.num_processes > 1 and not args.coordinator:
        raise PianoganError(f"--num-processes {args.num_processes} needs --coordinator HOST:PORT (process 0's address)")
    devices = None if args.devices == "all" else int(args.devices)
    return Placement(devices, args.num_processes, args.process_id, args.coordinator)


def _choose_backend(backend: str) -> None:
    """Have Keras load ``backend``: it reads KERAS_BACKEND once, when first imported."""
    from pianogan.errors import PianoganError

    if "keras" in sys.modules:
        loaded = sys.modules["keras"].backend.backend()
        if loaded != backend:
            raise PianoganError(f"--backend {backend}: Keras is already loaded here with {loaded}; start a new process with KERAS_BACKEND={backend}")
        return
    os.environ["KERAS_BACKEND"] = backend
