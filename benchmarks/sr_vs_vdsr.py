"""compact-sr against a VDSR-sized network, side by side, on this machine.

    python benchmarks/sr_vs_vdsr.py [--runs 5]   # writes benchmarks/results/sr_vs_vdsr.md

VDSR (Kim et al., CVPR 2016) is 20 3x3 convolutions of 64 channels with ReLUs on the bicubic-upscaled
luma, at output resolution, plus a skip: exactly restora's ``dncnn`` net with depth 20, width 64 and
no batch norm, the shape of benchmarks/dejpeg.py's DnCNN-3-sized net, which stands in for it (random
weights: only its speed is measured). For each scale and thread count, one fresh process
(OMP_NUM_THREADS set) times, in turn, ``runs`` times after an untimed call: compact-sr's ``restore``
of a 1-channel image whose output is 512x512 on ONNX Runtime and on torch, and the VDSR-sized net on
the 512x512 bicubic upscale (bicubic included) on ONNX Runtime and on torch (channels-last). Medians;
each speed-up is the VDSR-sized seconds over compact-sr's on the same backend.
"""
from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import torch

from speed import medians_in_turn, run_child, write_markdown

OUTPUT = 512


def _child(scale: int, runs: int) -> None:
    """Time the four calls in turn; print their median seconds as JSON."""
    import numpy as np
    from skimage import data

    from restora.degrade import imresize
    from restora.methods import get_method
    from dejpeg import dncnn3  # 20 layers of 64 channels, no batch norm: VDSR's shape

    gray = torch.from_numpy(data.camera().astype(np.float32) / 255)[None]
    lr = imresize(imresize(gray, size=(OUTPUT, OUTPUT)), size=(OUTPUT // scale, OUTPUT // scale)).clamp(0, 1)
    upscaler = get_method("upscale", "compact-sr")
    vdsr = {backend: dncnn3(backend) for backend in ("onnxruntime", "torch")}
    calls = {f"compact-sr ({backend})": partial(upscaler.restore, lr, scale=scale, backend=backend)
             for backend in vdsr}
    calls.update({f"VDSR-sized ({backend})": lambda net=net: net(imresize(lr[None], size=(OUTPUT, OUTPUT)))
                  for backend, net in vdsr.items()})
    with torch.no_grad():
        for call in calls.values():
            call()
        print(json.dumps(medians_in_turn(calls, runs)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "sr_vs_vdsr.md")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(*args.child)
    rows = []
    for scale in (2, 3, 4):
        for threads in (1, 2):
            t = run_child(__file__, [str(scale), str(args.runs)], threads)
            row = [f"x{scale}", str(threads)]
            for backend in ("onnxruntime", "torch"):
                ours, theirs = t[f"compact-sr ({backend})"], t[f"VDSR-sized ({backend})"]
                row += [f"{ours:.3f}", f"{theirs:.3f}", f"**{theirs / ours:.1f}x**"]
            rows.append(row)
            print(" | ".join(rows[-1]), flush=True)
    title = ("### compact-sr against a VDSR-sized network\n\n`python benchmarks/sr_vs_vdsr.py`: one 1-channel "
             f"image upscaled to {OUTPUT}x{OUTPUT}, each scale and thread count in its own process, the calls "
             f"in turn {args.runs} times after an untimed one; median seconds, and how many times faster "
             "compact-sr is on the same backend.")
    columns = ["scale", "threads"]
    for backend in ("ONNX Runtime", "torch"):
        columns += [f"compact-sr, {backend} (s)", f"VDSR-sized, {backend} (s)", "speed-up"]
    write_markdown(args.out, title, columns, rows)


if __name__ == "__main__":
    main()
