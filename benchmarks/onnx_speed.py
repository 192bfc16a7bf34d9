"""PyTorch against ONNX Runtime on this machine, and int8 ONNX graphs.

    python benchmarks/onnx_speed.py [--parts speed,int8]   # benchmarks/results/onnx_speed.md, int8.md
                                                           # and docs/benchmarks.md's bench:onnx-speed, bench:int8
    python benchmarks/onnx_speed.py --quick     # smoke test on tiny sizes, printed, nothing written

Speed: the default denoiser (unet-denoiser, gray and colour input, sigma 25) and upscaler
(compact-sr x2 and x4, colour input: luma model, bicubic chroma; megapixels of output) through
``restore(..., backend=torch|onnxruntime)`` with 1 and 2 threads (torch.set_num_threads; the ONNX
Runtime session takes torch's thread count): megapixels per second on a 512x512 photo (best of 3
calls after a warm-up call, the backends taking turns) and on a 12 MP photo (4000x3000, for an
upscaler the input whose output is 12 MP; one call, 512-pixel tiles), and the largest difference
between the backends' 12 MP outputs.

int8: the model's ONNX graph quantised statically as the ``int8`` backend does it
(restora.zoo.onnx.quantize: ONNX Runtime QDQ, int8 weights per channel, uint8 activations calibrated
by min/max on restora.zoo.onnx.calibration_feeds, 24 crops of scikit-image's sample photos
degraded as the task does), every convolution or all but some, scored on Set12 sigma 25 / Set5 at
the model's scale by restora.protocols.evaluate: the int8 graph takes the float graph's place in the temporary
RESTORA_CACHE, so it runs through the very tiled path of backend=onnxruntime. Speed: the graphs
alone on the 512x512 photo (one tile: the rest of the path is the same for both), float and int8
taking turns. The last column is the bar for shipping a variant: at most 0.05 dB lost and at least
1.3x faster than the float graph with 1 and with 2 threads.
Needs the shared data folder (``RESTORA_DATA``, default ``<repo>/../shared/data``).
"""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from skimage import data
from speed import write_markdown

os.environ["RESTORA_CACHE"] = tempfile.mkdtemp(prefix="restora-onnx-speed-")
atexit.register(shutil.rmtree, os.environ["RESTORA_CACHE"], ignore_errors=True)

from restora.bench import splice_markdown  # noqa: E402  (after RESTORA_CACHE is set)
from restora.color import rgb_to_ycbcr  # noqa: E402
from restora.degrade import gaussian_noise, imresize  # noqa: E402
from restora.methods import get_method  # noqa: E402
from restora.protocols import evaluate, protocol, read_reference, reference_paths  # noqa: E402
from restora.zoo.onnx import calibration_feeds, new_session, onnx_file, quantize, restoration_entry  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RESTORA_DATA", REPO.parent / "shared" / "data"))
BACKENDS = ("torch", "onnxruntime")
THREADS = (1, 2)
# (task, method, model, colour input, task inputs) timed on both backends
SPEED_CASES = [("denoise", "unet-denoiser", "unet-denoiser-gray", False, {"sigma": 25}),
               ("denoise", "unet-denoiser", "unet-denoiser-color", True, {"sigma": 25}),
               ("upscale", "compact-sr", "compact-sr-x2", True, {"scale": 2}),
               ("upscale", "compact-sr", "compact-sr-x4", True, {"scale": 4})]
