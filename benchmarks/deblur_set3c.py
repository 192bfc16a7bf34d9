"""Non-blind deblurring on Set3C (restora.protocols.circular_blur_case): circular blur, Gaussian noise
(0-255 scale) unclipped, seed = image index; PSNR on the full 8-bit image, mean over the 3 images per
kernel. Every method is told the noise level where it takes one (the published methods are too).
Colour images, and with ``--gray`` their BT.601 luma (as DPIR's gray models read them).

Two kernel sets:

- ``levin``: Levin et al.'s 8 real camera-shake kernels (13x13 to 27x27, ``Levin09.mat``, MATLAB
  v7.3, read with h5py), noise sigma 2.55 and 7.65: the IRCNN / DPIR deblurring table.
- ``gaussian``: the isotropic Gaussian kernels of standard deviation 1.6 and 2.0 (25x25, entries 3
  and 4 of USRNet's ``kernels_12.mat``), noise sigma 2.55: the setting of Hu et al., "A Restoration
  Network as an Implicit Prior" (ICLR 2024), whose Table 1 reports IRCNN+ and DPIR on Set3C; those
  published rows are printed beside ours.

    python benchmarks/deblur_set3c.py [--kernels levin|gaussian] [--gray] [--methods wiener,pnp,...]

Writes benchmarks/results/deblur_set3c-KERNELS[-gray].md. Needs $RESTORA_DATA/deblur (default ../shared/data).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import scipy.io
import torch

from speed import write_markdown
from restora.bench import method_spec
from restora.metrics import to_y
from restora.protocols import circular_blur_case, read_reference
from restora.train.data import resolve_data_path

METHODS = "wiener,richardson-lucy,pnp,pnp:boundary=circular"
RESULTS = Path(__file__).parent / "results"
# Hu, Delbracio, Milanfar, Kamilov, "A Restoration Network as an Implicit Prior", ICLR 2024, Table 1
# (Set3c, 25x25 Gaussian kernels of std 1.6 and 2.0 from USRNet, noise 2.55): PSNR (dB)
HU_2024 = {"IRCNN+": (28.14, 26.58), "DPIR": (29.53, 27.52), "PnP-ADMM (DnCNN)": (29.11, 27.05),
           "SD-RED (DnCNN)": (27.14, 25.83)}


def _normalised(kernel: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float64)).float() / float(kernel.sum())


def levin_kernels() -> list[torch.Tensor]:
    """Levin et al.'s 8 motion kernels from Levin09.mat (MATLAB v7.3, i.e. HDF5, stored transposed),
    each (k, k) with k from 13 to 27, summing to 1."""
    with h5py.File(resolve_data_path("$RESTORA_DATA/deblur/kernels/Levin09.mat"), "r") as f:
        refs = f["kernels"][()].ravel()
        return [_normalised(np.asarray(f[ref]).T) for ref in refs]


def gaussian_kernels() -> list[torch.Tensor]:
    """USRNet's isotropic Gaussian kernels of std 1.6 and 2.0: entries 3 and 4 of kernels_12.mat, (25, 25)."""
    cells = scipy.io.loadmat(resolve_data_path("$RESTORA_DATA/deblur/kernels/kernels_12.mat"))["kernels"]
    return [_normalised(cells[0, i]) for i in (2, 3)]


@dataclass(frozen=True)
class KernelSet:
    """A kernel set's loader, noise sigmas, table columns, title words and published rows
    ({method: PSNR per kernel}, at the first sigma)."""

    load: Callable[[], list[torch.Tensor]]
    sigmas: tuple[float, ...]
    columns: list[str]
    described: str
    published: dict[str, tuple[float, ...]]


KERNEL_SETS = {
    "levin": KernelSet(levin_kernels, (2.55, 7.65), [f"k{i}" for i in range(1, 9)], "Levin's 8 motion kernels", {}),
    "gaussian": KernelSet(gaussian_kernels, (2.55,), ["std 1.6", "std 2.0"], "Gaussian kernels of std 1.6 and 2.0",
                          HU_2024),
}


