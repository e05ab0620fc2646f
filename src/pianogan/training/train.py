"""Training: the run folder, exact checkpoints and the loop with its callbacks.

A run folder holds ``config.json`` (every hyperparameter, the dataset's fingerprint and
the package version), ``checkpoint.npz`` (G, D, EMA G, both optimizers and the step, as
plain arrays: no pickle, written atomically), ``generator.keras`` (the generator, or its
weight average with ``--ema-decay``), ``train_log.csv``, ``samples/`` (grids from fixed
latents) and ``logs/`` (TensorBoard).
Every random draw is derived from (seed, step), so ``--resume`` continues exactly.

The loop is ours rather than ``fit()``'s: under JAX, ``fit()`` would compile the
model's own variables and its one optimizer into the step, while the GAN has two, and
the same few lines drive the TensorFlow, JAX and PyTorch steps (``backends``) and the
same Keras callbacks. Under several processes only process 0 writes the run folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from pianogan import __version__
from pianogan.data import datasets
from pianogan.data.batches import BatchMaker, d_channels, pitch_bounds
from pianogan.errors import PianoganError
from pianogan.interrupt import StopRequest, stop_on_signal
from pianogan.io.atomic import atomic_path, complete_png, complete_zip, write_text
from pianogan.io.outputs import Outputs
from pianogan.models import architectures, texture
from pianogan.models.gan import GAN
from pianogan.models.modelio import write_facts
from pianogan.music.keys import estimate_keys, fit_on_piano, key_registers, transposition_between
from pianogan.music.strays import decide_notes
from pianogan.roll import COLUMNS_PER_BAR as BAR_COLUMNS
from pianogan.roll import COLUMNS_PER_QUARTER, music_span, transpose
from pianogan.training import backends
from pianogan.training.backends import Placement
from pianogan.training.config import TrainConfig
from pianogan.training.options import (
    CHECKPOINT,
    CONFIG,
    GENERATOR,
    OUTPUT_GROUP,
    RUN_FILES,
    SAMPLES,
    check_checkpoint,
    check_combinations,
    check_options,
    check_resume_backend,
    check_resume_schedule,
    check_run,
    read_config,
)
from pianogan.training.runlog import LOG_FIELDS, TERM_FIELDS, read_log, write_log

SAMPLE_GRID = 16


def _make_optimizer(config: TrainConfig, learning_rate: float):
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate, clipvalue=config.clipvalue)
    return keras.optimizers.Adam(learning_rate, beta_1=config.beta_1, beta_2=config.beta_2, clipvalue=config.clipvalue)


def build_gan(config: TrainConfig, real_figures: np.ndarray | None = None):
    """G, D and the EMA generator with initial weights drawn from ``config.seed``; with
    texture matching, ``real_figures`` are the data's (``real_texture_figures`` below)."""
    keras.utils.set_random_seed(config.seed)
    stochastic = config.fakes == "stochastic"
    generator, discriminator = architectures.build(config.arch, config.latent_dim, config.draw_band if stochastic else None)
    ema_generator = keras.models.clone_model(generator)
    ema_generator.set_weights(generator.get_weights())
    augment_both = config.augment == "both"
    gan = GAN(
        generator,
        discriminator,
        ema_generator,
        loss=config.loss,
        r1_gamma=config.r1_gamma,
        texture_matching=config.texture_matching,
        texture_kernel=config.texture_kernel,
        texture_marginals=config.texture_marginals,
        figure_critic=config.figure_critic,
        critic_r1_gamma=config.critic_r1_gamma,
        critic_memory=config.critic_memory,
        batch_size=config.batch_size,
        mode_seeking=config.mode_seeking,
        real_figures=real_figures,
        ema_decay=config.ema_decay,
        hard_fakes=config.hard_fakes and not stochastic,  # drawn by D's first layer instead
        augment_both=augment_both,
    )
    gan.compile(_make_optimizer(config, config.lr_g), _make_optimizer(config, config.lr_d))
    return gan


TEXTURE_BATCHES = 64  # training batches whose texture G is asked to match


def real_texture_figures(maker: BatchMaker) -> np.ndarray:
    """The texture figures of the first training batches' windows, as G's texture matching
    sees real windows (key-normalised when the run is; voiced batches by their merged
    channel)."""
    return texture.texture_figures(np.concatenate([maker.real(step)[..., 0] for step in range(TEXTURE_BATCHES)]))