# model -> (task, method, task inputs, benchmark set, {variant: name prefixes of the convolutions kept
# in float}); a variant that meets the bar is what the model's zoo entry lists as int8_float
INT8_CASES = {
    **{f"unet-denoiser-{kind}": ("denoise", "unet-denoiser", {"sigma": 25}, bench,
                                 {"all convolutions": (), "full-resolution stage in float":
                                  ("/head/", "/tail/", "/enc1/", "/dec1/", "/up1/")})
       for kind, bench in (("gray", "denoise/gray/set12"), ("color", "denoise/color/mcmaster"))},
    **{f"compact-sr-x{s}": ("upscale", "compact-sr", {"scale": s}, "sr/set5",
                            {"all convolutions": (), "first and last in float": ("/head/", "/up/")}) for s in (2, 3, 4)},
}
SPEED_COLUMNS = ["model", "input", "threads", "512x512 torch MP/s", "512x512 onnxruntime MP/s",
                 "12 MP torch MP/s", "12 MP onnxruntime MP/s", "onnxruntime / torch (12 MP)",
                 "max abs difference (12 MP)"]
INT8_COLUMNS = ["model", "benchmark", "int8 variant", "float PSNR", "int8 PSNR", "loss (dB)",
                "float MP/s, 1 / 2 threads", "int8 MP/s, 1 / 2 threads", "speed-up, 1 / 2 threads",
                "within 0.05 dB and 1.3x faster"]


def photo(size: tuple[int, int], colour: bool, noise: float) -> torch.Tensor:
    """scikit-image's astronaut, MATLAB-bicubic resized to ``size`` (gray: channel mean), plus
    Gaussian noise of sigma ``noise`` (0-255); (C, H, W) in about [0, 1]."""
    x = torch.from_numpy(data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)
    x = imresize(x if colour else x.mean(0, keepdim=True), size=size).clamp(0, 1)
    return gaussian_noise(x, noise, seed=0) if noise else x


def rates(calls: dict[str, Callable], x: torch.Tensor | np.ndarray, repeats: int) -> tuple[dict[str, float], dict]:
    """Output megapixels per second of each call's fastest of ``repeats`` runs on ``x`` (the calls
    taking turns), and each call's output."""
    best, outs = dict.fromkeys(calls, float("inf")), {}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            outs[name] = call(x)
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: outs[name].shape[-2] * outs[name].shape[-1] / 1e6 / seconds for name, seconds in best.items()}, outs


