"""Training options and run folders, checked without Keras.

``pianogan train`` imports TensorFlow (about 15 s) only after everything here has passed,
so a mistyped option, a missing dataset or a damaged run folder is a one-line error at
once; ``train.train`` runs the same checks for callers of the library. The option rules
also check a stored ``config.json`` on ``--resume``: a value typed into it by hand must
obey the same limits as one given on the command line.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pianogan.data.datasets import check_split, npz_arrays
from pianogan.errors import PianoganError
from pianogan.io.outputs import Outputs
from pianogan.training.choices import CHOICES
from pianogan.training.runlog import LOG, read_log

CHECKPOINT = "checkpoint.npz"
CONFIG = "config.json"
GENERATOR = "generator.keras"
RUN_FILES = (CONFIG, CHECKPOINT, GENERATOR, LOG)
SAMPLES = "samples"
OUTPUT_GROUP = "train"


@dataclass(frozen=True)
class Number:
    """A numeric option's type and range: ``low`` and ``high`` are included unless ``open_low``/``open_high``."""

    kind: type
    low: float
    high: float
    open_low: bool = False
    open_high: bool = False

    def problem(self, value: object) -> str | None:
        """Why ``value`` is not allowed, or None."""
        is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind is int and not (is_number and isinstance(value, int)):
            return f"must be a whole number, got {value!r}"
        if not is_number or not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        above = value > self.low if self.open_low else value >= self.low
        below = value < self.high if self.open_high else value <= self.high
        if above and below:
            return None
        low, high = (f"{int(v):,}" if self.kind is int else f"{v:g}" for v in (self.low, self.high))
        return f"must be {'above' if self.open_low else 'at least'} {low} and {'below' if self.open_high else 'at most'} {high}, got {value!r}"


BATCH_LIMIT = 4096  # 4096 windows of 106 x 300 float32 are 520 MB per tensor
NUMBERS: dict[str, Number] = {
    "steps": Number(int, 1, 1e9),
    "batch_size": Number(int, 1, BATCH_LIMIT),
    "seed": Number(int, 0, 2**32 - 1),  # Keras seeds its generators with 32 bits
    "latent_dim": Number(int, 1, 4096),
    "lr_g": Number(float, 0, 1, open_low=True),
    "lr_d": Number(float, 0, 1, open_low=True),
    "beta_1": Number(float, 0, 1, open_high=True),
    "beta_2": Number(float, 0, 1, open_high=True),
    "clipvalue": Number(float, 0, 1e6, open_low=True),
    "r1_gamma": Number(float, 0, 1e6),
    "texture_matching": Number(float, 0, 1e6),
    "texture_kernel": Number(float, 0, 1e6),
    "texture_marginals": Number(float, 0, 1e6),
    "figure_critic": Number(float, 0, 1e6),
    "critic_r1_gamma": Number(float, 0, 1e6),
    "critic_memory": Number(int, 0, 1e9),
    "mode_seeking": Number(float, 0, 1e6),
    "ema_decay": Number(float, 0, 1, open_high=True),
    "lr_decay_steps": Number(int, 0, 1e9),
    "draw_band": Number(float, 0, 0.5, open_low=True),
    "max_transpose": Number(int, 0, 12),
    "min_span": Number(float, 0, 1),
    "sample_every": Number(int, 1, 1e9),
    "checkpoint_every": Number(int, 1, 1e9),
    "time_limit": Number(float, 0, 1e9, open_low=True),
}
FLAGS = ("hard_fakes", "shuffle", "time_shift")
UNSET_ALLOWED = ("clipvalue",)  # options whose stored value may be null


def option_problem(name: str, value: object) -> str | None:
    """Why ``value`` is not allowed for the training option ``name`` (None: allowed, or
    an option these rules do not know)."""
    if name in NUMBERS:
        return NUMBERS[name].problem(value)
    if name in CHOICES and value not in CHOICES[name]:
        return f"must be one of {', '.join(CHOICES[name])}, got {value!r}"
    if name in FLAGS and not isinstance(value, bool):
        return f"must be true or false, got {value!r}"
    return None


def check_options(values: dict) -> None:
    """One-line error naming the first option (``--name``) whose value is not allowed; None means unset."""
    for name, value in values.items():
        problem = None if value is None else option_problem(name, value)
        if problem:
            raise PianoganError(f"--{name.replace('_', '-')} {problem}")


def check_combinations(values: dict) -> None:
    """One-line error for options that work only together, read on a run's whole configuration."""
    if values.get("critic_memory") and not values.get("figure_critic"):
        raise PianoganError("--critic-memory is the figure critic's memory: it needs --figure-critic W above 0")
    if values.get("lr_decay_steps", 0) > values.get("steps", 0):
        raise PianoganError(f"--lr-decay-steps {values['lr_decay_steps']} must be at most --steps ({values.get('steps')})")


