"""What every command shares: the Typer ``app`` commands register on, the consoles, common
option types, ``key=value`` and list parsing, and the batch runner for image-to-image commands.

A command module does ``from restora.cli.common import app`` and decorates its functions with
``@app.command()``; :mod:`restora.cli.main` imports the command modules.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Callable

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from restora.errors import RestoraError
from restora.io import Image, plan_outputs, read_image, write_image
from restora.io.image import DEFAULT_MAX_PIXELS

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


def run_batch(inputs: list[Path], out: Path, step: Callable[[Image], Outputs], *, overwrite: bool = False,
              skip_existing: bool = False, max_pixels: int = DEFAULT_MAX_PIXELS, description: str = "working") -> None:
    """Read every input image, run ``step`` on it and write its outputs.

    The plan (which input goes where) is checked before any work. A failure on one file is
    reported as one line naming the file and the batch goes on; RestoraError at the end if any
    failed (a single input's error is raised as it is). Existing outputs are skipped with
    ``skip_existing`` and never replaced without ``overwrite``.
    """
    plan = plan_outputs(inputs, out)
    failed = 0
    with make_progress(len(plan) > 1) as progress:
        bar = progress.add_task(description, total=len(plan))
        for src, dst in plan:
            try:
                if dst.exists() and skip_existing:
                    note(f"{dst}: exists, skipped")
                elif dst.exists() and not overwrite:
                    raise RestoraError(f"{dst}: exists already (pass --overwrite to replace it)")
                else:
                    _write_outputs(step(read_image(src, max_pixels=max_pixels)), dst, overwrite)
            except RestoraError as exc:
                message = str(exc) if str(src) in str(exc) or str(dst) in str(exc) else f"{src}: {exc}"
                if len(plan) == 1:
                    raise RestoraError(message) from None
                failed += 1
                note(error_line(message))
            progress.advance(bar)
    if failed:
        raise RestoraError(f"{failed} of {len(plan)} images failed")


def _write_outputs(outputs: Outputs, dst: Path, overwrite: bool) -> None:
    for name, image in outputs.items():
        write_image(image, dst if not name else dst.with_name(f"{dst.stem}_{name}.png"), overwrite=overwrite)
