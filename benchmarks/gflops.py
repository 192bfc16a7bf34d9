"""How much of the CPU's arithmetic each shipped restoration network uses: its convolutions'
achieved GFLOP/s against a float32 matrix product timed in the same run.

    python benchmarks/gflops.py            # benchmarks/results/gflops.md and docs/benchmarks.md's bench:gflops
    python benchmarks/gflops.py --quick    # small sizes, printed, nothing written

For every shipped model of a task that restora exports (denoise, dejpeg, deblur, inpaint, upscale):
the network alone (no tiling, no colour conversion) on one input whose output is 512x512 (an
upscaler's input 512/scale; an inpainter's with a 128x128 hole in the middle), a random image in
[0, 1], on torch (channels-last memory, as restora runs it) and on ONNX Runtime (the cached graph of
restora.zoo.onnx; srcnn does not export), with 1 and 2 threads. Its FLOPs are counted from the
convolutions it ran (forward hooks: 2 x multiply-adds, transposed convolutions included; additions
of biases, activations, shuffles and padding left out), so GFLOP/s = conv FLOPs / seconds of the
whole forward, a lower bound on what the convolutions alone reach. Reference: a 2048x2048 float32
matmul (17.2 GFLOP) with the same thread count, timed between the models (a new ONNX Runtime
session per thread count). Times are the best of 3 calls after a warm-up call.

Above 100 % is possible: the libraries run 3x3 convolutions by a fast algorithm (Winograd-style)
that needs fewer multiplications than the direct count used here; on this CPU a single 64-channel
3x3 layer reaches about 260 direct-equivalent GFLOP/s on one thread, a 1x1 layer of the same width
about 35, and the matmul 75-110.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Callable

import torch
from speed import write_markdown

from restora.bench import splice_markdown
from restora.methods.learned import channels_last
from restora.zoo import load_shipped, shipped_models
from restora.zoo.onnx import EXPORTED_TASKS, input_names, onnx_runner

REPO = Path(__file__).resolve().parents[1]
THREADS = (1, 2)
MATMUL = 2048
COLUMNS = ["model", "conv GFLOP per output MP", "matmul GFLOP/s", "torch GFLOP/s (% of matmul)",
           "onnxruntime GFLOP/s (% of matmul)", "torch MP/s", "onnxruntime MP/s"]  # cells: 1 thread / 2 threads


def inputs_for(net: torch.nn.Module, side: int) -> tuple[torch.Tensor, ...]:
    """Inputs like the net's contract example, for an output of side x side: an image, then a level
    (0.1) or a mask with a hole of a quarter of the side."""
    example, _ = net.example()
    n = side // getattr(net, "scale", 1)
    x = torch.rand(1, example[0].shape[1], n, n, generator=torch.Generator().manual_seed(0))
    extra = []
    for name in input_names(example)[1:]:
        if name == "mask":
            mask = torch.zeros(1, 1, n, n)
            mask[..., 3 * n // 8:5 * n // 8, 3 * n // 8:5 * n // 8] = 1
            extra.append(mask)
        else:
            extra.append(torch.tensor([0.1]))
    return (x, *extra)


def conv_flops(net: torch.nn.Module, inputs: tuple[torch.Tensor, ...]) -> float:
    """FLOPs (2 x multiply-adds) of the convolutions ``net`` runs on ``inputs``."""
    total = 0.0

    def count(module, args, out):
        nonlocal total
        k = module.kernel_size[0] * module.kernel_size[1] * module.in_channels * module.out_channels / module.groups
        pixels = args[0].shape[-2] * args[0].shape[-1] if isinstance(module, torch.nn.ConvTranspose2d) else out.shape[-2] * out.shape[-1]
        total += 2 * k * pixels * out.shape[0]

    hooks = [m.register_forward_hook(count) for m in net.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    with torch.no_grad():
        net(*inputs)
    for h in hooks:
        h.remove()
    return total


def best_seconds(call: Callable[[], object], repeats: int = 3) -> float:
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def matmul_gflops() -> float:
    a, b = torch.rand(MATMUL, MATMUL), torch.rand(MATMUL, MATMUL)
    return 2 * MATMUL ** 3 / best_seconds(lambda: a @ b) / 1e9


def rows(side: int) -> list[list[str]]:
    """One row per model; each timed cell is "1 thread / 2 threads"."""
    out = []
    for entry in [e for e in shipped_models() if e["task"] in EXPORTED_TASKS]:
        net = load_shipped(entry["name"])
        inputs = inputs_for(net, side)
        flops = conv_flops(net, inputs)
        backends = ("torch", "onnxruntime") if entry["arch"] != "srcnn" else ("torch",)  # srcnn: no export
        cells: dict[str, list[str]] = {key: [] for key in ("matmul", *(f"{b} {k}" for b in backends for k in ("rate", "mp")))}
        for threads in THREADS:
            torch.set_num_threads(threads)
            runners = {b: channels_last(net) if b == "torch" else onnx_runner(entry["name"]) for b in backends}
            reference = matmul_gflops()
            cells["matmul"].append(f"{reference:.0f}")
            for b in backends:
                rate = flops / best_seconds(lambda r=runners[b]: r(*inputs)) / 1e9
                cells[f"{b} rate"].append(f"{rate:.0f} ({100 * rate / reference:.0f} %)")
                cells[f"{b} mp"].append(f"{rate * 1e9 / flops * side * side / 1e6:.2f}")
        joined = {key: " / ".join(values) for key, values in cells.items()}
        out.append([entry["name"], f"{flops / (side * side / 1e6) / 1e9:.1f}", joined["matmul"],
                    *(joined.get(f"{b} {k}", "–") for k in ("rate",) for b in ("torch", "onnxruntime")),
                    *(joined.get(f"{b} mp", "–") for b in ("torch", "onnxruntime"))])
        print("| " + " | ".join(out[-1]) + " |", flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="64x64 outputs: checks the script runs, writes nothing")
    a = p.parse_args()
    start, load = time.perf_counter(), os.getloadavg()[0]
    table = write_markdown(None, "Convolution GFLOP/s of the shipped networks against a 2048x2048 float32 matmul",
                           COLUMNS, rows(64 if a.quick else 512))
    text = (f"{table}\n`python benchmarks/gflops.py` ({time.perf_counter() - start:.0f} s; load average "
            f"{load:.1f} at the start and {os.getloadavg()[0]:.1f} at the end).\n")
    print(text)
    if not a.quick:
        (REPO / "benchmarks" / "results" / "gflops.md").write_text(text)
        splice_markdown(REPO / "docs" / "benchmarks.md", "gflops", text)


if __name__ == "__main__":
    main()
