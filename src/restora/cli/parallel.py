"""``--workers N``: a folder's images over N worker processes on this machine.

Each worker is a fresh (spawned) process with ``cores // N`` torch threads (at least one); it
builds the method on its first image and runs run_batch's :class:`~restora.cli.common.BatchJob`
on its share of the plan, an image at a time, so the outputs are the files one process writes.
"""
from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterator

from restora.errors import RestoraError

_job: Callable[[tuple[Path, Path]], str | None] | None = None  # the job of this worker process


def cpu_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def threads_per_worker(workers: int, cores: int | None = None) -> int:
    """Each of ``workers`` processes' share of the cores: cores // workers, at least 1."""
    return max(1, (cores or cpu_cores()) // workers)


def pool_map(job: Callable[[tuple[Path, Path]], str | None], plan: list[tuple[Path, Path]],
             workers: int) -> Iterator[str | None]:
    """``job(pair)`` for every (input, output) pair of ``plan`` in ``workers`` processes: yields
    each result (None or a failure line) as it comes. RestoraError if a worker process dies."""
    workers = min(workers, len(plan))
    context = multiprocessing.get_context("spawn")  # a clean process: no threads or locks from this one
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start,
                               initargs=(job, threads_per_worker(workers)))
    try:
        for future in as_completed([pool.submit(_run, pair) for pair in plan]):
            yield future.result()
    except BrokenProcessPool:
        raise RestoraError("a worker process died (out of memory or killed); rerun with --skip-existing to "
                           "do the rest") from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _start(job: Callable[[tuple[Path, Path]], str | None], threads: int) -> None:
    import torch

    global _job
    torch.set_num_threads(threads)
    _job = job


def _run(pair: tuple[Path, Path]) -> str | None:
    return _job(pair)
