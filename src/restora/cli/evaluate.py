"""``restora metrics`` (compare images) and ``restora bench`` (benchmark methods by protocol)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import torch
import typer
from rich.table import Table

from restora.bench import FORMATS, format_rows, run_bench, splice_markdown
from restora.cli.common import Seed, app, make_progress, note, out_console, parse_list
from restora.errors import RestoraError
from restora.io import list_images, read_image, write_text_atomic
from restora.methods import TASKS
from restora.metrics import psnr, ssim


def match_pairs(a: Path, b: Path) -> list[tuple[Path, Path]]:
    """Two files, or the images of two folders paired by relative path (the extension may differ)."""
    if a.is_file() and b.is_file():
        return [(a, b)]
    if not (a.is_dir() and b.is_dir()):
        raise RestoraError(f"{a}, {b}: give two image files or two folders")
    index_b = {rel.with_suffix(""): path for path, rel in list_images([b])}
    pairs = [(path, index_b[rel.with_suffix("")]) for path, rel in list_images([a]) if rel.with_suffix("") in index_b]
    if not pairs:
        raise RestoraError(f"{a}, {b}: no images with the same relative path in both folders")
    return pairs


def _same_channels(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A gray image is compared with a colour one as gray repeated in three channels."""
    if x.shape[0] == 1 and y.shape[0] == 3:
        return x.expand(3, -1, -1), y
    if x.shape[0] == 3 and y.shape[0] == 1:
        return x, y.expand(3, -1, -1)
    return x, y


@app.command()
def metrics(a: Annotated[Path, typer.Argument(help="Image or folder (e.g. the reference).", show_default=False)],
            b: Annotated[Path, typer.Argument(help="Image or folder to compare with A.", show_default=False)],
            y: Annotated[bool, typer.Option("--y", help="Measure the BT.601 Y channel (super-resolution "
                                            "protocol).")] = False,
            crop: Annotated[int, typer.Option(help="Pixels cropped from every border first.", min=0)] = 0,
            as_json: Annotated[bool, typer.Option("--json", help="Print JSON: pairs and their mean.")] = False) -> None:
    """PSNR and SSIM (8-bit, as in the papers) between two images or two folders."""
    rows = []
    for path_a, path_b in match_pairs(a, b):
        xa, xb = _same_channels(read_image(path_a).data, read_image(path_b).data)
        try:
            rows.append({"a": str(path_a), "b": str(path_b), "psnr": psnr(xa, xb, y=y, crop=crop),
                         "ssim": ssim(xa, xb, y=y, crop=crop)})
        except RestoraError as exc:
            raise RestoraError(f"{path_a} vs {path_b}: {exc}") from None
    mean = {key: sum(r[key] for r in rows) / len(rows) for key in ("psnr", "ssim")}
    if as_json:
        print(json.dumps({"pairs": rows, "mean": mean, "images": len(rows), "y": y, "crop": crop}, indent=2))
        return
    table = Table(show_edge=False)
    for column in ("image", "PSNR (dB)", "SSIM"):
        table.add_column(column, justify="left" if column == "image" else "right")
    for row in rows:
        table.add_row(row["b"], f"{row['psnr']:.2f}", f"{row['ssim']:.4f}")
    if len(rows) > 1:
        table.add_row(f"mean of {len(rows)}", f"{mean['psnr']:.2f}", f"{mean['ssim']:.4f}", style="bold")
    out_console.print(table)


SETTING_NAMES = [f"--{name}" for name in dict.fromkeys(spec.setting for spec in TASKS.values())]
SETTING_HELP = "The values of the task's benchmark setting, comma-separated (default: " + "; ".join(
    f"{task} {spec.setting} {','.join(map(str, spec.settings))}" for task, spec in TASKS.items()) + ")."


@app.command()
def bench(task: Annotated[str, typer.Argument(help=", ".join(TASKS) + ".", show_default=False)],
          data: Annotated[Path, typer.Option(help="Folder of clean reference images (HR images for upscale).",
                                             show_default=False)],
          settings: Annotated[Optional[str], typer.Option("--settings", *SETTING_NAMES, help=SETTING_HELP,
                                                          show_default=False)] = None,
          methods: Annotated[Optional[str], typer.Option(help="Comma-separated methods; all of the task's when "
                                                         "omitted. NAME:OPTION=VALUE runs one with options, "
                                                         "e.g. unet-denoiser:ensemble=true.", show_default=False)] = None,
          seed: Seed = 0,
          fmt: Annotated[str, typer.Option("--format", help=f"Output: {', '.join(FORMATS)}.")] = "md",
          out: Annotated[Optional[Path], typer.Option(help="Write the report here instead of printing it.",
                                                      show_default=False)] = None,
          readme: Annotated[Optional[Path], typer.Option(help="Also put the Markdown table between "
                                                         "<!-- bench:TASK-DATASET --> and <!-- /bench:TASK-DATASET "
                                                         "--> in this file; with --offset/--limit the name ends in "
                                                         "[FIRST:END], e.g. inpaint-faces[8500:8620].",
                                                         show_default=False)] = None,
          limit: Annotated[Optional[int], typer.Option(help="Use only the first N images.", min=1,
                                                       show_default=False)] = None,
          offset: Annotated[int, typer.Option(help="Skip the first N images (sorted by path), e.g. a training "
                                              "folder's held-out tail.", min=0)] = 0) -> None:
    """Benchmark methods on a folder of clean images, by the task's published protocol.

    Every image of --data is degraded, restored by each method and compared with the original;
    reported per method and setting: mean PSNR / SSIM, seconds per image, megapixels per second.
    """
    if task not in TASKS:
        raise RestoraError(f"unknown task '{task}' (use one of {', '.join(TASKS)})")
    spec = TASKS[task]
    if fmt not in FORMATS:
        raise RestoraError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")
    with make_progress() as progress:
        bar = progress.add_task(f"bench {task}", total=None)
        values = spec.input(spec.setting).values(settings) if settings else None
        rows = run_bench(task, data, values, parse_list(methods, str, "method") if methods else None,
                         seed=seed, limit=limit, offset=offset, log=note,
                         progress=lambda done, total: progress.update(bar, completed=done, total=total))
    report = format_rows(rows, fmt)
    if out:
        write_text_atomic(out, report + "\n")
        note(f"wrote {out}")
    else:
        print(report)
    if readme:
        subset = f"[{offset}:{offset + limit}]" if limit else f"[{offset}:]" if offset else ""
        splice_markdown(readme, f"{task}-{rows[0]['dataset']}{subset}", format_rows(rows, "md"))
        note(f"updated {readme}")