def speed_rows(small: tuple[int, int], big: tuple[int, int]) -> list[list[str]]:
    rows = []
    for task, method, model, colour, inputs in SPEED_CASES:
        scale = inputs.get("scale", 1)
        x_small, x_big = (photo(size, colour, inputs.get("sigma", 0)) for size in (small, (big[0] // scale, big[1] // scale)))
        restorer = get_method(task, method)
        calls = {b: partial(restorer.restore, **inputs, backend=b) for b in BACKENDS}
        for threads in THREADS:
            torch.set_num_threads(threads)
            rates(calls, x_small, 1)  # warm-up: weights, export, session, tile shapes
            small_rates, _ = rates(calls, x_small, 3)
            big_rates, outs = rates(calls, x_big, 1)
            difference = (outs["torch"] - outs["onnxruntime"]).abs().max().item()
            rows.append([model, "colour" if colour else "gray", str(threads), *(f"{small_rates[b]:.3f}" for b in BACKENDS),
                         *(f"{big_rates[b]:.3f}" for b in BACKENDS),
                         f"{big_rates['onnxruntime'] / big_rates['torch']:.2f}x", f"{difference:.1e}"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    return rows


def int8_rows(small: tuple[int, int], limit: int | None) -> list[list[str]]:
    rows = []
    for model, (task, method, inputs, bench, variants) in INT8_CASES.items():
        (setting,) = inputs.values()
        cached = onnx_file(model)
        graphs = {"float": cached.with_suffix(".float")}
        shutil.copyfile(cached, graphs["float"])
        feeds = calibration_feeds(restoration_entry(model))
        for variant, kept in variants.items():
            graphs[variant] = quantize(graphs["float"], cached.with_suffix(f".int8-{len(graphs)}"), feeds, kept)
        images = [read_reference(p) for p in reference_paths(task, DATA / bench, setting, limit)]
        restore = partial(get_method(task, method).restore, backend="onnxruntime")
        psnr = {}
        for variant, graph in graphs.items():
            shutil.copyfile(graph, cached)  # a changed file: the backend opens a new session
            psnr[variant], _ = evaluate(restore, task, images, setting)
        shutil.copyfile(graphs["float"], cached)
        speed = graph_speeds(graphs, task, inputs, small, restoration_entry(model)["channels"])
        for variant in variants:
            loss, gain = psnr["float"] - psnr[variant], [a / b for a, b in zip(speed[variant], speed["float"])]
            rows.append([model, f"{bench.split('/')[-1]} {'sigma' if task == 'denoise' else 'x'}{setting}", variant,
                         f"{psnr['float']:.3f}", f"{psnr[variant]:.3f}", f"{loss:.3f}",
                         *(" / ".join(f"{r:.3f}" for r in speed[v]) for v in ("float", variant)),
                         " / ".join(f"{g:.2f}x" for g in gain), "yes" if loss <= 0.05 and min(gain) >= 1.3 else "no"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    return rows


def graph_speeds(graphs: dict[str, Path], task: str, inputs: dict, size: tuple[int, int],
                 channels: int) -> dict[str, list[float]]:
    """Output megapixels per second of each graph alone on the benchmark photo of ``size`` (a
    denoiser's noisy photo with the model's ``channels``, an upscaler's luma), per thread count:
    sessions made as the onnxruntime backend makes them, taking turns, best of 5 calls after a
    warm-up call."""
    if task == "denoise":
        x, extra = photo(size, channels == 3, inputs["sigma"])[None].numpy(), {"sigma": np.array([inputs["sigma"] / 255], np.float32)}
    else:
        x, extra = rgb_to_ycbcr(photo(size, True, 0))[None, :1].numpy(), {}
    speeds: dict[str, list[float]] = {variant: [] for variant in graphs}
    for threads in THREADS:
        sessions = {variant: new_session(str(graph), threads) for variant, graph in graphs.items()}
        calls = {variant: (lambda x, s=s: s.run(None, {"x": x, **extra})[0]) for variant, s in sessions.items()}
        rates(calls, x, 1)
        for variant, rate in rates(calls, x, 5)[0].items():
            speeds[variant].append(rate)
    return speeds


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--parts", default="speed,int8",
                   help="speed (benchmarks/results/onnx_speed.md), int8 (benchmarks/results/int8.md), or both")
    p.add_argument("--quick", action="store_true", help="tiny sizes and 2 images: checks the script runs, writes nothing")
    a = p.parse_args()
    import onnxruntime

    parts = {  # name: (results file, docs/benchmarks.md block, title, columns, rows)
        "speed": ("onnx_speed.md", "onnx-speed", "PyTorch and ONNX Runtime (megapixels of output per second)", SPEED_COLUMNS,
                  lambda: speed_rows((64, 64), (300, 400)) if a.quick else speed_rows((512, 512), (3000, 4000))),
        "int8": ("int8.md", "int8", "int8 ONNX graphs (static QDQ quantisation, ONNX Runtime)", INT8_COLUMNS,
                 lambda: int8_rows((64, 64), 2) if a.quick else int8_rows((512, 512), None)),
    }
    for part in a.parts.split(","):
        if part not in parts:
            raise SystemExit(f"unknown part '{part}' ({', '.join(parts)})")
        file, block, title, columns, rows = parts[part]
        start, load = time.perf_counter(), os.getloadavg()[0]
        table = write_markdown(None, title, columns, rows())
        text = (f"{table}\n`python benchmarks/onnx_speed.py --parts {part}` ({time.perf_counter() - start:.0f} s; "
                f"onnxruntime {onnxruntime.__version__}; load average {load:.1f} at the start and "
                f"{os.getloadavg()[0]:.1f} at the end).\n")
        print(text)
        if not a.quick:
            (REPO / "benchmarks" / "results" / file).write_text(text)
            splice_markdown(REPO / "docs" / "benchmarks.md", block, text)


if __name__ == "__main__":
    main()
