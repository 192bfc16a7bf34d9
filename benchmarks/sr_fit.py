"""How far a shipped luma super-resolver can be fitted to a training set, and what that does to Set5.

    python benchmarks/sr_fit.py [--models espcn-x3,espcn-x4] [--out benchmarks/results/sr_fit.md]

Each shipped model is fine-tuned from its weights by full-batch L-BFGS (every pixel of the set in
every loss evaluation, so no sampling noise; up to 20 evaluations a step, strong-Wolfe line search)
on each set below, and its Set5 PSNR (Y, crop = scale, LR made as `restora train` validates) is
measured before and after. Fitting Set5 itself says what the architecture can represent on the test
images, and fitting four of them while measuring the fifth (each in turn) says how much of that
carries to an image it has not seen; T91 with its eight rotations and flips says whether the shipped
weights still sit short of their training set's optimum; the two CBSD432 rows say whether the other
natural images in ../shared move Set5 up, at full size and at half size (where the JPEG artefacts
are averaged away). The last step is reported, never the best: Set5 only measures. Needs
../shared/data (or RESTORA_DATA); about 35 minutes for the two ESPCNs on two threads.
"""
from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import NamedTuple

import torch

from speed import write_markdown
from restora import dihedral
from restora.degrade.resize import imresize
from restora.io.image import read_image
from restora.metrics import psnr
from restora.protocols import quantise
from restora.train.data import resolve_data_path, to_color_mode
from restora.zoo import load_shipped

COLUMNS = ["model", "fitted to", "HR pixels", "L-BFGS steps", "seconds", "training MSE (start → end)",
           "Set5 PSNR (start → end)"]


class FitSet(NamedTuple):
    """Files under RESTORA_DATA ({scale} filled in), every n-th of them, resized by (MATLAB bicubic),
    with their 8 rotations/flips or not, and the L-BFGS steps fitted to them."""
    pattern: str
    steps: int
    every: int = 1
    resize: float = 1.0
    dihedral: bool = False


SET5 = "Set5 (the test images)"
SETS = {
    SET5: FitSet("sr/set5/image_SRF_{scale}/*_HR.png", steps=100),
    "T91, 8 rotations/flips": FitSet("sr/t91/*.png", steps=3, dihedral=True),
    "CBSD432, every 4th": FitSet("denoise/color/cbsd432/*.jpg", steps=4, every=4),
    "CBSD432 at half size (JPEG artefacts averaged away), every 2nd":
        FitSet("denoise/color/cbsd432/*.jpg", steps=4, every=2, resize=0.5),
}


