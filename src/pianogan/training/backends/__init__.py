"""The training step of each Keras backend, behind one interface.

Keras 3 runs the models under TensorFlow, JAX or PyTorch but leaves gradients to the
backend, so the GAN step (two updates, the R1 penalty's double backpropagation, the
weight average) is written once per backend, in ``tensorflow``, ``jax`` and ``torch``.
Each module offers the same functions, which the trainer calls without knowing which
backend runs:

- ``start(placement, batch_size)``: claim the devices (and join the other processes)
  before any model is built; a one-line error where the backend cannot.
- ``enable_determinism()``: kernels whose results do not vary between runs, so that a
  resumed run equals an uninterrupted one.
- ``make_step(gan)``: a function of one batch (``BatchMaker.batch``) that runs one D and
  one G update and returns the logged figures; the GAN's variables hold the new state
  when it returns. Where it splits the batch, the step makes the layers with batch
  statistics (batch normalisation, ``MinibatchStd``) compute them over the whole batch.
  A one-line error where the backend cannot train these models on the devices ``start``
  claimed (the trainer makes the step before it writes anything).
- ``local()``: a context in which new models live on this process alone (for sampling
  and saving while the trained ones are spread over devices).
- ``agree(flag)``: process 0's value of ``flag`` in every process, so that all of them
  stop at the same step.

This module imports no backend: the command line checks a ``--backend`` choice before
Keras loads, since Keras reads ``KERAS_BACKEND`` once, when it is first imported.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType

from pianogan.errors import PianoganError

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT = "tensorflow"
_PACKAGES = {"tensorflow": ("tensorflow", "TensorFlow", "pianogan"), "jax": ("jax", "JAX", "pianogan[jax]"), "torch": ("torch", "PyTorch", "pianogan[torch]")}


@dataclass(frozen=True)
class Placement:
    """Where a run trains: ``devices`` per process (None: all it has) in ``processes``
    processes, of which this is ``process_id``; process 0 is the coordinator, at
    ``coordinator`` (host:port), and the only one that writes the run folder."""

    devices: int | None = 1
    processes: int = 1
    process_id: int = 0
    coordinator: str | None = None

    @property
    def writes(self) -> bool:
        return self.process_id == 0


def check_backend(name: str) -> None:
    """One-line error unless ``name`` is a backend whose package is installed."""
    if name not in BACKENDS:
        raise PianoganError(f"--backend must be one of {', '.join(BACKENDS)}, got {name!r}")
    module, label, extra = _PACKAGES[name]
    if importlib.util.find_spec(module) is None:
        raise PianoganError(f"--backend {name}: {label} is not installed (pip install '{extra}')")


def load() -> ModuleType:
    """The step module of the backend Keras runs under."""
    import keras

    return importlib.import_module(f"{__name__}.{keras.backend.backend()}")


def check_batch_split(placement: Placement, batch_size: int, available: int, kind: str) -> int:
    """How many of this process's ``available`` devices (of ``kind``, e.g. GPU) train, or a
    one-line error where it has too few or the batch does not split evenly over them."""
    count = available if placement.devices is None else placement.devices
    if count > available:
        raise PianoganError(f"--devices {count}: this machine has {available} {kind} device(s)")
    if batch_size % count:
        raise PianoganError(f"--batch-size {batch_size} does not split evenly over {count} devices")
    return count


def refuse_dropout(gan, option: str) -> None:
    """One-line error for G or D with dropout (the seed discriminator) where ``option`` splits
    the batch: Keras seeds every share's dropout alike, so each share would get the same mask."""
    import keras

    if any(isinstance(layer, keras.layers.Dropout) for model in (gan.generator, gan.discriminator) for layer in model.layers):
        raise PianoganError(
            f"{option}: dropout (the seed discriminator's) would draw the same mask on every share of the batch; train it unsplit or under --backend jax"
        )


def refuse_critic_memory(gan, option: str) -> None:
    """One-line error for the critic's memory where ``option`` splits the batch over
    replicas or processes: the memory holds whole batches of G's figures, which only a step
    that sees the whole batch writes (JAX's, on any number of devices)."""
    if gan.critic_memory is not None:
        raise PianoganError(f"{option}: --critic-memory keeps whole batches, which this step splits; train it on one device or under --backend jax")
