"""Non-blind deblurring on Set3C with Levin's 8 motion kernels, the IRCNN / DPIR protocol
(restora.protocols.circular_blur_case): circular blur, Gaussian noise sigma 2.55 and 7.65 (0-255
scale) unclipped, seed = image index; PSNR on the full 8-bit image, mean over the 3 images per
kernel. Colour images, and with ``--gray`` their BT.601 luma (as DPIR's gray models read them).

    python benchmarks/deblur_levin.py [--gray] [--methods wiener,richardson-lucy,pnp,...]

Writes benchmarks/results/deblur_levin[-gray].md. Needs $RESTORA_DATA/deblur (default ../shared/data).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import scipy.io
import torch

from speed import write_markdown
from restora.bench import method_spec
from restora.metrics import to_y
from restora.protocols import circular_blur_case, read_reference
from restora.train.data import resolve_data_path

SIGMAS = (2.55, 7.65)
METHODS = "wiener,richardson-lucy,pnp,pnp:boundary=circular"
RESULTS = Path(__file__).parent / "results"


def levin_kernels() -> list[torch.Tensor]:
    """Levin et al.'s 8 motion kernels (the first 8 of kernels_12.mat), each (25, 25), summing to 1."""
    cells = scipy.io.loadmat(resolve_data_path("$RESTORA_DATA/deblur/kernels/kernels_12.mat"))["kernels"]
    return [torch.from_numpy(cells[0, i]).float() / float(cells[0, i].sum()) for i in range(8)]


def set3c(gray: bool) -> list[torch.Tensor]:
    """Set3C (butterfly, leaves, starfish): (3, 256, 256) in [0, 1] at 8-bit levels, or their luma."""
    paths = sorted(resolve_data_path("$RESTORA_DATA/deblur/set3c").glob("*.png"))
    images = [read_reference(p) for p in paths]
    return [((to_y(x) * 255).round() / 255).float() for x in images] if gray else images


def run(methods: list[str], gray: bool) -> list[list[str]]:
    """Rows: method, sigma, PSNR per kernel, mean, seconds per image."""
    kernels, images, rows = levin_kernels(), set3c(gray), []
    for spec in methods:
        name, restorer, options = method_spec("deblur", spec)
        restorer.restore(images[0][:, :64, :64], kernel=kernels[0][:9, :9] / kernels[0][:9, :9].sum(), **options)
        for sigma in SIGMAS:
            per_kernel, seconds = [], 0.0
            for kernel in kernels:
                scores = []
                for index, clean in enumerate(images):
                    case = circular_blur_case(clean, kernel, sigma, index)
                    start = time.perf_counter()
                    out = restorer.restore(case.degraded, **case.inputs, **options)
                    seconds += time.perf_counter() - start
                    scores.append(case.score(out)[0])
                per_kernel.append(sum(scores) / len(scores))
            rows.append([name, f"{sigma:g}", *(f"{p:.2f}" for p in per_kernel),
                         f"**{sum(per_kernel) / len(per_kernel):.2f}**", f"{seconds / (len(kernels) * len(images)):.2f}"])
            print(" | ".join(rows[-1]), flush=True)
    return rows


def input_rows(gray: bool) -> list[list[str]]:
    """The blurred, noisy input itself, scored by the same protocol."""
    kernels, images, rows = levin_kernels(), set3c(gray), []
    for sigma in SIGMAS:
        cases = [[circular_blur_case(x, k, sigma, i) for i, x in enumerate(images)] for k in kernels]
        per_kernel = [sum(c.score(c.degraded)[0] for c in row) / len(row) for row in cases]
        rows.append(["input", f"{sigma:g}", *(f"{p:.2f}" for p in per_kernel),
                     f"**{sum(per_kernel) / len(per_kernel):.2f}**", "–"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gray", action="store_true", help="the images' BT.601 luma instead of colour")
    parser.add_argument("--methods", default=METHODS, help="comma-separated NAME[:OPTION=VALUE] deblur methods")
    args = parser.parse_args()
    rows = input_rows(args.gray) + run(args.methods.split(","), args.gray)
    title = (f"### Deblurring, Set3C ({'luma' if args.gray else 'colour'}), Levin's 8 kernels, PSNR (dB)\n\n"
             "`python benchmarks/deblur_levin.py" + (" --gray" if args.gray else "") + "`: circular blur, Gaussian "
             "noise unclipped, seed = image index, full-image PSNR (docs/protocols.md).")
    columns = ["method", "sigma", *(f"k{i}" for i in range(1, 9)), "mean", "s / image"]
    write_markdown(RESULTS / f"deblur_levin{'-gray' if args.gray else ''}.md", title, columns, rows)


if __name__ == "__main__":
    main()
