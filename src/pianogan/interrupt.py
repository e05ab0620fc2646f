"""Ctrl-C and ``kill`` during training: stop at the next safe point, never mid-write.

Raising ``KeyboardInterrupt`` from a signal handler lands wherever the program happens
to be, including inside library code that catches every exception (Keras's saving code
does), so a signal could be swallowed and the run go on. Instead the first SIGINT or
SIGTERM only sets a flag that the trainer reads after each step; it then checkpoints and
stops. A second signal exits at once: every file is written atomically, so the worst it
can leave is a temporary file that the next run removes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator

EXIT_INTERRUPTED = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Whether a stop was asked for by a signal, and which one."""

    def __init__(self) -> None:
        self.signum: int | None = None

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def handle(self, signum: int, frame: object) -> None:
        if self.requested:
            _exit_now(signum, frame)
        self.signum = signum
        print(f"\n{signal.Signals(signum).name}: stopping after this step, with a checkpoint (again to stop at once)", file=sys.stderr, flush=True)


@contextlib.contextmanager
def stop_on_signal() -> Iterator[StopRequest]:
    """Route SIGINT and SIGTERM to a ``StopRequest`` while the block runs.

    Signal handlers can only be set from the main thread; elsewhere (a notebook worker,
    a server) the request is never set and the caller's own handling applies.
    """
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {signum: signal.signal(signum, request.handle) for signum in SIGNALS}
    try:
        yield request
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _exit_now(signum: int, frame: object) -> None:
    print("\nsecond interrupt: stopping now", file=sys.stderr, flush=True)
    os._exit(EXIT_INTERRUPTED)


def _interrupt_in(owner: int) -> Callable[[int, object], None]:
    """A SIGTERM handler raising ``KeyboardInterrupt`` in process ``owner``. A worker forked
    from it inherits the handler but must still die of SIGTERM: ``multiprocessing.Pool``
    stops its workers so, and one that raised instead could hang on a lock."""

    def interrupt(signum: int, frame: object) -> None:
        if os.getpid() != owner:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        signal.signal(signal.SIGTERM, _exit_now)  # a second one does not wait for the clean-up
        raise KeyboardInterrupt

    return interrupt


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C while the block runs: ``KeyboardInterrupt`` is raised, so
    the commands' ``finally`` blocks still list the files written so far (``kill`` would
    otherwise end the process at once); a second SIGTERM exits at once. Training installs
    its own handler inside this (``stop_on_signal``). Only in the main thread, where
    handlers can be set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt_in(os.getpid()))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
