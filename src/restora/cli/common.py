"""What every command shares: the Typer ``app`` commands register on, the consoles, common
option types, ``key=value`` and list parsing, and the batch runner for image-to-image commands.

A command module does ``from restora.cli.common import app`` and decorates its functions with
``@app.command()``; :mod:`restora.cli.main` imports the command modules.
"""
from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from restora import reporting
from restora.errors import RestoraError
from restora.io import Image, plan_outputs, read_image, write_image
from restora.io.image import DEFAULT_MAX_PIXELS, peek_size

app = typer.Typer(name="restora", help="Image restoration: denoise, deblur, upscale, inpaint; degrade, measure, "
                  "benchmark.", add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False)

out_console = Console()  # results: tables and JSON
console = Console(stderr=True)  # progress, per-file notes and errors

Inputs = Annotated[list[Path], typer.Argument(help="Image files or folders (searched recursively).",
                                              show_default=False)]
Output = Annotated[Path, typer.Option("--out", "-o", help="Output file (one input) or folder (input tree "
                                      "mirrored).", show_default=False)]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs.")]
SkipExisting = Annotated[bool, typer.Option("--skip-existing", help="Leave existing outputs alone (resume a "
                                            "batch).")]
MaxPixels = Annotated[int, typer.Option("--max-pixels", help="Refuse images with more pixels than this.")]
Seed = Annotated[int, typer.Option("--seed", help="Seed for random masks and noise.")]
Workers = Annotated[Optional[int], typer.Option("--workers", min=1, help="Worker processes for a folder, each "
                    "with its share of the CPU threads (same results as one). With --ray: actors, default one per "
                    "CPU of the cluster.", show_default=False)]
RayAddress = Annotated[Optional[str], typer.Option("--ray", metavar="ADDRESS", show_default=False, help="Run a "
                       "folder on the Ray cluster at this address ('auto': on this machine); needs the cluster "
                       "extra: pip install 'restora\\[cluster]'.")]

# What a batch step returns: named outputs. "" is the main output (written to the planned path);
# any other name N is written beside it as <stem>_N.png.
Outputs = dict[str, Image]


def note(message: str) -> None:
    """A line for the user on stderr (kept clear of any progress bar)."""
    console.print(message, markup=False, highlight=False, emoji=False, soft_wrap=True)


def error_line(message: str) -> str:
    """The one-line form every error takes."""
    return f"restora: error: {message}"


def parse_options(pairs: list[str] | None) -> dict[str, str]:
    """``["name=value", ...]`` -> ``{"name": "value"}``; values are converted by the method."""
    options = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise RestoraError(f"option '{pair}' is not of the form name=value")
        options[name.strip()] = value.strip()
    return options


