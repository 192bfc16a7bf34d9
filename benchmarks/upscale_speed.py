"""Speed and peak memory of the upscalers on this machine.

    python benchmarks/upscale_speed.py [--out benchmarks/results/upscale_speed.md] [--methods bicubic,compact-sr]
    python benchmarks/upscale_speed.py --quick     # smoke test on tiny sizes, printed, nothing written

For bicubic and every shipped upscale model (each method at each scale it ships), in a fresh
subprocess each (benchmarks/speed.py): megapixels of OUTPUT per second and peak memory on a
512x512 colour photo, and on the input whose output is 12 megapixels (4000x3000 / scale; learned
models run in their default 512-pixel tiles). Torch at its default thread count.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from speed import measure, write_markdown

COLUMNS = ["method", "scale", "512x512 input: output MP/s", "512x512 peak memory (MB)", "12 MP output: MP/s",
           "12 MP seconds", "12 MP peak memory (MB)"]
FULL = {"small": (512, 512), "big": (3000, 4000)}
QUICK = {"small": (64, 64), "big": (300, 400)}


def scales_of(method: str) -> list[int]:
    """The scales a learned method ships models for; 2, 3 and 4 for a classical one."""
    from restora.methods import get_method

    return sorted(int(e["scale"]) for e in getattr(get_method("upscale", method), "entries", ())) or [2, 3, 4]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", type=Path, default=None,
                   help="result file (default benchmarks/results/upscale_speed.md; none with --quick)")
    p.add_argument("--methods", default=None, help="comma-separated (default: bicubic and every learned upscaler)")
    p.add_argument("--quick", action="store_true", help="64x64 input and a 0.12 MP output: checks the script runs")
    a = p.parse_args()
    from restora.methods import list_methods

    methods = a.methods.split(",") if a.methods else ["bicubic"] + [
        m["name"] for m in list_methods("upscale") if m["kind"] == "learned"]
    sizes = QUICK if a.quick else FULL
    rows = []
    for method in methods:
        for scale in scales_of(method):
            small = measure("upscale", method, sizes["small"], scale=scale)
            big = measure("upscale", method, tuple(side // scale for side in sizes["big"]), scale=scale)
            rows.append([method, f"x{scale}", f"{small['mp'] / small['seconds']:.3f}", f"{small['peak_mb']:.0f}",
                         f"{big['mp'] / big['seconds']:.3f}", f"{big['seconds']:.1f}", f"{big['peak_mb']:.0f}"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    out = a.out or (None if a.quick else Path("benchmarks/results/upscale_speed.md"))
    write_markdown(out, "Upscaling speed (megapixels of output per second; colour input, learned models on the "
                   "BT.601 luma with bicubic chroma)", COLUMNS, rows,
                   merge=bool(a.methods))


if __name__ == "__main__":
    main()
