"""A bounded job queue with worker threads, and the store that keeps job results on disk.

A job is a function ``work(job, path)`` that writes its result file to ``path``, run by one of
``workers`` threads.
At most ``queue_size`` jobs wait at a time; :meth:`JobQueue.submit` raises :class:`QueueFull`
beyond that. ``work`` reports progress with :meth:`Job.advance` (0..1) and calls
:meth:`Job.check_cancelled` between its stages: a cancelled job that is still waiting never
starts, a running one stops at its next check (a single restorer call is not interrupted).

Results are files named by the server-generated job id inside ``result_dir``. Finished jobs are
forgotten ``ttl_s`` seconds after they end, and the oldest results are deleted whenever their
total size exceeds ``cap_bytes`` (the newest is always kept); both checks run on every submit and lookup.
"""
from __future__ import annotations

import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from restora.errors import RestoraError

STATES = ("queued", "running", "done", "failed", "cancelled")


class QueueFull(Exception):
    """Raised by :meth:`JobQueue.submit` when ``queue_size`` jobs are waiting already."""


class Cancelled(Exception):
    """Raised by :meth:`Job.check_cancelled` to stop a job that was asked to stop."""


@dataclass
class Job:
    """One submitted job; ``state`` is one of :data:`STATES`, ``progress`` in [0, 1]."""

    id: str
    task: str
    method: str
    work: Callable[["Job", Path], None] | None  # dropped when the job ends (it may hold a network)
    inputs: list[Path] = field(default_factory=list)  # uploaded files, deleted when the job ends
    download_name: str = "result.png"
    state: str = "queued"
    progress: float = 0.0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    result_path: Path | None = None
    result_bytes: int = 0
    cancel_requested: threading.Event = field(default_factory=threading.Event)

    def advance(self, progress: float) -> None:
        """Report progress in [0, 1]."""
        self.progress = min(max(progress, self.progress), 1.0)

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` when a cancel was requested."""
        if self.cancel_requested.is_set():
            raise Cancelled


class JobQueue:
    """Runs jobs on ``workers`` threads, at most ``queue_size`` waiting; keeps results (see module doc).

    ``result_dir`` None makes a private temporary folder that :meth:`close` removes.
    """

    def __init__(self, workers: int = 1, queue_size: int = 8, result_dir: str | Path | None = None,
                 cap_bytes: int = 1 << 30, ttl_s: float = 3600.0) -> None:
        if workers < 1 or queue_size < 1:
            raise RestoraError("workers and queue size must be at least 1")
        self._own_dir = result_dir is None
        self.result_dir = Path(tempfile.mkdtemp(prefix="restora-web-") if result_dir is None else result_dir)
        self.result_dir.mkdir(parents=True, exist_ok=True)
        self.queue_size, self.cap_bytes, self.ttl_s = queue_size, cap_bytes, ttl_s
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="restora-job")

    def new_id(self) -> str:
        """A fresh job id (uuid4 hex); also names the job's files, so nothing from a request does."""
        return uuid.uuid4().hex

    def path(self, job_id: str, suffix: str) -> Path:
        """The file ``<job_id><suffix>`` in the result folder; ``job_id`` must come from :meth:`new_id`."""
        return self.result_dir / f"{uuid.UUID(hex=job_id).hex}{suffix}"

    def ensure_room(self) -> None:
        """Raise :class:`QueueFull` when ``queue_size`` jobs are waiting."""
        if sum(j.state == "queued" for j in list(self._jobs.values())) >= self.queue_size:
            raise QueueFull(f"the server is busy: {self.queue_size} jobs are waiting already; "
                            "try again when one has finished")

    def submit(self, job: Job) -> Job:
        """Queue ``job``; raises :class:`QueueFull` when ``queue_size`` jobs are waiting."""
        self._prune()
        with self._lock:
            self.ensure_room()
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        self._prune()
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """How many queued jobs are ahead of ``job`` (0 when it is not queued)."""
        with self._lock:
            if job.state != "queued":
                return 0
            return sum(j.state == "queued" and j.created < job.created for j in self._jobs.values())

    def cancel(self, job_id: str) -> Job | None:
        """Ask a queued or running job to stop; a finished job is forgotten and its result deleted."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job.cancel_requested.set()
            if job.state == "queued":
                self._finish(job, "cancelled")
            elif job.state in ("done", "failed", "cancelled"):
                self._forget(job)
        return job

    def close(self) -> None:
        """Stop waiting jobs, let running ones see the cancel flag, remove a private result folder."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel_requested.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._own_dir:
            shutil.rmtree(self.result_dir, ignore_errors=True)

    def _run(self, job: Job) -> None:
        with self._lock:
            if job.state != "queued":
                return
            job.state, job.started = "running", time.time()
        path = self.path(job.id, ".png")
        try:
            job.check_cancelled()
            job.work(job, path)
            job.check_cancelled()
        except Cancelled:
            with self._lock:
                self._finish(job, "cancelled")
            return
        except RestoraError as exc:
            with self._lock:
                self._finish(job, "failed", str(exc))
            return
        except Exception as exc:  # a bug or an exhausted resource: report it, keep the worker alive
            with self._lock:
                self._finish(job, "failed", f"internal error: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            job.result_path, job.result_bytes = path, path.stat().st_size
            self._finish(job, "done")
            self._enforce_cap(keep=job)

    def _finish(self, job: Job, state: str, error: str | None = None) -> None:
        job.state, job.error, job.finished, job.work = state, error, time.time(), None
        if state == "done":
            job.progress = 1.0
        else:
            self.path(job.id, ".png").unlink(missing_ok=True)
        for path in job.inputs:
            path.unlink(missing_ok=True)

    def _forget(self, job: Job) -> None:
        self._remove_result(job)
        self._jobs.pop(job.id, None)

    def _remove_result(self, job: Job) -> None:
        if job.result_path is not None:
            job.result_path.unlink(missing_ok=True)
            job.result_path = None

    def _enforce_cap(self, keep: Job) -> None:
        """Delete the oldest results until the total fits ``cap_bytes``; ``keep`` (the newest) stays."""
        done = sorted((j for j in self._jobs.values() if j.result_path is not None), key=lambda j: j.finished)
        total = sum(j.result_bytes for j in done)
        for job in done:
            if total <= self.cap_bytes or job is keep:
                break
            total -= job.result_bytes
            self._remove_result(job)

    def _prune(self) -> None:
        """Forget jobs that finished more than ``ttl_s`` seconds ago (their results go too)."""
        now = time.time()
        with self._lock:
            for job in [j for j in self._jobs.values() if j.finished and now - j.finished > self.ttl_s]:
                self._forget(job)
