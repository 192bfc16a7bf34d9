"""``restora train`` (run a recipe) and ``restora models`` (the shipped model zoo)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from restora.cli.common import app, out_console


@app.command()
def train(
    recipe: Annotated[Path, typer.Argument(help="YAML recipe (see configs/).", show_default=False)],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Run folder (default runs/<recipe name>).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's last checkpoint.")] = False,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Override a recipe value: key.sub=value "
                                                      "(repeatable).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train a network from a recipe: logs, curves, checkpoints and exported weights in the run folder.

    Under `torchrun --nproc_per_node=N` the same command trains with DistributedDataParallel.
    Ctrl-C saves a checkpoint; `--resume` continues exactly where it stopped.
    """
    from restora.train import load_recipe
    from restora.train import train as run

    recipe_dict = load_recipe(recipe, set_ or [])
    folder = out or Path("runs") / recipe.stem
    last = run(recipe_dict, folder, resume=resume, progress=not quiet, recipe_file=recipe.as_posix())
    shown = {k: round(float(v), 4) for k, v in last.items() if k in ("step", "loss", "psnr", "accuracy") and v not in ("", None)}
    out_console.print(f"done: {folder} {shown}")


@app.command()
def models(json_: Annotated[bool, typer.Option("--json", help="Machine-readable list.")] = False) -> None:
    """List the models shipped inside the package, with their cards' key results."""
    from restora.zoo import card_path, shipped_models

    entries = shipped_models()
    if json_:
        out_console.print_json(json.dumps(entries))
        return
    table = Table("name", "task", "method", "input", "params", "card")
    for e in entries:
        table.add_row(e["name"], e["task"], e["method"], f"{e['channels']}ch" + (f" x{e['scale']}" if "scale" in e else ""),
                      f"{e.get('params', 0) / 1e3:.0f}K", str(card_path(e)))
    out_console.print(table)


@app.command()
def ship(
    run: Annotated[Path, typer.Argument(help="Finished run folder (restora train --out).", show_default=False)],
    name: Annotated[str, typer.Option(help="Model name in the zoo.", show_default=False)],
    method: Annotated[str, typer.Option(help="Method the model serves (models of one method differ only in "
                                        "channels or scale).", show_default=False)],
    summary: Annotated[str, typer.Option(help="One line for `restora methods` and the card.", show_default=False)],
    priority: Annotated[int, typer.Option(help="The task's default method is its highest-priority one.")] = 10,
    sharing: Annotated[Optional[str], typer.Option(help="What shared the machine during training (for the card).",
                                                   show_default=False)] = None,
    benchmark: Annotated[Optional[str], typer.Option(help="The command that makes this model's benchmark tables.",
                                                     show_default=False)] = None,
    weights: Annotated[str, typer.Option(help="Weight file of the run to ship.")] = "model.safetensors",
    notes: Annotated[Optional[list[Path]], typer.Option(help="Markdown file appended to the card (repeatable, "
                                                        "in order).", show_default=False)] = None,
    zoo: Annotated[Optional[Path], typer.Option(help="Zoo folder (default: the active one, $RESTORA_ZOO or the "
                                                "package's).", show_default=False)] = None,
) -> None:
    """Put a finished run into the model zoo: its weights, an index entry and a model card made from the
    run folder alone (recipe as run, log, run.json)."""
    from restora.train.ship import BENCHMARK, SHARING
    from restora.train.ship import ship as ship_run

    card = ship_run(run, name, method, summary, priority, sharing or SHARING, benchmark or BENCHMARK, weights,
                    notes or (), zoo)
    out_console.print(f"shipped {name}: {card}")
