"""Benchmarks: degrade every image of a folder by a task's protocol (docs/REFERENCE.md), restore it
with each method and report mean PSNR / SSIM and speed per method and setting.

Protocols (the setting is the per-task parameter):
- denoise (sigma): clean 8-bit image + N(0, sigma^2) noise on the 0-255 scale, seed = seed + image
  index, the noisy image neither clipped nor quantised; PSNR / SSIM on the full image.
- upscale (scale s): HR cropped to a multiple of s, LR = MATLAB bicubic imresize(HR, 1/s) quantised to
  8 bits; PSNR / SSIM on the BT.601 Y channel with an s-pixel border crop. A folder in the Set5 layout
  (``image_SRF_s/*_HR.png``) gives each scale its own HR images.
- inpaint (mask kind): holes filled white, mask seed = seed + image index; full-image PSNR / SSIM.
- deblur (kernel spec): blurred (reflected borders) + Gaussian noise sigma 1 (clipped), seed = seed +
  image index; full-image PSNR / SSIM.

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

from restora.degrade import apply_mask, blur, gaussian_noise, imresize, kernel_from_spec, make_mask
from restora.errors import RestoraError
from restora.io import list_images, read_image, write_text_atomic
from restora.methods import Restorer, get_method, list_methods
from restora.metrics import psnr, ssim

FIELDS = ("task", "method", "dataset", "setting", "psnr", "ssim", "seconds_per_image", "mp_per_s", "images")
FORMATS = ("md", "csv", "json")
BASELINE = "input"
DEFAULT_SETTINGS: dict[str, list] = {"denoise": [15, 25, 50], "upscale": [2, 3, 4],
                                     "inpaint": ["center", "boxes", "strokes"],
                                     "deblur": ["gaussian:2", "motion:15,45"]}
PROTOCOL_NOTES = {
    "denoise": "clean 8-bit image + Gaussian noise (sigma on 0-255, unclipped, seed per image); RGB or gray, "
               "full image",
    "upscale": "LR = MATLAB bicubic of HR, 8-bit; Y channel (BT.601), border of `scale` pixels cropped",
    "inpaint": "holes filled white (seed per image); full image",
    "deblur": "blurred + Gaussian noise sigma 1 (seed per image); full image",
}


@dataclass
class Case:
    """One degraded image. clean: reference (C, H, W) in [0, 1]; degraded: the method input;
    inputs: the task inputs (sigma, scale, mask or kernel); metric: psnr/ssim keywords (y, crop)."""

    clean: torch.Tensor
    degraded: torch.Tensor
    inputs: dict[str, Any]
    metric: dict[str, Any] = field(default_factory=dict)


def _quantise(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def _denoise_case(clean: torch.Tensor, sigma: float, seed: int) -> Case:
    return Case(clean, gaussian_noise(clean, sigma, seed, clip=False), {"sigma": sigma})


def _upscale_case(clean: torch.Tensor, scale: int, seed: int) -> Case:
    h, w = clean.shape[1:]
    hr = clean[:, : h - h % scale, : w - w % scale]
    return Case(hr, _quantise(imresize(hr, 1 / scale)), {"scale": scale}, {"y": True, "crop": scale})


def _inpaint_case(clean: torch.Tensor, kind: str, seed: int) -> Case:
    mask = make_mask(kind, *clean.shape[1:], seed=seed)
    return Case(clean, apply_mask(clean, mask), {"mask": mask})


def _deblur_case(clean: torch.Tensor, spec: str, seed: int) -> Case:
    kernel = kernel_from_spec(spec)
    return Case(clean, gaussian_noise(blur(clean, kernel)[0], 1.0, seed), {"kernel": kernel})


PROTOCOLS: dict[str, Callable[[torch.Tensor, Any, int], Case]] = {
    "denoise": _denoise_case, "upscale": _upscale_case, "inpaint": _inpaint_case, "deblur": _deblur_case}


def setting_label(task: str, setting: Any) -> str:
    """How a setting is named in rows and tables: sigma=25, x3, center, gaussian:2."""
    if task == "denoise":
        return f"sigma={setting:g}"
    return f"x{setting}" if task == "upscale" else str(setting)


def bench_images(task: str, data: Path, setting: Any, limit: int | None = None, offset: int = 0) -> list[Path]:
    """The reference images for one setting: ``data/image_SRF_s/*_HR.png`` for upscale in the Set5
    layout, otherwise every image under ``data`` (sorted); ``limit`` of them after skipping ``offset``."""
    if task == "upscale" and any(data.glob("image_SRF_*")):
        paths = sorted((data / f"image_SRF_{setting}").glob("*_HR.png"))
        if not paths:
            raise RestoraError(f"{data}: no image_SRF_{setting}/*_HR.png for scale {setting}")
    else:
        paths = [path for path, _ in list_images([data])]
    if offset >= len(paths):
        raise RestoraError(f"{data}: offset {offset} skips all {len(paths)} images")
    return paths[offset:][:limit]


@dataclass
class _Tally:
    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    seconds: float = 0.0
    megapixels: float = 0.0

    def add(self, out: torch.Tensor, case: Case, seconds: float) -> None:
        self.psnr.append(psnr(out, case.clean, **case.metric))
        self.ssim.append(ssim(out, case.clean, **case.metric))
        self.seconds += seconds
        self.megapixels += out.shape[1] * out.shape[2] / 1e6


def run_bench(task: str, data: str | Path, settings: list | None = None, methods: list[str] | None = None,
              seed: int = 0, limit: int | None = None, offset: int = 0,
              progress: Callable[[int, int], None] | None = None,
              log: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Benchmark ``methods`` (default: all of the task's) on the images in ``data``.

    methods: names, or NAME:OPTION=VALUE[:OPTION=VALUE] to run a method with options (e.g.
    unet-denoiser:ensemble=true); the spec names the method's rows.
    settings: sigmas (denoise), integer scales (upscale), mask kinds (inpaint) or kernel specs
    (deblur); defaults in :data:`DEFAULT_SETTINGS`. ``offset`` and ``limit`` select images (e.g. a
    held-out tail of a training folder). Each method runs once untimed before it is timed.
    ``progress(done, total)`` is called after each restored image; a method that refuses a
    setting (RestoraError) is skipped there with a ``log`` line.
    Returns one row per method and setting, the ``input`` baseline first.
    """
    if task not in PROTOCOLS:
        raise RestoraError(f"unknown task '{task}' (use one of {', '.join(PROTOCOLS)})")
    data = Path(data)
    if not data.is_dir():
        raise RestoraError(f"{data}: no such folder")
    restorers = [_method_spec(task, spec) for spec in methods or [m["name"] for m in list_methods(task)]]
    plan = [(setting, bench_images(task, data, setting, limit, offset))
            for setting in settings or DEFAULT_SETTINGS[task]]
    total, done = sum(len(paths) for _, paths in plan) * len(restorers), 0
    tallies: dict[tuple[str, str], _Tally] = {}
    cache: dict[Path, torch.Tensor] = {}
    warm: set[str] = set()
    for setting, paths in plan:
        label = setting_label(task, setting)
        skipped: set[str] = set()
        for index, path in enumerate(paths):
            if path not in cache:
                cache[path] = _quantise(read_image(path).data)
            case = PROTOCOLS[task](cache[path], setting, seed + index)
            if task != "upscale":
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


def _method_spec(task: str, spec: str) -> tuple[str, Restorer, dict[str, Any]]:
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
    n = len(tally.psnr)
    timed = method != BASELINE and tally.seconds > 0
    return {"task": task, "method": method, "dataset": dataset, "setting": label,
            "psnr": round(sum(tally.psnr) / n, 3), "ssim": round(sum(tally.ssim) / n, 4),
            "seconds_per_image": round(tally.seconds / n, 4) if timed else None,
            "mp_per_s": round(tally.megapixels / tally.seconds, 3) if timed else None, "images": n}


def format_rows(rows: list[dict[str, Any]], fmt: str = "md") -> str:
    """Rows as a Markdown table (methods x settings), CSV or JSON (the exact rows)."""
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
             f"{PROTOCOL_NOTES[task]}.", "",
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