def read_config(run: Path) -> dict:
    """RUN/config.json as stored, with its ``train`` options checked like command-line ones."""
    path = run / CONFIG
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        options = stored["train"]
        if not isinstance(options, dict):
            raise TypeError("'train' is not an object")
    except FileNotFoundError:
        raise PianoganError(f"{path}: not found; nothing to resume in {run}") from None
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
        raise PianoganError(f"{path}: unreadable run configuration ({error})") from None
    for name, value in options.items():
        problem = None if value is None and name in UNSET_ALLOWED else option_problem(name, value)
        if problem:
            raise PianoganError(f"{path}: train.{name} {problem}; fix it or start a new run")
    return stored


def decay_start(steps: int, lr_decay_steps: int) -> float:
    """The step at which a run's learning rates begin to fall (infinity: they never do)."""
    return steps - lr_decay_steps if lr_decay_steps else math.inf


def check_resume_schedule(run: Path, stored: dict, steps: int, lr_decay_steps: int, start: int) -> None:
    """One-line error when continuing RUN (stored ``config.json`` options ``stored``) from step
    ``start`` with ``steps`` and ``lr_decay_steps`` would change the learning rates of steps
    already taken: the schedule may be set or moved only while neither the stored one nor the
    new one has begun to fall, so that ``config.json`` describes every step of the run."""
    before = (stored.get("steps", steps), stored.get("lr_decay_steps", 0))
    if before == (steps, lr_decay_steps) or min(decay_start(*before), decay_start(steps, lr_decay_steps)) >= start:
        return
    if decay_start(*before) < start:
        raise PianoganError(
            f"{run}: its learning rates began to fall at step {decay_start(*before):.0f} (--steps {before[0]} --lr-decay-steps {before[1]}), "
            "so it continues only on that schedule; start another run to train further"
        )
    raise PianoganError(
        f"{run}: --lr-decay-steps {lr_decay_steps} would start the fall at step {decay_start(steps, lr_decay_steps):.0f}, before its "
        f"checkpoint's step {start}; with --steps {steps} use at most {steps - start}"
    )


def check_resume_backend(run: str | os.PathLike, backend: str) -> None:
    """One-line error when RUN was trained under another Keras backend: kernels and random
    streams differ between backends, so a checkpoint continues exactly only under its own
    (its generator, though, loads and samples under any)."""
    run = Path(run)
    trained = read_config(run).get("backend", "tensorflow")
    if trained != backend:
        raise PianoganError(f"{run} was trained with --backend {trained}, not {backend}; resume it with --backend {trained} or use another folder")


def check_checkpoint(run: Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """The shape and dtype of every array of RUN/checkpoint.npz, from its headers alone;
    a missing or damaged checkpoint is a one-line error."""
    path = run / CHECKPOINT
    if not path.is_file():
        raise PianoganError(f"{path}: no checkpoint to resume from")
    try:
        return npz_arrays(path)
    except PianoganError as error:
        raise PianoganError(f"{path}: corrupt checkpoint ({str(error).removeprefix(f'{path}: ')})") from None


def run_outputs(run: Path) -> Outputs:
    """The run folder as an output folder. The files of a run made before pianogan listed
    what it wrote (a ``config.json`` with ``pianogan_version``, and its sample grids) are
    taken as pianogan's own, so that such a run can be resumed."""
    outputs = Outputs.at(run)
    if _written_by_pianogan(run / CONFIG):
        outputs.adopt([*RUN_FILES, *(f"{SAMPLES}/{path.name}" for path in (run / SAMPLES).glob("step_*.png"))], OUTPUT_GROUP)
    return outputs


def _written_by_pianogan(config: Path) -> bool:
    try:
        stored = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(stored, dict) and "pianogan_version" in stored and isinstance(stored.get("train"), dict)


def check_run(dataset: str | os.PathLike, run: str | os.PathLike, split: str | None, resume: bool) -> Outputs:
    """Check the dataset's split and the run folder before any training work.

    Without ``resume`` the folder must hold no checkpoint; with it, a readable
    ``config.json`` (whose split is then the one checked), ``train_log.csv`` and
    checkpoint (its headers). Files of a run's names that pianogan did not write are
    refused, and so is a folder that cannot be written. Returns the run folder's ``Outputs``.
    """
    run = Path(run)
    outputs = run_outputs(run)
    if resume:
        split = read_config(run)["train"].get("split", split)
        read_log(run)
        check_checkpoint(run)
    elif (run / CHECKPOINT).exists():  # a run stopped before its first checkpoint may start again
        raise PianoganError(f"{run} already holds a run; use --resume to continue it or choose another folder")
    check_split(dataset, split or "train")
    outputs.check(RUN_FILES)
    return outputs.probe()
