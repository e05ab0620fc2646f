"""Worker processes for batch work: the cores this process may use, where workers come
from, and the one pool that maps a function over a batch's files in order."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.context
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import TypeVar

Task = TypeVar("Task")
Result = TypeVar("Result")


def cores() -> int:
    """The CPU cores this process may use (its affinity where the system has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def worker_context() -> multiprocessing.context.BaseContext:
    """Where worker processes come from: a fork server where the system has one, else spawning.

    Forking a process that runs threads (TensorFlow's, a server's, a notebook kernel's) can
    leave the child waiting forever on a lock one of those threads held; a fork server is a
    fresh single-threaded process that forks the workers instead.
    """
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


@contextlib.contextmanager
def ordered_map(function: Callable[[Task], Result], count: int, jobs: int) -> Iterator[Callable[[Iterable[Task]], Iterator[Result]]]:
    """A ``map`` over ``count`` tasks that gives ``function``'s results in task order.

    One job (or one task) runs in this process; more run in ``min(jobs, count)`` worker
    processes (``worker_context``), fed in chunks of up to 16 tasks. Leaving the block,
    an interrupt included, cancels the tasks not yet started and waits for those under
    way, so every file a worker began is finished and its result can still be listed.
    ``function`` must be importable by name (a module-level function) for the workers.
    """
    if jobs <= 1 or count <= 1:
        yield lambda tasks: map(function, tasks)
        return
    jobs = min(jobs, count)
    pool = ProcessPoolExecutor(jobs, mp_context=worker_context())
    try:
        yield lambda tasks: pool.map(function, tasks, chunksize=max(1, min(16, count // (4 * jobs))))
    finally:
        pool.shutdown(cancel_futures=True)
