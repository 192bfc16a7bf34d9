"""Batch restoration on a Ray cluster (``restora <task> IN -o OUT --ray ADDRESS``; ``pip install
restora[cluster]``).

A Ray Data pipeline: the planned (input, output) path pairs are read as rows, one image a block;
``map_batches`` sends each to a pool of actors, each holding run_batch's
:class:`~restora.cli.common.BatchJob` (and, after its first image, the model), which restores the
image and writes its outputs (atomically, as a local run does); the rows that come back are the
per-image results. The files are those of a local run, byte for byte. Inputs and outputs must be
on a file system every node sees, at the same paths (each actor works in the driver's folder when
its node has it).

Outputs that exist before the job starts are handled by the driver as locally (skipped with
``--skip-existing``, replaced with ``--overwrite``, otherwise an error line), so a killed job is
resumed by running it again with ``--skip-existing``. An actor that dies is restarted and its
images redone (Ray Data's default; an output its earlier attempt wrote is kept); an image that
fails, or that gets no result when Ray gives up on it, is reported and the others finish.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from restora.errors import RestoraError

if TYPE_CHECKING:  # restora.cli.common imports this module when --ray is given
    from restora.cli.common import BatchJob


def ray_map(job: BatchJob, plan: list[tuple[Path, Path]], address: str,
            workers: int | None = None) -> Iterator[str | None]:
    """``job(pair)`` for every (input, output) pair of ``plan`` on the Ray cluster at ``address``
    ('auto': a local instance, or the one RAY_ADDRESS names), in ``workers`` actors (default one
    per CPU of the cluster): yields each result (None or a failure line) as it comes."""
    ray = _import_ray()
    todo = []
    for src, dst in plan:
        if dst.exists() and not job.overwrite:
            yield job((src, dst))  # skipped or refused here, as a local run does
        else:
            todo.append((src, dst))
    if not todo:
        return
    started = not ray.is_initialized()
    if started:
        check_reachable(address)
        try:
            ray.init(address=None if address == "auto" else address, logging_level=logging.WARNING)
        except Exception as exc:  # noqa: BLE001 - Ray's many ways of not starting or not connecting
            raise RestoraError(f"Ray at '{address}': " + " ".join(str(exc).split())[:300]) from None
    try:
        yield from _run(ray, job, todo, workers)
    finally:
        if started:
            ray.shutdown()


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """RestoraError at once when nothing answers at a ``HOST:PORT`` (or ``ray://HOST:PORT``) address
    within ``timeout`` seconds: Ray itself retries a wrong address for minutes before it gives up.
    'auto' and addresses without a port are left to Ray."""
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto" or not host or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__.replace("Error", "").lower() or "no answer"
        raise RestoraError(f"Ray at '{address}': nothing answers there ({reason}); start the cluster with "
                           "`ray start --head`, or give --ray auto for a local one") from None


def _run(ray: Any, job: BatchJob, todo: list[tuple[Path, Path]], workers: int | None) -> Iterator[str | None]:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    context.max_errored_blocks = len(todo)  # an image Ray gave up on: reported, the rest go on
    cpus = [node["Resources"].get("CPU", 0) for node in ray.nodes() if node["Alive"]]
    actors = min(workers or int(sum(cpus)), len(todo))
    threads = max(1, min(int(sum(cpus)) // actors, int(max(cpus))))
    # a retried image whose output the dead actor had written is done: kept, not refused
    retry_safe = dataclasses.replace(job, skip_existing=job.skip_existing or not job.overwrite)
    rows = ray.data.from_items([{"src": str(src), "dst": str(dst)} for src, dst in todo],
                               override_num_blocks=len(todo))
    results = rows.map_batches(_Restorer, fn_constructor_args=(retry_safe, threads, os.getcwd()), batch_size=1,
                               compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=threads)
    done = set()
    for row in results.iter_rows():
        done.add(row["src"])
        yield row["error"] or None
    for src, _ in todo:
        if str(src) not in done:
            yield f"{src}: no result from Ray (its worker failed)"


class _Restorer:
    """A Ray actor: runs ``job`` on the rows of each batch ({"src", "dst"} path columns) and returns
    {"src", "error"} (error "" when done), with ``threads`` torch threads, in ``cwd`` where it exists."""

    def __init__(self, job: BatchJob, threads: int, cwd: str) -> None:
        import torch

        torch.set_num_threads(threads)
        if os.path.isdir(cwd):
            os.chdir(cwd)
        self.job = job

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        errors = [self.job((Path(src), Path(dst))) or "" for src, dst in zip(batch["src"], batch["dst"])]
        return {"src": batch["src"], "error": np.array(errors, dtype=object)}


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RestoraError("--ray needs Ray: pip install 'restora[cluster]'") from None
    return ray
