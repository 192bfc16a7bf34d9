"""Benchmarks: degrade every image of a folder by a task's protocol (restora.protocols,
docs/protocols.md), restore it with each method and report mean PSNR / SSIM and speed per method
and setting.

Besides the methods, every task but upscale gets a row for the degraded input itself (method
``input``), so gains can be read off. Rows are dicts with the keys of :data:`FIELDS`.
"""
from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from restora.errors import RestoraError
from restora.io import write_text_atomic
from restora.methods import TASKS, Restorer, get_method, list_methods
from restora.protocols import Case, protocol, read_reference, reference_paths

FIELDS = ("task", "method", "dataset", "setting", "psnr", "ssim", "seconds_per_image", "mp_per_s", "images")
FORMATS = ("md", "csv", "json")
BASELINE = "input"


@dataclass
class _Tally:
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0

    def add(self, out: torch.Tensor, case: Case, seconds: float) -> None:
        p, s = case.score(out)
        self.psnr.append(p)
        self.ssim.append(s)
        self.seconds += seconds
        self.megapixels += out.shape[1] * out.shape[2] / 1e6


def run_bench(task: str, data: str | Path, settings: list | None = None, methods: list[str] | None = None,
              seed: int = 0, limit: int | None = None, offset: int = 0,
              progress: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Benchmark ``methods`` (default: all of the task's) on the images in ``data``.

    methods: names, or NAME:OPTION=VALUE[:OPTION=VALUE] to run a method with options (e.g.
    unet-denoiser:ensemble=true); the spec names the method's rows.
    settings: values of the task's benchmark setting (restora.methods.tasks: sigmas, integer scales,
    mask kinds, kernel specs); the task's defaults when None. ``offset`` and ``limit`` select images (e.g. a
    held-out tail of a training folder). Each method runs once untimed before it is timed.
    ``progress(done, total)`` is called after each restored image; a method that refuses a
    setting (RestoraError) is skipped there with a ``log`` line.
    Returns one row per method and setting, the ``input`` baseline first.
    """
    if task not in TASKS:
        raise RestoraError(f"unknown task '{task}' (use one of {', '.join(TASKS)})")
    spec, make_case = TASKS[task], protocol(task).case
    data = Path(data)
    if not data.is_dir():
        raise RestoraError(f"{data}: no such folder")
    restorers = [method_spec(task, spec) for spec in methods or [m["name"] for m in list_methods(task)]]
    plan = [(setting, reference_paths(task, data, setting, limit, offset)) for setting in settings or spec.settings]
    total, done = sum(len(paths) for _, paths in plan) * len(restorers), 0
    tallies: dict[tuple[str, str], _Tally] = {}
    cache: dict[Path, torch.Tensor] = {}
    warm: set[str] = set()
    for setting, paths in plan:
        label = spec.setting_label(setting)
        skipped: set[str] = set()
        for index, path in enumerate(paths):
            if path not in cache:
                cache[path] = read_reference(path)
            case = make_case(cache[path], setting, seed + index)
            if case.degraded.shape == case.clean.shape:  # the input is a baseline where it is comparable
                tallies.setdefault((BASELINE, label), _Tally()).add(case.degraded, case, 0.0)
            for name, restorer, options in restorers:
                if name not in skipped:
                    try:
                        if name not in warm:  # untimed first call: imports, weights, caches
                            restorer.restore(case.degraded, **case.inputs, **options)
                            warm.add(name)
                        start = time.perf_counter()
                        out = restorer.restore(case.degraded, **case.inputs, **options)
                        tallies.setdefault((name, label), _Tally()).add(out, case, time.perf_counter() - start)
                    except RestoraError as exc:
                        skipped.add(name)
                        tallies.pop((name, label), None)
                        if log:
                            log(f"{name} skipped at {label}: {exc}")
                done += 1
                if progress:
                    progress(done, total)
    if not tallies:
        raise RestoraError(f"{data}: no method produced a result")
    order = [BASELINE] + [name for name, _, _ in restorers]
    keys = sorted(tallies, key=lambda k: order.index(k[0]))  # stable: settings keep their order
    return [_row(task, data.name, name, label, tallies[name, label]) for name, label in keys]


def method_spec(task: str, spec: str) -> tuple[str, Restorer, dict[str, Any]]:
    """'NAME' or 'NAME:OPTION=VALUE[:OPTION=VALUE]' (e.g. unet-denoiser:ensemble=true) -> (the spec as
    the row's method name, the restorer, the options given, checked)."""
    name, *pairs = spec.split(":")
    restorer = get_method(task, name)
    given = dict(pair.partition("=")[::2] for pair in pairs)
    if any(not key or not value for key, value in given.items()):
        raise RestoraError(f"method '{spec}': write options as NAME:OPTION=VALUE")
    checked = restorer.check_options(given)
    return spec, restorer, {key: checked[key] for key in given}


def _row(task: str, dataset: str, method: str, label: str, tally: _Tally) -> dict[str, Any]:
    """A result row, full precision (the formats round it)."""
    n = len(tally.psnr)
    timed = method != BASELINE and tally.seconds > 0
    return {"task": task, "method": method, "dataset": dataset, "setting": label,
            "psnr": sum(tally.psnr) / n, "ssim": sum(tally.ssim) / n,
            "seconds_per_image": tally.seconds / n if timed else None,
            "mp_per_s": tally.megapixels / tally.seconds if timed else None, "images": n}


DIGITS = {"psnr": 3, "ssim": 4, "seconds_per_image": 4, "mp_per_s": 3}


def rounded(row: dict[str, Any]) -> dict[str, Any]:
    """A row as reports show it: PSNR to 1/1000 dB, SSIM to 1/10000, speeds likewise."""
    return {k: round(v, DIGITS[k]) if k in DIGITS and v is not None else v for k, v in row.items()}


def format_rows(rows: list[dict[str, Any]], fmt: str = "md") -> str:
    """Rows (rounded, see :func:`rounded`) as a Markdown table (methods x settings), CSV or JSON."""
    rows = [rounded(row) for row in rows]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue()
    if fmt == "md":
        return "\n\n".join(_markdown(group) for group in _groups(rows))
    raise RestoraError(f"unknown format '{fmt}' (use one of {', '.join(FORMATS)})")


def _groups(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list] = {}
    for row in rows:
        groups.setdefault((row["task"], row["dataset"]), []).append(row)
    return list(groups.values())


def _markdown(rows: list[dict[str, Any]]) -> str:
    """One task on one dataset: a row per method, a PSNR / SSIM column per setting, then speed."""
    task, dataset = rows[0]["task"], rows[0]["dataset"]
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    methods = list(dict.fromkeys(r["method"] for r in rows))
    cell = {(r["method"], r["setting"]): r for r in rows}
    images = max(r["images"] for r in rows)
    lines = [f"{task} on `{dataset}` ({images} image{'s' * (images != 1)}), PSNR (dB) / SSIM: "
             f"{protocol(task).note}.", "",
             "| method | " + " | ".join(settings) + " | s / image | MP/s |",
             "|---|" + "---|" * (len(settings) + 2)]
    for method in methods:
        measured = [cell[method, s] for s in settings if (method, s) in cell]
        scores = [f"{cell[method, s]['psnr']:.2f} / {cell[method, s]['ssim']:.4f}" if (method, s) in cell else "–"
                  for s in settings]
        speed = ["–", "–"]
        if measured[0]["seconds_per_image"] is not None:
            seconds = sum(r["seconds_per_image"] for r in measured) / len(measured)
            rate = sum(r["mp_per_s"] for r in measured) / len(measured)
            speed = [f"{seconds:.3f}", f"{rate:.2f}"]
        lines.append(f"| {method} | " + " | ".join(scores + speed) + " |")
    return "\n".join(lines)


def splice_markdown(path: str | Path, name: str, text: str) -> None:
    """Replace what lies between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in ``path``."""
    path = Path(path)
    document = path.read_text() if path.is_file() else ""
    pattern = re.compile(rf"(<!-- bench:{re.escape(name)} -->\n).*?(<!-- /bench:{re.escape(name)} -->)", re.S)
    if not pattern.search(document):
        raise RestoraError(f"{path}: no '<!-- bench:{name} -->' ... '<!-- /bench:{name} -->' markers to fill")
    write_text_atomic(path, pattern.sub(lambda m: m.group(1) + text.rstrip("\n") + "\n" + m.group(2), document))
