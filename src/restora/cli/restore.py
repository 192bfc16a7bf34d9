"""``restora denoise|upscale|inpaint|deblur`` and ``restora methods``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer
from rich.table import Table

from restora.cli.common import (Inputs, MaxPixels, Output, Overwrite, Seed, SkipExisting, app, note, out_console,
                                parse_options, run_batch)
from restora.degrade import kernel_from_spec, make_mask
from restora.io import Image
from restora.io.image import DEFAULT_MAX_PIXELS
from restora.methods import TASKS, estimate_sigma, get_method, list_methods
from restora.methods.learned import SCALE_POLICY

Method = Annotated[Optional[str], typer.Option("--method", "-m", help="Method name (see `restora methods`); "
                                               "the task's default when omitted.", show_default=False)]
Opts = Annotated[Optional[list[str]], typer.Option("--opt", help="Method option as name=value (repeatable).",
                                                   show_default=False)]


def _restore(task: str, inputs: list[Path], out: Path, method: str | None, opt: list[str] | None, overwrite: bool,
             skip_existing: bool, max_pixels: int, task_inputs: Callable[[Image], dict[str, Any]]) -> None:
    """Run ``task`` over a batch; ``task_inputs(image)`` gives the task's inputs for each image
    (sigma, scale, mask or kernel). Options are checked before the first image."""
    restorer = get_method(task, method)
    options = parse_options(opt)
    restorer.check_options(options)
    run_batch(inputs, out, lambda image: {"": restorer(image, **task_inputs(image), **options)},
              overwrite=overwrite, skip_existing=skip_existing, max_pixels=max_pixels, description=task)


@app.command()
def denoise(inputs: Inputs, out: Output,
            sigma: Annotated[Optional[float], typer.Option(help="Noise level on the 0-255 scale; estimated per "
                                                           "image when omitted.", show_default=False)] = None,
            method: Method = None, opt: Opts = None, overwrite: Overwrite = False,
            skip_existing: SkipExisting = False, max_pixels: MaxPixels = DEFAULT_MAX_PIXELS) -> None:
    """Remove noise."""
    def task_inputs(image: Image) -> dict[str, Any]:
        if sigma is not None:
            return {"sigma": sigma}
        estimate = estimate_sigma(image.data)
        note(f"{image.source}: estimated sigma {estimate:.1f}")
        return {"sigma": estimate}

    _restore("denoise", inputs, out, method, opt, overwrite, skip_existing, max_pixels, task_inputs)


@app.command()
def upscale(inputs: Inputs, out: Output,
            scale: Annotated[float, typer.Option(help="Scale factor, 1 to 16. " + SCALE_POLICY)] = 2.0,
            method: Method = None, opt: Opts = None, overwrite: Overwrite = False,
            skip_existing: SkipExisting = False, max_pixels: MaxPixels = DEFAULT_MAX_PIXELS) -> None:
    """Increase resolution (super-resolution).

    The default method is the best shipped super-resolution model (MATLAB bicubic when none is
    shipped). Learned models work on the BT.601 luma; the chroma and any alpha channel are
    upscaled by MATLAB bicubic. Gray stays gray, 16-bit input gives 16-bit output.
    """
    _restore("upscale", inputs, out, method, opt, overwrite, skip_existing, max_pixels, lambda _: {"scale": scale})


@app.command()
def inpaint(inputs: Inputs, out: Output,
            mask: Annotated[str, typer.Option(help="Mask image (white = missing, same size as the input) or a "
                                              "generated mask: center, boxes, strokes, pixels, left, right.",
                                              show_default=False)],
            seed: Seed = 0, method: Method = None, opt: Opts = None, overwrite: Overwrite = False,
            skip_existing: SkipExisting = False, max_pixels: MaxPixels = DEFAULT_MAX_PIXELS) -> None:
    """Fill missing regions given by a mask."""
    _restore("inpaint", inputs, out, method, opt, overwrite, skip_existing, max_pixels,
             lambda image: {"mask": make_mask(mask, *image.size, seed=seed)})


@app.command()
def deblur(inputs: Inputs, out: Output,
           kernel: Annotated[str, typer.Option(help="Blur kernel: gaussian:SIGMA, motion:LENGTH,ANGLE, disk:RADIUS "
                                               "or a kernel image.", show_default=False)],
           method: Method = None, opt: Opts = None, overwrite: Overwrite = False,
           skip_existing: SkipExisting = False, max_pixels: MaxPixels = DEFAULT_MAX_PIXELS) -> None:
    """Undo a known blur."""
    k = kernel_from_spec(kernel)
    _restore("deblur", inputs, out, method, opt, overwrite, skip_existing, max_pixels, lambda _: {"kernel": k})


@app.command()
def methods(as_json: Annotated[bool, typer.Option("--json", help="Print JSON: a list of objects with task, name, "
                                                  "kind, default, summary and options.")] = False) -> None:
    """List the available methods per task."""
    rows = list_methods()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for task in TASKS:
        table = Table(title=task, title_justify="left", show_edge=False)
        for column in ("name", "kind", "default", "options", "summary"):
            table.add_column(column)
        for row in (r for r in rows if r["task"] == task):
            options = ", ".join(f"{o['name']}={o['default']}" for o in row["options"])
            table.add_row(row["name"], row["kind"], "yes" if row["default"] else "", options, row["summary"])
        out_console.print(table)
        out_console.print()