# --- checkpoints -------------------------------------------------------------------


def save_checkpoint(gan, run: Path) -> None:
    """Write the whole training state to RUN/checkpoint.npz atomically (temp + rename)."""
    arrays = {f"{group}/{i}": keras.ops.convert_to_numpy(v) for group, variables in gan.state_variables().items() for i, v in enumerate(variables)}
    with atomic_path(run / CHECKPOINT, check=complete_zip) as tmp:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
            handle.flush()
            os.fsync(handle.fileno())


def load_checkpoint(gan, run: Path) -> int:
    """Restore the state saved by ``save_checkpoint``; returns the step it was taken at.

    Every array's shape is compared with the model's from the file's headers first, so a
    damaged or foreign file is refused before anything is loaded."""
    path = run / CHECKPOINT
    stored = check_checkpoint(run)
    for group, variables in gan.state_variables().items():
        for i, variable in enumerate(variables):
            key = f"{group}/{i}"
            if key not in stored or stored[key][0] != tuple(variable.shape):
                raise PianoganError(f"{path}: checkpoint does not match this architecture ({key})")
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {key: saved[key] for key in saved.files}
    except Exception as error:
        raise PianoganError(f"{path}: corrupt checkpoint ({type(error).__name__}: {error})") from None
    for group, variables in gan.state_variables().items():
        for i, variable in enumerate(variables):
            variable.assign(arrays[f"{group}/{i}"])
    return int(gan.step_counter.numpy())


CALIBRATION_LATENTS = 1024


def export_generator(gan, seed: int):
    """A copy of the EMA generator with its own normalisation statistics, for sampling.

    The checkpoint keeps the EMA generator as trained (so a resumed run is exact); what
    is saved and sampled is this copy (see ``architectures.recalibrate_batch_norm``). With an
    EMA decay of 0 the average is the generator itself.
    """
    source = gan.generator if gan.ema_decay == 0 else gan.ema_generator
    with backends.load().local():  # on this process alone, however many devices train
        generator = keras.models.clone_model(source)
    generator.set_weights(source.get_weights())
    latents = np.random.default_rng([seed, 5]).standard_normal((CALIBRATION_LATENTS, generator.input.shape[-1]), dtype=np.float32)
    return architectures.voiced_to_roll(architectures.recalibrate_batch_norm(generator, latents))


def save_generator(generator, run: Path, facts: dict) -> None:
    """Save a generator from ``export_generator`` as RUN/generator.keras, with ``facts``
    about its training data inside (``modelio.write_facts``)."""
    with atomic_path(run / GENERATOR, suffix=".keras", check=complete_zip) as tmp:  # Keras wants the .keras suffix
        generator.save(tmp)
        write_facts(tmp, facts)


# --- pictures and logs -----------------------------------------------------------------