def load_set(fit_set: FitSet, scale: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(LR (1, 1, h, w), HR (1, H, W)) luma pairs in [0, 1] of ``fit_set``, LR made from the (resized)
    HR by the super-resolution protocol (restora.protocols) applied to the luma alone, as `restora
    train` validated when this table was made."""
    files = resolve_data_path("$RESTORA_DATA/" + fit_set.pattern.format(scale=scale))
    paths = sorted(files.parent.glob(files.name))
    if not paths:
        raise SystemExit(f"{files}: no images (is RESTORA_DATA, default ../shared/data, right?)")
    pairs = []
    for path in paths[::fit_set.every]:
        y = to_color_mode(read_image(path).data, "y")
        if fit_set.resize != 1:
            y = imresize(y[None], fit_set.resize)[0].clamp(0, 1)
        for view in [dihedral.transform(y, k) for k in range(8)] if fit_set.dihedral else [y]:
            h, w = view.shape[1:]
            hr = view[:, : h - h % scale, : w - w % scale]
            pairs.append((quantise(imresize(hr[None], 1 / scale)), hr))
    return pairs


def mse(net: torch.nn.Module, pairs: list[tuple[torch.Tensor, torch.Tensor]], backward: bool = False) -> float:
    """Mean squared error over every HR pixel of ``pairs`` (gradients accumulated with ``backward``)."""
    pixels = sum(hr.numel() for _, hr in pairs)
    total = 0.0
    for lr, hr in pairs:
        with torch.set_grad_enabled(backward):
            loss = ((net(lr)[0] - hr) ** 2).sum() / pixels
        if backward:
            loss.backward()
        total += loss.item()
    return total


def set5_psnr(net: torch.nn.Module, set5: list[tuple[torch.Tensor, torch.Tensor]], scale: int) -> float:
    with torch.no_grad():
        return sum(psnr(net(lr)[0].clamp(0, 1), hr, crop=scale) for lr, hr in set5) / len(set5)


def lbfgs(net: torch.nn.Module, pairs: list, steps: int, label: str) -> float:
    """Fit ``net`` to ``pairs`` for ``steps`` L-BFGS steps, logging the training MSE before each;
    the seconds it took."""
    opt = torch.optim.LBFGS(net.parameters(), lr=1, max_iter=20, history_size=50, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        return torch.tensor(mse(net, pairs, backward=True))

    t = time.perf_counter()
    for step in range(steps):
        loss = opt.step(closure)
        print(f"{label}: step {step + 1}/{steps} from training MSE {loss.item():.4e}", flush=True)
    return time.perf_counter() - t


def fit(model: str, name: str, scale: int, set5: list) -> list[str]:
    """Fine-tune a copy of the shipped ``model`` on set ``name``; its row of the table."""
    steps = SETS[name].steps
    pairs = load_set(SETS[name], scale)
    net = copy.deepcopy(load_shipped(model)).train().requires_grad_(True)
    start = (mse(net, pairs), set5_psnr(net, set5, scale))
    seconds = lbfgs(net, pairs, steps, f"{model}, {name}")
    end = (mse(net, pairs), set5_psnr(net, set5, scale))
    pixels = sum(hr.numel() for _, hr in pairs)
    return [model, name, f"{pixels / 1e6:.1f} M", str(steps), f"{seconds:.0f}",
            f"{start[0]:.4e} → {end[0]:.4e}", f"{start[1]:.3f} → {end[1]:.3f}"]


def leave_one_out(model: str, scale: int, set5: list) -> list[str]:
    """Fit a copy to four Set5 images, measure the fifth, for each image in turn; the mean's row
    (its Set5 column is the held-out images' PSNR)."""
    steps = SETS[SET5].steps
    totals = torch.zeros(4, dtype=torch.float64)  # training MSE and held-out PSNR, before and after
    seconds = 0.0
    for k, (lr, hr) in enumerate(set5):
        pairs = set5[:k] + set5[k + 1:]
        net = copy.deepcopy(load_shipped(model)).train().requires_grad_(True)
        before = (mse(net, pairs), set5_psnr(net, [(lr, hr)], scale))
        seconds += lbfgs(net, pairs, steps, f"{model}, Set5 without image {k + 1}")
        totals += torch.tensor([*before, mse(net, pairs), set5_psnr(net, [(lr, hr)], scale)], dtype=torch.float64)
    m = (totals / len(set5)).tolist()
    pixels = sum(hr.numel() for _, hr in set5) * (len(set5) - 1) / len(set5)
    return [model, "Set5 less one image, measured on it (mean of 5)", f"{pixels / 1e6:.1f} M", f"{steps} x 5",
            f"{seconds:.0f}", f"{m[0]:.4e} → {m[2]:.4e}", f"{m[1]:.3f} → {m[3]:.3f}"]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="espcn-x3,espcn-x4", help="comma-separated shipped luma SR models")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/sr_fit.md"))
    a = p.parse_args()
    rows = []
    for model in a.models.split(","):
        scale = int(model.rsplit("-x", 1)[1])
        set5 = load_set(SETS[SET5], scale)
        for name in [*SETS, None]:  # None: the leave-one-out row
            rows.append(fit(model, name, scale, set5) if name else leave_one_out(model, scale, set5))
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    write_markdown(a.out, "Full-batch L-BFGS fits of the shipped luma super-resolvers", COLUMNS, rows)


if __name__ == "__main__":
    main()
