"""Speed and peak memory of the denoisers on this machine.

    python benchmarks/denoise_speed.py [--out benchmarks/results/denoise_speed.md] [--methods nlm,bm3d]

Each measurement runs in a fresh subprocess (benchmarks/speed.py, so its peak RSS is its own):
megapixels per second on a 512x512 photo and on a 12-megapixel photo (4000x3000; learned models
run tiled), for every denoise method, gray and colour. BM3D is measured on 512x512 only (a 12 MP
image takes tens of minutes). Noise sigma 25, torch at its default thread count.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from speed import measure, write_markdown

COLUMNS = ["method", "input", "512x512 MP/s", "12 MP MP/s", "12 MP seconds", "12 MP peak memory (MB)"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/denoise_speed.md"))
    p.add_argument("--methods", default=None, help="comma-separated (default: every denoise method)")
    a = p.parse_args()
    from restora.methods import list_methods

    methods = a.methods.split(",") if a.methods else [m["name"] for m in list_methods("denoise")]
    rows = []
    for method in methods:
        for colour in (False, True):
            small = measure("denoise", method, (512, 512), colour, noise=25, sigma=25)
            row = [method, "colour" if colour else "gray", f"{small['mp'] / small['seconds']:.3f}"]
            if method == "bm3d":
                row += ["not run (too slow)", "", ""]
            else:
                big = measure("denoise", method, (3000, 4000), colour, noise=25, sigma=25)
                row += [f"{big['mp'] / big['seconds']:.3f}", f"{big['seconds']:.1f}", f"{big['peak_mb']:.0f}"]
            rows.append(row)
            print("| " + " | ".join(row) + " |", flush=True)
    write_markdown(a.out, "Denoising speed (megapixels per second, sigma 25)", COLUMNS, rows,
                   merge=bool(a.methods))


if __name__ == "__main__":
    main()
