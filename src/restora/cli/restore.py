"""``restora denoise|upscale|inpaint|deblur|...`` (one command per task of the task table,
restora.methods.tasks) and ``restora methods``."""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.table import Table

from restora.cli.common import (Inputs, MaxPixels, Output, Overwrite, RayAddress, Seed, SkipExisting, Workers, app,
                                note, out_console, parse_options, run_batch)
from restora.io import Image
from restora.io.image import DEFAULT_MAX_PIXELS
from restora.methods import TASKS, Restorer, TaskSpec, get_method, list_methods

Method = Annotated[Optional[str], typer.Option("--method", "-m", help="Method name (see `restora methods`); "
                                               "the task's default when omitted.", show_default=False)]
Strength = Annotated[Optional[float], typer.Option("--strength", help="How much of the restoration "
                     "to apply, 0 to 1 (learned methods; 0 gives back the input, an upscaler's bicubic "
                     "enlargement). Default 1.", show_default=False)]
Opts = Annotated[Optional[list[str]], typer.Option("--opt", help="Method option as name=value (repeatable).",
                                                   show_default=False)]


def restore_batch(spec: TaskSpec, inputs: list[Path], out: Path, given: dict[str, Any], method: str | None,
                  opt: list[str] | None, seed: int = 0, overwrite: bool = False, skip_existing: bool = False,
                  max_pixels: int = DEFAULT_MAX_PIXELS, strength: float | None = None, workers: int | None = None,
                  ray: str | None = None) -> None:
    """Run a task over a batch: ``given`` holds the task inputs as typed (None where absent), resolved
    per image by the task table (what is read from the file or estimated is reported). Method
    options (``strength`` is one) are checked before the first image. ``workers``, ``ray``: see run_batch."""
    options = parse_options(opt)
    if strength is not None:
        options["strength"] = strength
    step = TaskStep(spec.name, given, method, options, seed)
    step.restorer.check_options(options)
    run_batch(inputs, out, step, overwrite=overwrite, skip_existing=skip_existing, max_pixels=max_pixels,
              description=spec.name, growth=float(given.get("scale") or 1) ** 2, lossless=spec.lossless,
              workers=workers, ray=ray)


class TaskStep:
    """run_batch's step for a task: image -> {"": restored image (quantised)}, with the method,
    options and seed given. Picklable: a worker process builds the method on its first image."""

    def __init__(self, task: str, given: dict[str, Any], method: str | None, options: dict[str, Any],
                 seed: int) -> None:
        self.task, self.given, self.method, self.options, self.seed = task, given, method, options, seed
        self._restorer = None

    @property
    def restorer(self) -> Restorer:
        if self._restorer is None:
            self._restorer = get_method(self.task, self.method, self.given)
        return self._restorer

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_restorer": None}

    def __call__(self, image: Image) -> dict[str, Image]:
        inputs, notes = TASKS[self.task].resolve(self.given, image.data, self.seed, source=image)
        for line in notes:
            note(f"{image.source}: {line}")
        return {"": self.restorer(image, quantise=True, **inputs, **self.options)}  # written: integers will do


def _task_command(spec: TaskSpec) -> None:
    """Register ``restora <task>`` with an option per task input (typed, with its help) and the common ones."""
    def command(**kwargs: Any) -> None:
        given = {i.name: kwargs.pop(i.name) for i in spec.inputs}
        restore_batch(spec, kwargs.pop("inputs"), kwargs.pop("out"), given, **kwargs)

    keyword = inspect.Parameter.KEYWORD_ONLY
    task_inputs = []
    for i in spec.inputs:
        kind = Optional[i.type] if i.default is None else i.type
        show = i.default is not None
        option = typer.Option(f"--{i.name}", help=i.help[0].upper() + i.help[1:] + ".", show_default=show)
        task_inputs.append(inspect.Parameter(i.name, keyword, annotation=Annotated[kind, option],
                                             default=i.default if not i.required else ...))
    command.__signature__ = inspect.Signature([
        inspect.Parameter("inputs", keyword, annotation=Inputs),
        inspect.Parameter("out", keyword, annotation=Output),
        *task_inputs,
        *([inspect.Parameter("seed", keyword, annotation=Seed, default=0)] if any(i.seeded for i in spec.inputs)
          else []),
        inspect.Parameter("method", keyword, annotation=Method, default=None),
        inspect.Parameter("strength", keyword, annotation=Strength, default=None),
        inspect.Parameter("opt", keyword, annotation=Opts, default=None),
        inspect.Parameter("overwrite", keyword, annotation=Overwrite, default=False),
        inspect.Parameter("skip_existing", keyword, annotation=SkipExisting, default=False),
        inspect.Parameter("max_pixels", keyword, annotation=MaxPixels, default=DEFAULT_MAX_PIXELS),
        inspect.Parameter("workers", keyword, annotation=Workers, default=None),
        inspect.Parameter("ray", keyword, annotation=RayAddress, default=None)])
    command.__doc__ = spec.description
    app.command(spec.name)(command)


for _spec in TASKS.values():
    _task_command(_spec)


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
