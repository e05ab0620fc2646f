"""The one place the web app calls the model from, and the work it does with it.

Every request that needs the generator goes through ``Engine``. The model itself is
wrapped in ``Serialised``, whose lock lets one batch through at a time whichever thread
asks, so concurrent requests never run the model at once (Keras models are not safe to
call from several threads, and two NumPy calls would only fight over two cores). The
lock is taken per batch, not per request: a slider move waits for at most one batch of
a running inversion, not for all of it.

CPU work runs in worker threads (``anyio.to_thread``) so the event loop keeps answering;
``WORKERS`` bounds them, and only one inversion runs at a time (others are told to wait).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import numpy as np

from pianogan import api
from pianogan.errors import PianoganError
from pianogan.models import sampling

WORKERS = 4  # requests computed at once; the model lock serialises their generator calls
T = TypeVar("T")


class Busy(PianoganError):
    """Another long job (an inversion) is running; the client should try again shortly."""


class Serialised:
    """A generator model whose calls are serialised by a lock; otherwise the model itself."""

    def __init__(self, model):
        self.model = model
        self.lock = threading.Lock()
        self.input_shape, self.output_shape = model.input_shape, model.output_shape
        self.runtime = getattr(model, "runtime", "keras")

    def probabilities(self, latents: np.ndarray) -> np.ndarray:
        with self.lock:
            return sampling.probabilities(self.model, latents)


class Engine:
    """A loaded generator served to concurrent requests (see the module docstring)."""

    def __init__(self, generator: api.Generator):
        self.model = Serialised(generator.model)
        self.generator = generator.with_model(self.model)
        self.workers = anyio.CapacityLimiter(WORKERS)
        self.inversions = anyio.Semaphore(1)

    async def run(self, work: Callable[..., T], *args) -> T:
        """Run ``work(*args)`` in a worker thread and return its result."""
        return await anyio.to_thread.run_sync(work, *args, limiter=self.workers)

    async def run_inversion(self, work: Callable[..., T], *args) -> T:
        """Like ``run``, for an inversion: one at a time, and Busy when one is running already."""
        if self.inversions.value == 0:
            raise Busy("another piece of music is being searched for; try again in a few seconds")
        async with self.inversions:
            return await self.run(work, *args)
