"""PyTorch against ONNX Runtime on this machine, and int8 ONNX graphs.

    python benchmarks/onnx_speed.py [--out benchmarks/results/onnx_speed.md]
    python benchmarks/onnx_speed.py --quick     # smoke test on tiny sizes, printed, nothing written

Speed: the default denoiser (unet-denoiser, gray and colour input, sigma 25) and upscaler
(compact-sr x2 and x4, colour input: luma model, bicubic chroma; megapixels of output) through
``restore(..., backend=torch|onnxruntime)`` with 1 and 2 threads (torch.set_num_threads; the ONNX
Runtime session takes torch's thread count): megapixels per second on a 512x512 photo (best of 3
calls after a warm-up call, the backends taking turns) and on a 12 MP photo (4000x3000, for an
upscaler the input whose output is 12 MP; one call, 512-pixel tiles), and the largest difference
between the backends' 12 MP outputs.

int8: the model's ONNX graph quantised statically (ONNX Runtime QDQ: int8 weights per channel,
uint8 activations calibrated by min/max on 24 crops of training images, train400 / T91, degraded
by the benchmark's protocol), every convolution or all but some, scored on Set12 sigma 25 / Set5
x2 by restora.protocols.evaluate: the int8 graph takes the float graph's place in the temporary
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

from restora.color import rgb_to_ycbcr  # noqa: E402  (after RESTORA_CACHE is set)
from restora.degrade import gaussian_noise, imresize  # noqa: E402
from restora.methods import get_method  # noqa: E402
from restora.protocols import evaluate, protocol, read_reference, reference_paths  # noqa: E402
from restora.zoo.onnx import new_session, onnx_file  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("RESTORA_DATA", REPO.parent / "shared" / "data"))
BACKENDS = ("torch", "onnxruntime")
THREADS = (1, 2)
# (task, method, model, colour input, task inputs) timed on both backends
SPEED_CASES = [("denoise", "unet-denoiser", "unet-denoiser-gray", False, {"sigma": 25}),
               ("denoise", "unet-denoiser", "unet-denoiser-color", True, {"sigma": 25}),
               ("upscale", "compact-sr", "compact-sr-x2", True, {"scale": 2}),
               ("upscale", "compact-sr", "compact-sr-x4", True, {"scale": 4})]
# model -> (task, method, task inputs, benchmark set, calibration set, {variant: name prefixes of the
# convolutions kept in float})
INT8_CASES = {
    "unet-denoiser-gray": ("denoise", "unet-denoiser", {"sigma": 25}, "denoise/gray/set12", "denoise/gray/train400",
                           {"all convolutions": (), "full-resolution stage in float":
                            ("/head/", "/tail/", "/enc1/", "/dec1/", "/up1/")}),
    "compact-sr-x2": ("upscale", "compact-sr", {"scale": 2}, "sr/set5", "sr/t91",
                      {"all convolutions": (), "first and last in float": ("/head/", "/up/")}),
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


class Calibration:
    """ONNX Runtime calibration reader: graph inputs of ``count`` crops (side ``crop``) of the images
    under ``folder``, degraded by the task's protocol (denoise: sigma 15, 25 and 50 in turn; upscale:
    the LR luma)."""

    def __init__(self, task: str, setting: int, folder: Path, count: int, crop: int):
        feeds = []
        side = crop * (setting if task == "upscale" else 1)
        for i, path in enumerate(sorted(folder.glob("*.png"))[:count]):
            clean = read_reference(path)[:, :side, :side]
            if task == "denoise":
                sigma = (15, 25, 50)[i % 3]
                feeds.append({"x": protocol(task).case(clean, sigma, i).degraded[None].numpy(),
                              "sigma": np.array([sigma / 255], np.float32)})
            else:
                lr = protocol(task).case(clean.expand(3, -1, -1), setting, i).degraded
                feeds.append({"x": rgb_to_ycbcr(lr)[None, :1].numpy()})
        self.feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.feeds, None)


def int8_rows(small: tuple[int, int], limit: int | None, calibration: int) -> list[list[str]]:
    from onnx import load
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    rows = []
    for model, (task, method, inputs, bench, calib, variants) in INT8_CASES.items():
        (setting,) = inputs.values()
        cached = onnx_file(model)
        graphs, prepared = {"float": cached.with_suffix(".float")}, cached.with_suffix(".prepared")
        shutil.copyfile(cached, graphs["float"])
        quant_pre_process(str(graphs["float"]), str(prepared), skip_symbolic_shape=True)
        convs = [n.name for n in load(str(prepared)).graph.node if n.op_type == "Conv"]
        for variant, kept in variants.items():
            graphs[variant] = cached.with_suffix(f".int8-{len(graphs)}")
            quantize_static(str(prepared), str(graphs[variant]),
                            Calibration(task, setting, DATA / calib, calibration, 160 if task == "denoise" else 48),
                            quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                            nodes_to_exclude=[c for c in convs if c.startswith(kept)])
        images = [read_reference(p) for p in reference_paths(task, DATA / bench, setting, limit)]
        restore = partial(get_method(task, method).restore, backend="onnxruntime")
        psnr = {}
        for variant, graph in graphs.items():
            shutil.copyfile(graph, cached)  # a changed file: the backend opens a new session
            psnr[variant], _ = evaluate(restore, task, images, setting)
        shutil.copyfile(graphs["float"], cached)
        speed = graph_speeds(graphs, task, inputs, small)
        for variant in variants:
            loss, gain = psnr["float"] - psnr[variant], [a / b for a, b in zip(speed[variant], speed["float"])]
            rows.append([model, f"{bench.split('/')[-1]} {'sigma' if task == 'denoise' else 'x'}{setting}", variant,
                         f"{psnr['float']:.3f}", f"{psnr[variant]:.3f}", f"{loss:.3f}",
                         *(" / ".join(f"{r:.3f}" for r in speed[v]) for v in ("float", variant)),
                         " / ".join(f"{g:.2f}x" for g in gain), "yes" if loss <= 0.05 and min(gain) >= 1.3 else "no"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    return rows


def graph_speeds(graphs: dict[str, Path], task: str, inputs: dict, size: tuple[int, int]) -> dict[str, list[float]]:
    """Output megapixels per second of each graph alone on the benchmark photo of ``size`` (a
    denoiser's noisy gray photo, an upscaler's luma), per thread count: sessions made as the
    onnxruntime backend makes them, taking turns, best of 5 calls after a warm-up call."""
    if task == "denoise":
        x, extra = photo(size, False, inputs["sigma"])[None].numpy(), {"sigma": np.array([inputs["sigma"] / 255], np.float32)}
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
    p.add_argument("--out", type=Path, default=None,
                   help="result file (default benchmarks/results/onnx_speed.md; none with --quick)")
    p.add_argument("--quick", action="store_true", help="tiny sizes and 2 images: checks the script runs")
    a = p.parse_args()
    import onnxruntime

    start, load = time.perf_counter(), os.getloadavg()[0]
    if a.quick:
        speed, int8 = speed_rows((64, 64), (300, 400)), int8_rows((64, 64), 2, 2)
    else:
        speed, int8 = speed_rows((512, 512), (3000, 4000)), int8_rows((512, 512), None, 24)
    note = (f"`python benchmarks/onnx_speed.py` ({time.perf_counter() - start:.0f} s; onnxruntime "
            f"{onnxruntime.__version__}; load average {load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end).")
    text = "\n".join([write_markdown(None, "PyTorch and ONNX Runtime (megapixels of output per second)", SPEED_COLUMNS, speed),
                      write_markdown(None, "int8 ONNX graphs (static QDQ quantisation, ONNX Runtime)", INT8_COLUMNS, int8),
                      note])
    print(text)
    if not a.quick:
        out = a.out or REPO / "benchmarks" / "results" / "onnx_speed.md"
        out.write_text(text)


if __name__ == "__main__":
    main()