def sample_grid(rolls: np.ndarray, columns: int = 4) -> np.ndarray:
    """Tile bool rolls (N, 106, T) into one uint8 picture, high notes on top, white gaps."""
    count, height, width = rolls.shape
    rows = -(-count // columns)
    gap = 4
    picture = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), 255, dtype=np.uint8)
    for i, roll in enumerate(rolls):
        r, c = divmod(i, columns)
        tile = np.where(roll[::-1], 0, 235).astype(np.uint8)  # dark notes on light grey
        picture[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = tile
    return picture


def write_sample_grid(generator, latents: np.ndarray, path: Path) -> np.ndarray:
    """Samples for fixed latents, their notes decided as ``generate`` decides them, written as a PNG grid."""
    from PIL import Image

    rolls = decide_notes(keras.ops.convert_to_numpy(generator(latents, training=False))[..., 0])
    picture = sample_grid(rolls)
    with atomic_path(path, check=complete_png) as tmp:
        Image.fromarray(picture, mode="L").save(tmp, format="PNG")
    return picture


# --- the run -------------------------------------------------------------------------


@dataclass
class TrainingData:
    """The windows a run learns from and what the batches need to know about them."""

    windows: np.ndarray  # bool (N, 106, W): every window of the split
    trained: np.ndarray  # indices of the windows the run learns from (the span filter's)
    successors: np.ndarray  # index of the next window of the same piece, or -1
    strides: np.ndarray  # columns from each window's start to its successor's
    bar_aligned: bool  # windows start on beat 1 (``prepare`` aligned the pieces)
    keys: np.ndarray  # estimated key index (0..23) of each window
    fingerprint: str
    voices: np.ndarray | None = None  # uint8 voice masks (N, 106, W) of the same windows, for a voiced generator

    @property
    def real(self) -> np.ndarray:
        """What the batches are cut from: the voice masks when the run has them, else the rolls."""
        return self.windows if self.voices is None else self.voices


def successor_windows(dataset: Path, split: str, count: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """For each window of a split, the index of the next window of the same piece (or -1) and
    the columns between their starts.

    Read from the dataset's manifest (file, window index k, start column); without one, -1
    everywhere; without start columns (datasets from before bar alignment) windows follow
    each other every ``width`` columns.
    """
    successors = np.full(count, -1, dtype=np.int64)
    strides = np.full(count, width, dtype=np.int64)
    rows = {(row["file"], int(row["k"])): row for row in datasets.read_manifest(dataset, split)}
    for (file, k), row in rows.items():
        following = rows.get((file, k + 1))
        if row["index"] < count and following is not None:
            successors[row["index"]] = following["index"]
            if row.get("start"):
                strides[row["index"]] = int(following["start"]) - int(row["start"])
    return successors, strides


def _load_data(dataset: Path, split: str, min_span: float, voiced: bool = False) -> TrainingData:
    """A split's windows, those spanning at least ``min_span`` of their width to learn from,
    with successors, keys and, when ``voiced``, their voices.

    Every window stays at hand, so that a window whose successor the filter leaves out
    (mostly the one before a song's last) still continues into it when shifted in time,
    instead of into made-up silence.
    """
    windows = datasets.load_split(dataset, split)
    if len(windows) == 0:
        raise PianoganError(f"{dataset}: split {split!r} has no windows")
    successors, strides = successor_windows(dataset, split, len(windows), windows.shape[2])
    keep = np.flatnonzero(music_span(windows) >= min_span)
    if len(keep) == 0:
        raise PianoganError(f"{dataset}: no window of split {split!r} has music across {min_span:.0%} of its width (--min-span)")
    voices = datasets.load_voice_masks(dataset, split) if voiced else None
    return TrainingData(
        windows, keep, successors, strides, datasets.bar_aligned(dataset), estimate_keys(windows), datasets.dataset_fingerprint(dataset), voices
    )


def key_normalising_shifts(windows: np.ndarray, window_keys: np.ndarray) -> np.ndarray:
    """Semitones that move each window to C major / A minor by the nearer way, kept on the piano."""
    low, high = pitch_bounds(windows)
    return np.array([fit_on_piano(int(lo), int(hi), transposition_between(int(key), 0)) for lo, hi, key in zip(low, high, window_keys)], dtype=np.int64)


PROBE_WINDOWS = 256  # real windows of each kind D is asked about at every checkpoint


def overfitting_probe(dataset: Path, data: TrainingData, config: TrainConfig) -> tuple[np.ndarray, np.ndarray] | None:
    """Fixed real windows that D trains on, and as many from the validation split it never sees.

    D's mean output on the two, logged at every checkpoint, measures its overfitting: when
    the first stays high while the second falls, D has memorised its few thousand windows
    (the measure Karras et al. 2020 used to motivate adaptive augmentation). Both sets are
    key-normalised like the batches when the run is, and voiced when they are. None when
    the dataset has no validation split.
    """
    try:
        validation = datasets.load_split(dataset, "validation")
        voiced = datasets.load_voice_masks(dataset, "validation") if data.voices is not None else validation
    except PianoganError:
        return None
    voiced = voiced[music_span(validation) >= config.min_span]
    if len(voiced) == 0:
        return None
    rng = np.random.default_rng([config.seed, 9])
    seen = data.real[rng.choice(data.trained, min(PROBE_WINDOWS, len(data.trained)), replace=False)]
    unseen = voiced[rng.choice(len(voiced), min(PROBE_WINDOWS, len(voiced)), replace=False)]
    if config.key_mode == "normalise":
        seen, unseen = (np.stack([transpose(w, int(s)) for w, s in zip(ws, key_normalising_shifts(ws, estimate_keys(ws > 0)))]) for ws in (seen, unseen))
    return seen, unseen


def key_distribution(window_keys: np.ndarray) -> list[float]:
    """Share of windows in each of the 24 keys: what ``generate`` draws keys from."""
    return [round(float(share), 6) for share in np.bincount(window_keys, minlength=24) / len(window_keys)]


def training_facts(dataset: Path, data: TrainingData, config: TrainConfig) -> dict:
    """What a saved generator carries about the windows it learnt from (``modelio.write_facts``):
    the dataset and its fingerprint, how many windows, whether they start on bar lines, how
    keys were handled and, for a key-normalised run, the keys' shares and where windows in
    each key sit, which ``generate`` draws each piece's key by."""
    facts = {
        "dataset": str(dataset),
        "dataset_fingerprint": data.fingerprint,
        "windows": len(data.trained),
        "bar_aligned": data.bar_aligned,
        "key_mode": config.key_mode,
        "key_distribution": key_distribution(data.keys[data.trained]),
    }
    if config.key_mode == "normalise":
        facts["key_registers"] = key_registers(data.windows[data.trained], data.keys[data.trained])
    return facts


def _check_resume(run: Path, config: TrainConfig, explicit: dict) -> tuple[TrainConfig, dict]:
    """The configuration to continue RUN with, and RUN/config.json as stored."""
    stored = read_config(run)
    try:
        saved = TrainConfig(**stored["train"])
    except TypeError as error:
        raise PianoganError(f"{run / CONFIG}: unreadable run configuration ({error})") from None
    # The weight average is passive (G and D never read it), so its decay may change on
    # resume; so may the learning rates' fall, where it leaves the steps taken as they were
    # (``check_resume_schedule``, once the checkpoint's step is known); every other option
    # must stay as the run was started.
    may_change = {"steps", "ema_decay", "lr_decay_steps"}
    for name, value in explicit.items():
        if name not in may_change and value is not None and getattr(saved, name) != value:
            raise PianoganError(
                f"{run} was trained with --{name.replace('_', '-')} {getattr(saved, name)}, not {value}; resume with the same options or use another folder"
            )
    changes = {name: explicit[name] for name in may_change - {"steps"} if explicit.get(name) is not None}
    return dataclasses.replace(saved, steps=config.steps, **changes), stored


def train(
    dataset: str | os.PathLike,
    run: str | os.PathLike,
    config: TrainConfig,
    resume: bool = False,
    explicit: dict | None = None,
    verbose: int = 1,
    time_limit: float | None = None,
    placement: Placement | None = None,
) -> Path:
    """Train (or resume) a run up to ``config.steps`` total steps; returns the run folder.

    ``time_limit`` (seconds) ends this call early, after a checkpoint, for runs that
    are compared at equal wall-clock budgets. ``placement`` spreads the run over devices
    and processes (``backends.Placement``; default: one device); the global batch stays ``config.batch_size``.

    Everything that could stop the run (dataset, options, an existing run, a checkpoint)
    is checked before anything is written, so a run that cannot start changes nothing.
    """
    run, dataset = Path(run), Path(dataset)
    check_options({"time_limit": time_limit})
    with stop_on_signal() as stop:
        return _train(dataset, run, config, resume, explicit or {}, verbose, time_limit, stop, placement or Placement())


def _train(
    dataset: Path,
    run: Path,
    config: TrainConfig,
    resume: bool,
    explicit: dict,
    verbose: int,
    time_limit: float | None,
    stop: StopRequest,
    placement: Placement,
) -> Path:
    check_options(dataclasses.asdict(config))
    writes = placement.writes
    outputs = check_run(dataset, run, config.split, resume) if writes or resume else None  # resuming, every process reads the run
    if resume:
        config, stored = _check_resume(run, config, explicit)
        check_resume_backend(run, keras.backend.backend())
    check_combinations(dataclasses.asdict(config))  # on the options the run goes on with, stored ones included
    if explicit.get("draw_band") is not None and config.fakes != "stochastic":
        raise PianoganError("--draw-band applies only to drawn notes; add --fakes stochastic")
    data = _load_data(dataset, config.split, config.min_span, architectures.is_voiced(config.arch))

    backend = backends.load()
    backend.start(placement, config.batch_size)
    backend.enable_determinism()
    key_shifts = key_normalising_shifts(data.windows, data.keys) if config.key_mode == "normalise" else None
    shift_unit = BAR_COLUMNS if data.bar_aligned else COLUMNS_PER_QUARTER
    real_only = config.augment == "real"  # with "both", D's inputs move instead of the data
    maker = BatchMaker(
        data.real,
        config.batch_size,
        config.latent_dim,
        config.seed,
        config.shuffle,
        config.max_transpose if real_only else 0,
        config.time_shift and real_only,
        data.successors,
        data.strides,
        shift_unit,
        key_shifts,
        data.trained,
        architectures.VOICE_GROUPS.get(config.arch),
    )
    gan = build_gan(config, real_texture_figures(maker) if config.uses_texture else None)
    run_step = backend.make_step(gan)  # where the backend cannot train this model on these devices, before anything is written
    start = load_checkpoint(gan, run) if resume else 0
    if resume:
        check_resume_schedule(run, stored["train"], config.steps, config.lr_decay_steps, start)
    if resume and stored.get("dataset_fingerprint") != data.fingerprint:
        raise PianoganError(f"{dataset}: not the dataset {run} was trained on (fingerprint differs)")
    facts = training_facts(dataset, data, config)
    if not writes:
        _run_steps(gan, backend, run_step, maker, start, config.steps, keras.callbacks.CallbackList([], model=gan), config.lr_decay_steps)
        return run
    assert outputs is not None  # the writing process checked the run folder above
    outputs.create(subfolders=(SAMPLES,))  # also removes what a killed run left half-written
    outputs.claim(RUN_FILES, OUTPUT_GROUP)
    outputs.save(pending=True)
    write_text(
        run / CONFIG,
        json.dumps(
            {
                "train": dataclasses.asdict(config),
                **facts,
                "pianogan_version": __version__,
                "keras_version": keras.__version__,
                "backend": keras.backend.backend(),
            },
            indent=2,
        )
        + "\n",
    )
    if start >= config.steps:
        save_generator(export_generator(gan, config.seed), run, facts)
        return run

    callback = RunCallback(gan, outputs, config, facts, start, read_log(run, start), time_limit, stop, overfitting_probe(dataset, data, config))
    board = keras.callbacks.TensorBoard(log_dir=str(run / "logs"), update_freq=max(1, config.checkpoint_every // 10), write_graph=False)
    callbacks = keras.callbacks.CallbackList([callback, board], add_progbar=verbose != 0, model=gan, verbose=verbose, epochs=1, steps=config.steps - start)
    if not stop.requested:
        try:
            _run_steps(gan, backend, run_step, maker, start, config.steps, callbacks, config.lr_decay_steps)
        except KeyboardInterrupt:  # Ctrl-C where no handler could be set (not the main thread)
            stop.signum = signal.SIGINT
    callback.checkpoint()
    step = int(gan.step_counter.numpy())
    if stop.requested:
        print(f"\ninterrupted: checkpoint written at step {step} in {run}; continue with --resume", flush=True)
        raise KeyboardInterrupt
    if step % config.sample_every:
        callback.samples(step)
    return run


def learning_rate_scale(step: int, steps: int, lr_decay_steps: int) -> float:
    """The share of the configured learning rates that step ``step`` (counted from 0) trains
    with: all of them until the last ``lr_decay_steps`` steps of ``steps``, then a linear
    fall that would reach zero at ``steps`` (Zhu et al. 2017), so the last step still learns."""
    if lr_decay_steps == 0:
        return 1.0
    return min(1.0, (steps - step) / lr_decay_steps)


def _run_steps(gan, backend, run_step, maker: BatchMaker, start: int, steps: int, callbacks: keras.callbacks.CallbackList, lr_decay_steps: int = 0) -> None:
    """Steps ``start .. steps-1`` with the hooks ``fit()`` calls, until done or a callback
    sets ``gan.stop_training`` (in process 0: every process stops at the same step), each
    by ``run_step`` (the backend's ``make_step(gan)``) at its ``learning_rate_scale``.

    The next batch is made on a thread while the current step runs."""
    gan.stop_training = False
    logs: dict = {}
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    with ThreadPoolExecutor(1) as pool:
        upcoming = pool.submit(maker.batch, start)
        for index, step in enumerate(range(start, steps)):
            batch = upcoming.result()
            if step + 1 < steps:
                upcoming = pool.submit(maker.batch, step + 1)
            callbacks.on_train_batch_begin(index)
            if lr_decay_steps:
                gan.scale_learning_rates(learning_rate_scale(step, steps, lr_decay_steps))
            logs = run_step(batch)
            callbacks.on_train_batch_end(index, logs)
            if backend.agree(gan.stop_training):
                break
    callbacks.on_epoch_end(0, logs)
    callbacks.on_train_end(logs)


class RunCallback(keras.callbacks.Callback):
    """Logs every step, draws sample grids and writes checkpoints at fixed step counts."""

    def __init__(
        self,
        gan,
        outputs: Outputs,
        config: TrainConfig,
        facts: dict,
        start: int,
        rows: list[dict],
        time_limit: float | None,
        stop: StopRequest,
        probe: tuple[np.ndarray, np.ndarray] | None = None,
    ):
        super().__init__()
        self.probe = probe
        self.gan, self.outputs, self.run, self.config, self.facts, self.rows, self.stop = gan, outputs, outputs.folder, config, facts, rows, stop
        self.deadline = time.time() + time_limit if time_limit else None
        self.began = time.time() - (float(rows[-1]["seconds"]) if rows else 0.0)
        self.latents = np.random.default_rng([config.seed, 0]).standard_normal((SAMPLE_GRID, config.latent_dim), dtype=np.float32)
        self.writer = None
        self.export: tuple[int, keras.Model] | None = None  # (step, exported generator)
        self.saved_step: int | None = None

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.gan.step_counter.numpy())
        self.rows.append(
            {"step": step, "seconds": f"{time.time() - self.began:.2f}", **{k: f"{float(logs[k]):.5f}" for k in LOG_FIELDS[2:] + TERM_FIELDS if k in logs}}
        )
        if step % self.config.sample_every == 0:
            self.samples(step)
        if step % self.config.checkpoint_every == 0:
            self.rows[-1].update(self.discriminator_on_probe())
            self.checkpoint()
        if self.stop.requested or (self.deadline is not None and time.time() >= self.deadline):
            self.model.stop_training = True

    def discriminator_on_probe(self) -> dict[str, str]:
        """D's mean output (0 fake .. 1 real) on the probe's training and validation windows."""
        if self.probe is None:
            return {}
        means, groups = {}, architectures.VOICE_GROUPS.get(self.config.arch)
        for name, windows in zip(("d_train_windows", "d_validation_windows"), self.probe):
            logits = [
                keras.ops.convert_to_numpy(self.gan.discriminator(d_channels(windows[i : i + 64], groups), training=False)) for i in range(0, len(windows), 64)
            ]
            means[name] = f"{float(np.mean(1.0 / (1.0 + np.exp(-np.concatenate(logits))))):.5f}"
        return means

    def exported(self):
        """The exported generator of the current step, made once however many files need it."""
        step = int(self.gan.step_counter.numpy())
        if self.export is None or self.export[0] != step:
            self.export = (step, export_generator(self.gan, self.config.seed))
        return self.export[1]

    def samples(self, step: int) -> None:
        name = f"{SAMPLES}/step_{step:07d}.png"
        self.outputs.check([name])
        self.outputs.claim([name], OUTPUT_GROUP)
        self.outputs.save(pending=True)
        picture = write_sample_grid(self.exported(), self.latents, self.run / name)
        import tensorflow as tf  # TensorBoard's writer (TensorFlow is installed under every backend)

        if self.writer is None:
            self.writer = tf.summary.create_file_writer(str(self.run / "logs" / "samples"))
        with self.writer.as_default():
            tf.summary.image("samples", picture[None, :, :, None], step=step)

    def checkpoint(self) -> None:
        """Checkpoint, generator and log, each written atomically, once per step."""
        step = int(self.gan.step_counter.numpy())
        if self.saved_step == step:
            return
        save_checkpoint(self.gan, self.run)
        save_generator(self.exported(), self.run, self.facts)
        write_log(self.run, self.rows)
        self.saved_step = step