def parse_list(text: str, convert: Callable = str, what: str = "value") -> list:
    """``"15,25,50"`` -> ``[15.0, 25.0, 50.0]`` with ``convert``; RestoraError naming ``what`` if one fails."""
    try:
        values = [convert(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise RestoraError(f"bad {what} list '{text}'") from None
    if not values:
        raise RestoraError(f"empty {what} list")
    return values


def make_progress(show: bool = True) -> Progress:
    """A rich progress bar with ETA on stderr (removed when done), only on a terminal and when ``show``."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, transient=True, disable=not (show and console.is_terminal))


PROGRESS_EVERY_S = 10.0  # while one image takes longer, a progress line this often (terminal or not)
# Peak memory of a restoring process, estimated: start-up and libraries, plus the larger of a cost
# per input pixel and one per output pixel. Measured at 24 MP (benchmarks/results/memory.md): wiener
# 98 B per input pixel over start-up (the most of any task), the x4 upscaler 8 per output pixel.
BASE_BYTES = 600_000_000
BYTES_PER_INPUT_PIXEL = 100
BYTES_PER_OUTPUT_PIXEL = 24


class FileReporter(reporting.Listener):
    """What restoring one file reports, on stderr: notes at once (prefixed with ``label`` unless they
    name it or one of ``names``, such as its outputs), and once it has taken PROGRESS_EVERY_S, a
    plain line that often (time so far; with the method's progress, the steps of its current loop
    and the time that loop has left) and a summary line when it ends."""

    def __init__(self, label: str, names: tuple[str, ...] = ()) -> None:
        self.label, self.names = label, (label, *names)
        self.start = self.shown = self.loop_start = self.last_step = time.monotonic()
        self.loops, self.steps, self.done, self.total, self.unit = 1, 0, 0, 0, ""

    def note(self, message: str) -> None:
        note(message if any(name in message for name in self.names) else f"{self.label}: {message}")

    def progress(self, done: int, total: int, unit: str) -> None:
        now = time.monotonic()
        if done <= self.done:  # the next loop (another model pass, flip or iteration)
            self.loops, self.loop_start = self.loops + 1, self.last_step
        self.done, self.total, self.unit, self.last_step = done, total, unit, now
        self.steps += 1
        if now - self.shown >= PROGRESS_EVERY_S:
            self.show(now)

    def show(self, now: float) -> None:
        self.shown = now
        line = f"{self.label}: {_duration(now - self.start)} so far"
        if self.done < self.total:
            left = (self.last_step - self.loop_start) / self.done * (self.total - self.done)
            loop = f" of pass {self.loops}" if self.loops > 1 else ""
            line += f", {self.done}/{self.total} {self.unit}{loop} done, about {_duration(left)} left in it"
        elif self.steps:
            line += f", {self.steps} {self.unit} done"
        note(line)

    def keep_showing(self, stop: threading.Event) -> None:
        """A line every PROGRESS_EVERY_S even while the method reports nothing (until ``stop``)."""
        while not stop.wait(PROGRESS_EVERY_S):
            if time.monotonic() - self.shown >= PROGRESS_EVERY_S:
                self.show(time.monotonic())

    def summary(self) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed >= PROGRESS_EVERY_S:
            steps = f" ({self.steps} {self.unit})" if self.steps else ""
            note(f"{self.label}: finished in {_duration(elapsed)}{steps}")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"


@contextmanager
def reporting_for(label: str, names: tuple[str, ...] = ()) -> Iterator[FileReporter]:
    """Route the reports made inside the block to a :class:`FileReporter` for ``label``."""
    reporter, stop = FileReporter(label, names), threading.Event()
    ticker = threading.Thread(target=reporter.keep_showing, args=(stop,), daemon=True)
    ticker.start()
    try:
        with reporting.listening(reporter):
            yield reporter
    finally:
        stop.set()
        ticker.join()
    reporter.summary()


def available_memory() -> int | None:
    """Bytes this process may still allocate: the system's MemAvailable, capped by a cgroup (v2)
    limit; None where neither is known."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            limits += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
        cgroup = Path("/sys/fs/cgroup")
        limit = (cgroup / "memory.max").read_text().strip()
        if limit.isdigit():
            limits.append(int(limit) - int((cgroup / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    return min(limits, default=None)


def check_memory(src: Path, growth: float) -> None:
    """RestoraError naming ``src`` when restoring it needs more memory than is available, estimated
    before decoding from its size (BASE_BYTES and the per-pixel costs; ``growth`` = output pixels
    per input pixel, the scale squared when upscaling)."""
    size, free = peek_size(src), available_memory()
    if size is None or free is None:
        return
    pixels = size[0] * size[1]
    need = BASE_BYTES + max(BYTES_PER_INPUT_PIXEL * pixels, BYTES_PER_OUTPUT_PIXEL * pixels * growth)
    if need > free:
        raise RestoraError(f"{src}: a {size[0]}x{size[1]} image needs about {_amount(need)} of memory for this, "
                           f"{_amount(free)} is available (free memory, or split or shrink the image)")


def _amount(size: float) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"


def run_batch(inputs: list[Path], out: Path, step: Callable[[Image], Outputs], *, overwrite: bool = False,
              skip_existing: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS, description: str = "working",
              growth: float = 1.0, lossless: bool = False, workers: int | None = None, ray: str | None = None) -> None:
    """Read every input image, run ``step`` on it and write its outputs.

    The plan (which input goes where) is checked before any work, and each image's memory need
    (:func:`check_memory`; ``growth``: output pixels per input pixel) before it is decoded;
    ``lossless``: JPEG inputs are written as PNG in a folder (see plan_outputs). A
    failure on one file, expected or not, is reported as one line naming the file and the batch
    goes on; RestoraError at the end if any failed. A single input's RestoraError is raised as it
    is (other exceptions too, with their traceback). Notes and progress go to stderr
    (:class:`FileReporter`). Existing outputs are skipped with ``skip_existing`` and never replaced
    without ``overwrite``. A folder runs over ``workers`` processes (restora.cli.parallel) or on
    the Ray cluster at address ``ray`` (restora.cli.cluster); ``step`` must then be picklable.
    """
    plan = plan_outputs(inputs, out, lossless=lossless)
    job = BatchJob(step, overwrite, skip_existing, max_pixels, growth)
    if len(plan) == 1:
        job.run(*plan[0])
        return
    if ray is not None:
        from restora.cli.cluster import ray_map
        results = ray_map(job, plan, ray, workers)
    elif (workers or 1) > 1:
        from restora.cli.parallel import pool_map
        results = pool_map(job, plan, workers)
    else:
        results = map(job, plan)
    failed = 0
    with make_progress() as progress:
        bar = progress.add_task(description, total=len(plan))
        for message in results:
            if message is not None:
                failed += 1
                note(error_line(message))
            progress.advance(bar)
    if failed:
        raise RestoraError(f"{failed} of {len(plan)} images failed")


@dataclass(frozen=True)
class BatchJob:
    """What run_batch does to one planned (input, output) pair: skip it, refuse it or restore it and
    write its outputs. Picklable when ``step`` is, so worker processes and Ray actors run it."""
    step: Callable[[Image], Outputs]
    overwrite: bool = False
    skip_existing: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    growth: float = 1.0

    def run(self, src: Path, dst: Path) -> None:
        """Do ``src`` -> ``dst``; a failure that is no bug is raised as RestoraError naming the file,
        a bug as it is."""
        try:
            self._run(src, dst)
        except Exception as exc:  # noqa: BLE001 - a bug is raised as it is
            text = _expected_failure(exc)
            if text is None:
                raise
            raise RestoraError(_naming(text, src, dst)) from None

    def __call__(self, pair: tuple[Path, Path]) -> str | None:
        """Do one pair of a folder run: None when done or skipped, else its one-line failure (a bug's too)."""
        src, dst = pair
        try:
            self._run(src, dst)
        except Exception as exc:  # noqa: BLE001 - one bad file must not end a folder run
            text = _expected_failure(exc) or " ".join(f"unexpected {type(exc).__name__}: {exc}".split())
            return _naming(text, src, dst)
        return None

    def _run(self, src: Path, dst: Path) -> None:
        if dst.exists() and self.skip_existing:
            note(f"{dst}: exists, skipped")
        elif dst.exists() and not self.overwrite:
            raise RestoraError(f"{dst}: exists already (pass --overwrite to replace it)")
        else:
            check_memory(src, self.growth)
            with reporting_for(str(src), (str(dst.parent / dst.stem),)):
                _write_outputs(self.step(read_image(src, max_pixels=self.max_pixels)), dst, self.overwrite)


def _naming(text: str, src: Path, dst: Path) -> str:
    """``text``, prefixed with ``src`` unless it names the input or the output already."""
    return text if str(src) in text or str(dst) in text else f"{src}: {text}"


def _expected_failure(exc: Exception) -> str | None:
    """The one-line message of a failure that is no bug: a RestoraError's, or running out of memory
    (MemoryError, torch's "can't allocate memory"); None for anything else."""
    if isinstance(exc, RestoraError):
        return str(exc)
    if isinstance(exc, MemoryError) or "can't allocate memory" in str(exc):
        return "not enough memory for this image: " + " ".join(str(exc).split())[:200]
    return None


def _write_outputs(outputs: Outputs, dst: Path, overwrite: bool) -> None:
    for name, image in outputs.items():
        write_image(image, dst if not name else dst.with_name(f"{dst.stem}_{name}.png"), overwrite=overwrite)
