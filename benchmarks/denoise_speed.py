"""Speed and peak memory of the denoisers on this machine.

    python benchmarks/denoise_speed.py [--out benchmarks/results/denoise_speed.md]

Each measurement runs in a fresh subprocess (so its peak RSS is its own): megapixels per second
on a 512x512 photo and on a 12-megapixel photo (4000x3000; learned models run tiled), for every
denoise method, gray and colour. BM3D is measured on 512x512 only (a 12 MP image takes tens of
minutes). Noise sigma 25, torch at its default thread count.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, torch
import numpy as np
from skimage import data
from restora.degrade import gaussian_noise, imresize
from restora.methods import get_method
method, side, colour = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
img = torch.from_numpy(data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)
if not colour:
    img = img.mean(0, keepdim=True)
if side == "12mp":
    img = imresize(img, size=(3000, 4000)).clamp(0, 1)
noisy = gaussian_noise(img, 25, seed=0)
restorer = get_method("denoise", method)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
restorer.restore(noisy, sigma=25)
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "mp": img.shape[1] * img.shape[2] / 1e6,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(method: str, size: str, colour: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, method, size, "1" if colour else "0"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/denoise_speed.md"))
    p.add_argument("--methods", default=None, help="comma-separated (default: every denoise method)")
    a = p.parse_args()
    from restora.methods import list_methods

    methods = a.methods.split(",") if a.methods else [m["name"] for m in list_methods("denoise")]
    lines = ["| method | input | 512x512 MP/s | 12 MP MP/s | 12 MP seconds | 12 MP peak memory (MB) |",
             "|---|---|---|---|---|---|"]
    for method in methods:
        for colour in (False, True):
            small = measure(method, "512", colour)
            big = measure(method, "12mp", colour) if method != "bm3d" else None
            lines.append(f"| {method} | {'colour' if colour else 'gray'} | {small['mp'] / small['seconds']:.3f} | "
                         + (f"{big['mp'] / big['seconds']:.3f} | {big['seconds']:.1f} | {big['peak_mb']:.0f} |" if big
                            else "not run (too slow) | | |"))
            print(lines[-1], flush=True)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
