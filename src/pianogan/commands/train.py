"""``pianogan train DATASET -o RUN``: train a GAN (or continue one with --resume)."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

from pianogan.training.backends import BACKENDS
from pianogan.training.choices import CHOICES
from pianogan.training.config import RECIPES, TrainConfig

# Every TrainConfig field with a help text is an option; recipe selects a preset, not a value.
OPTIONS = [f for f in dataclasses.fields(TrainConfig) if "help" in f.metadata]
TUNABLE = [f.name for f in OPTIONS if f.name not in ("recipe", "steps")]


def _help(name: str, default, text: str) -> str:
    """The field's help with its default, and the seed recipe's value where it differs."""
    seed = RECIPES["seed"].get(name, default)
    return f"{text} (default {default}" + (f"; seed recipe {seed}" if seed != default else "") + ")"


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
    for f in OPTIONS:
        extra = {"choices": CHOICES[f.name]} if f.name in CHOICES else {"type": type(f.default)}
        p.add_argument(f"--{f.name.replace('_', '-')}", default=None, help=_help(f.name, f.default, f.metadata["help"]), **extra)
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
        choices=BACKENDS,
        default=None,
        help="Keras backend that trains (default: $KERAS_BACKEND, else tensorflow); jax and torch install as extras: pip install 'pianogan[jax]'",
    )
    p.add_argument(
        "--devices",
        default="1",
        metavar="N|all",
        help="devices per process that share each batch (data parallel, same global batch; default 1); more than one needs --backend jax or tensorflow",
    )
    p.add_argument(
        "--num-processes",
        type=int,
        default=None,
        metavar="N",
        help="processes training together: one per machine under --backend jax, one per device under torch (default 1; under torch, torchrun's WORLD_SIZE)",
    )
    p.add_argument(
        "--process-id",
        type=int,
        default=None,
        metavar="I",
        help="this process's number, 0 to N-1; process 0 writes the run folder (default 0; under torch, torchrun's RANK)",
    )
    p.add_argument(
        "--coordinator",
        default=None,
        metavar="HOST:PORT",
        help="address where process 0 meets the others (with --num-processes; under torch, torchrun's MASTER_ADDR:MASTER_PORT)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pianogan.training.backends import check_backend
    from pianogan.training.options import check_options, check_resume_backend, check_run

    explicit = {name: getattr(args, name) for name in TUNABLE}
    check_options({**explicit, "steps": args.steps, "time_limit": args.time_limit})  # all before Keras loads
    backend = args.backend or os.environ.get("KERAS_BACKEND") or "tensorflow"
    placement = _placement(args, _torchrun_env(backend))
    check_backend(backend)
    if placement.writes or args.resume:
        check_run(args.dataset, args.output, args.split, args.resume)
    if args.resume:
        check_resume_backend(args.output, backend)
    _choose_backend(backend)

    from pianogan.training.config import recipe_config
    from pianogan.training.train import train

    config = recipe_config(args.recipe or "ours", steps=args.steps, **explicit)
    explicit["recipe"] = args.recipe
    verbose = 0 if args.quiet or not placement.writes else 1
    folder = train(args.dataset, args.output, config, resume=args.resume, explicit=explicit, verbose=verbose, time_limit=args.time_limit, placement=placement)
    if not placement.writes:
        return 0
    print(f"run in {folder}: generator {folder / 'generator.keras'}")
    return 0


def _torchrun_env(backend: str) -> dict[str, str]:
    """What ``torchrun`` told this process (WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT), under
    --backend torch, which trains one process per device as torchrun launches them; nothing
    under JAX, whose processes are one per machine."""
    names = ("WORLD_SIZE", "RANK", "MASTER_ADDR", "MASTER_PORT")
    return {name: os.environ[name] for name in names if name in os.environ} if backend == "torch" else {}


def _placement(args: argparse.Namespace, launcher: dict[str, str]):
    """``--devices``, ``--num-processes``, ``--process-id`` and ``--coordinator`` as a ``Placement``;
    the last three, where left out, from ``launcher`` (``_torchrun_env``)."""
    from pianogan.errors import PianoganError
    from pianogan.training.backends import Placement

    if args.devices != "all" and not (args.devices.isdigit() and int(args.devices) >= 1):
        raise PianoganError(f"--devices must be a whole number of at least 1 or 'all', got {args.devices!r}")
    processes = args.num_processes if args.num_processes is not None else _whole(launcher, "WORLD_SIZE", 1)
    process_id = args.process_id if args.process_id is not None else _whole(launcher, "RANK", 0)
    coordinator = args.coordinator
    if coordinator is None and "MASTER_ADDR" in launcher and "MASTER_PORT" in launcher:
        coordinator = f"{launcher['MASTER_ADDR']}:{launcher['MASTER_PORT']}"
    if processes < 1:
        raise PianoganError(f"--num-processes must be at least 1, got {processes}")
    if not 0 <= process_id < processes:
        raise PianoganError(f"--process-id must be at least 0 and below --num-processes {processes}, got {process_id}")
    if processes > 1 and not coordinator:
        raise PianoganError(f"--num-processes {processes} needs --coordinator HOST:PORT (process 0's address)")
    devices = None if args.devices == "all" else int(args.devices)
    return Placement(devices, processes, process_id, coordinator)


def _whole(launcher: dict[str, str], name: str, default: int) -> int:
    """The whole number in ``launcher[name]``, ``default`` without one; a one-line error for anything else."""
    from pianogan.errors import PianoganError

    value = launcher.get(name, str(default))
    if not value.isdigit():
        raise PianoganError(f"{name}={value!r} (from the launcher) is not a whole number")
    return int(value)


def _choose_backend(backend: str) -> None:
    """Have Keras load ``backend``: it reads KERAS_BACKEND once, when first imported."""
    from pianogan.errors import PianoganError

    if "keras" in sys.modules:
        loaded = sys.modules["keras"].backend.backend()
        if loaded != backend:
            raise PianoganError(f"--backend {backend}: Keras is already loaded here with {loaded}; start a new process with KERAS_BACKEND={backend}")
        return
    os.environ["KERAS_BACKEND"] = backend