def set3c(gray: bool) -> list[torch.Tensor]:
    """Set3C (butterfly, leaves, starfish): (3, 256, 256) in [0, 1] at 8-bit levels, or their luma."""
    paths = sorted(resolve_data_path("$RESTORA_DATA/deblur/set3c").glob("*.png"))
    images = [read_reference(p) for p in paths]
    return [((to_y(x) * 255).round() / 255).float() for x in images] if gray else images


def table_row(name: str, sigma: float, per_kernel: list[float], seconds: str) -> list[str]:
    return [name, f"{sigma:g}", *(f"{p:.2f}" for p in per_kernel),
            f"**{sum(per_kernel) / len(per_kernel):.2f}**", seconds]


def run(methods: list[str], kernels: list[torch.Tensor], sigmas: tuple[float, ...], gray: bool) -> list[list[str]]:
    """Rows: method, sigma, PSNR per kernel, mean, seconds per image."""
    images, rows = set3c(gray), []
    for spec in methods:
        name, restorer, options = method_spec("deblur", spec)
        takes_noise = any(option.name == "noise" for option in restorer.options) and "noise" not in options
        restorer.restore(images[0][:, :64, :64], kernel=kernels[0][:9, :9] / kernels[0][:9, :9].sum(), **options)
        for sigma in sigmas:
            per_kernel, seconds = [], 0.0
            for kernel in kernels:
                scores = []
                for index, clean in enumerate(images):
                    case = circular_blur_case(clean, kernel, sigma, index)
                    start = time.perf_counter()
                    out = restorer.restore(case.degraded, **case.inputs, **options,
                                           **({"noise": sigma} if takes_noise else {}))
                    seconds += time.perf_counter() - start
                    scores.append(case.score(out)[0])
                per_kernel.append(sum(scores) / len(scores))
            rows.append(table_row(name, sigma, per_kernel, f"{seconds / (len(kernels) * len(images)):.2f}"))
            print(" | ".join(rows[-1]), flush=True)
    return rows


def input_rows(kernels: list[torch.Tensor], sigmas: tuple[float, ...], gray: bool) -> list[list[str]]:
    """The blurred, noisy input itself, scored by the same protocol."""
    images, rows = set3c(gray), []
    for sigma in sigmas:
        cases = [[circular_blur_case(x, k, sigma, i) for i, x in enumerate(images)] for k in kernels]
        rows.append(table_row("input", sigma, [sum(c.score(c.degraded)[0] for c in row) / len(row)
                                               for row in cases], "–"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", choices=sorted(KERNEL_SETS), default="levin", help="the kernel set (see above)")
    parser.add_argument("--gray", action="store_true", help="the images' BT.601 luma instead of colour")
    parser.add_argument("--methods", default=METHODS, help="comma-separated NAME[:OPTION=VALUE] deblur methods")
    parser.add_argument("--merge", action="store_true", help="keep the results file's rows of other methods")
    args = parser.parse_args()
    kernel_set = KERNEL_SETS[args.kernels]
    kernels, sigmas, published = kernel_set.load(), kernel_set.sigmas, kernel_set.published
    rows = input_rows(kernels, sigmas, args.gray) + run(args.methods.split(","), kernels, sigmas, args.gray)
    if not args.gray:
        rows += [table_row(f"{method} (published)", sigmas[0], list(psnrs), "–") for method, psnrs in published.items()]
    suffix = (f" --kernels {args.kernels}" if args.kernels != "levin" else "") + (" --gray" if args.gray else "")
    title = (f"### Deblurring, Set3C ({'luma' if args.gray else 'colour'}), {kernel_set.described}, PSNR (dB)\n\n"
             f"`python benchmarks/deblur_set3c.py{suffix}`: circular blur, Gaussian noise unclipped, seed = image "
             "index, the noise level given, full-image PSNR (docs/protocols.md)."
             + (" Published rows: Hu et al., ICLR 2024, Table 1." if published and not args.gray else ""))
    columns = ["method", "sigma", *kernel_set.columns, "mean", "s / image"]
    name = f"deblur_set3c-{args.kernels}{'-gray' if args.gray else ''}.md"
    write_markdown(RESULTS / name, title, columns, rows, merge=args.merge)


if __name__ == "__main__":
    main()
