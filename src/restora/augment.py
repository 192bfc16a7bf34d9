"""Data augmentation: random changes that keep what an image shows, one implementation for training
(``classify.augment`` in a recipe, restora.train.objectives.classification) and ``restora augment``.

Every operation takes a batch (N, C, H, W) float32 in [0, 1] (C = 1 gray or 3 RGB) and a
torch.Generator, draws its parameters for each image from that generator, and returns a new batch
of the same shape and channels in [0, 1] (the input is never changed). An operation is named alone
(its default strength) or as NAME=STRENGTH. Whatever the order they are given in, they run in the
order below: geometry, then colour, then damage, erasing last.

| name | strength (default) | what each image gets |
|---|---|---|
| flip | probability (0.5) | a left-right mirror |
| rotate | degrees (15) | a rotation by U(-s, s) about the centre (bilinear, black corners) |
| scale | relative zoom (0.2) | a zoom by U(1 - s, 1 + s) about the centre (bilinear, black borders) |
| crop | padding, fraction of each side (0.125) | "random crop with padding": zero-padded by p = round(s * side) pixels and cut back to its size at a random offset (a shift of up to p pixels; p = 4 for 28 or 32 pixels) |
| color | jitter (0.4) | brightness, contrast and (RGB only) saturation, each times U(1 - s, 1 + s) |
| blur | largest sigma in pixels (1.5) | a Gaussian blur of sigma U(0.1, s) (restora.degrade.blur) |
| noise | largest sigma, 0-255 scale (15) | Gaussian noise of sigma U(0, s) (restora.degrade.gaussian_noise) |
| jpeg | lowest quality (30) | JPEG compression at a quality drawn from s to 95 (restora.degrade.jpeg) |
| erase | largest area fraction (0.25) | with probability 1/2, a rectangle of area U(0.02, s) of the image and aspect ratio log-U(0.3, 3.3) filled with uniform noise (random erasing, Zhong et al. 2020) |
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from restora.degrade import blur, gaussian_kernel, gaussian_noise, jpeg
from restora.errors import RestoraError

LUMA = (0.299, 0.587, 0.114)  # BT.601 weights of R, G, B in the gray level (brightness, contrast, saturation)
JPEG_BEST = 95  # the best quality the jpeg op draws


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    """(n,) float32 drawn from U(lo, hi)."""
    return torch.rand(n, generator=gen) * (hi - lo) + lo


def _seeds(n: int, gen: torch.Generator) -> list[int]:
    """n seeds for the restora.degrade functions that take one."""
    return torch.randint(2**31 - 1, (n,), generator=gen).tolist()


def flip(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    """Each image mirrored left-right with probability p."""
    mirrored = torch.rand(len(x), generator=gen) < p
    return torch.where(mirrored.view(-1, 1, 1, 1), x.flip(-1), x)


def warp(x: torch.Tensor, degrees: torch.Tensor, zoom: torch.Tensor) -> torch.Tensor:
    """Each image of x (N, C, H, W) rotated by ``degrees`` (N,) counter-clockwise and enlarged by
    ``zoom`` (N,) about its centre, sampled bilinearly; what comes from outside it is black."""
    n, _, h, w = x.shape
    angle = torch.deg2rad(degrees)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    # the output pixel (in -1..1 coordinates) -> where to read it; pixel distances are kept for H != W
    theta = torch.stack([torch.stack([cos, sin * h / w, torch.zeros(n)], 1),
                         torch.stack([-sin * w / h, cos, torch.zeros(n)], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False).clamp(0, 1)


def rotate(x: torch.Tensor, degrees: float, gen: torch.Generator) -> torch.Tensor:
    """Each image rotated by U(-degrees, degrees) about its centre."""
    return warp(x, _uniform(len(x), -degrees, degrees, gen), torch.ones(len(x)))


def scale(x: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Each image zoomed by U(1 - amount, 1 + amount) about its centre."""
    return warp(x, torch.zeros(len(x)), _uniform(len(x), 1 - amount, 1 + amount, gen))


def crop(x: torch.Tensor, fraction: float, gen: torch.Generator) -> torch.Tensor:
    """Each image zero-padded by round(fraction * side) pixels and cut back to (H, W) at a random offset."""
    n, _, h, w = x.shape
    py, px = round(fraction * h), round(fraction * w)
    padded = F.pad(x, (px, px, py, py)).permute(0, 2, 3, 1)  # (N, H + 2py, W + 2px, C)
    rows = torch.randint(2 * py + 1, (n, 1), generator=gen) + torch.arange(h)  # (N, H)
    cols = torch.randint(2 * px + 1, (n, 1), generator=gen) + torch.arange(w)  # (N, W)
    out = padded[torch.arange(n).view(-1, 1, 1), rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2).contiguous()


def gray(x: torch.Tensor) -> torch.Tensor:
    """The gray level (N, 1, H, W) of a batch: the channel itself, or BT.601 luma of RGB."""
    if x.shape[1] == 1:
        return x
    return torch.einsum("c,nchw->nhw", torch.tensor(LUMA, dtype=x.dtype), x)[:, None]


def color(x: torch.Tensor, amount: float, gen: torch.Generator) -> torch.Tensor:
    """Brightness, contrast (about the image's mean gray level) and, for RGB, saturation (about each
    pixel's gray level), each scaled by its own U(1 - amount, 1 + amount) per image."""
    n = len(x)
    brightness, contrast, saturation = (_uniform(n, 1 - amount, 1 + amount, gen).view(-1, 1, 1, 1)
                                        for _ in range(3))
    x = (x * brightness).clamp(0, 1)
    mean = gray(x).mean((1, 2, 3), keepdim=True)
    x = (mean + (x - mean) * contrast).clamp(0, 1)
    if x.shape[1] == 3:
        level = gray(x)
        x = (level + (x - level) * saturation).clamp(0, 1)
    return x


def gaussian_blur(x: torch.Tensor, largest: float, gen: torch.Generator) -> torch.Tensor:
    """Each image blurred by a Gaussian of sigma U(0.1, largest) pixels (mirrored borders)."""
    sigmas = _uniform(len(x), 0.1, max(largest, 0.1), gen).tolist()
    return torch.stack([blur(image, gaussian_kernel(s))[0].clamp(0, 1) for image, s in zip(x, sigmas)])


def noise(x: torch.Tensor, largest: float, gen: torch.Generator) -> torch.Tensor:
    """Gaussian noise of sigma U(0, largest) on the 0-255 scale per image, clipped to [0, 1]."""
    sigmas = _uniform(len(x), 0, largest, gen).tolist()
    return torch.stack([gaussian_noise(image, s, seed) for image, s, seed in zip(x, sigmas, _seeds(len(x), gen))])


def compress(x: torch.Tensor, lowest: float, gen: torch.Generator) -> torch.Tensor:
    """Each image JPEG-compressed at an integer quality drawn from lowest to JPEG_BEST (8-bit levels)."""
    qualities = torch.randint(int(lowest), JPEG_BEST + 1, (len(x),), generator=gen).tolist()
    return torch.stack([jpeg(image, q) for image, q in zip(x, qualities)])


def erase(x: torch.Tensor, largest: float, gen: torch.Generator) -> torch.Tensor:
    """With probability 1/2 per image, a random rectangle (area U(0.02, largest) of the image, aspect
    ratio log-uniform in 0.3-3.3) replaced by uniform noise in [0, 1]."""
    out = x.clone()
    _, c, h, w = x.shape
    for image in out:
        chance, area, log_ratio, top, left = torch.rand(5, generator=gen).tolist()
        if chance >= 0.5:
            continue
        area *= (largest - 0.02) * h * w
        area += 0.02 * h * w
        ratio = math.exp(math.log(0.3) + log_ratio * (math.log(3.3) - math.log(0.3)))
        eh, ew = min(h, max(1, round(math.sqrt(area * ratio)))), min(w, max(1, round(math.sqrt(area / ratio))))
        top, left = int(top * (h - eh + 1)), int(left * (w - ew + 1))
        image[:, top:top + eh, left:left + ew] = torch.rand(c, eh, ew, generator=gen)
    return out


@dataclass(frozen=True)
class Op:
    """An augmentation: ``apply(batch, strength, generator)``, its default strength and allowed range."""
    apply: Callable[[torch.Tensor, float, torch.Generator], torch.Tensor]
    default: float
    low: float
    high: float


OPS: dict[str, Op] = {  # in the order they run
    "flip": Op(flip, 0.5, 0, 1),
    "rotate": Op(rotate, 15, 0, 180),
    "scale": Op(scale, 0.2, 0, 0.9),
    "crop": Op(crop, 0.125, 0, 0.5),
    "color": Op(color, 0.4, 0, 1),
    "blur": Op(gaussian_blur, 1.5, 0.1, 20),
    "noise": Op(noise, 15, 0, 255),
    "jpeg": Op(compress, 30, 1, JPEG_BEST),
    "erase": Op(erase, 0.25, 0.02, 1),
}

Ops = list[tuple[str, float]]  # (name, strength) in the order of OPS


def parse_ops(spec: str | list[str]) -> Ops:
    """``"flip,rotate=30"`` or ``["flip", "rotate=30"]`` -> [("flip", 0.5), ("rotate", 30.0)], in the
    order of OPS; RestoraError (one line) for an unknown name, a strength that is no number or out
    of its range, a name given twice, or no name at all."""
    items = [s.strip() for s in (spec.split(",") if isinstance(spec, str) else spec) if str(s).strip()]
    if not items:
        raise RestoraError(f"no augmentation given (use some of {', '.join(OPS)})")
    chosen: dict[str, float] = {}
    for item in map(str, items):
        name, sep, value = (part.strip() for part in item.partition("="))
        if name not in OPS:
            raise RestoraError(f"unknown augmentation '{name}' (use {', '.join(OPS)}; NAME or NAME=STRENGTH)")
        if name in chosen:
            raise RestoraError(f"augmentation '{name}' is given twice")
        op = OPS[name]
        try:
            strength = float(value) if sep else op.default
        except ValueError:
            raise RestoraError(f"augmentation {item}: the strength must be a number") from None
        if not op.low <= strength <= op.high:
            raise RestoraError(f"augmentation {item}: the strength must be from {op.low:g} to {op.high:g}")
        chosen[name] = strength
    return [(name, chosen[name]) for name in OPS if name in chosen]


def augment(x: torch.Tensor, ops: Ops, gen: torch.Generator) -> torch.Tensor:
    """Apply ``ops`` (parse_ops) to a batch (N, C, H, W) float32 in [0, 1] with C 1 or 3 -> a new
    batch of the same shape in [0, 1], each image changed by its own draws from ``gen``."""
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise RestoraError(f"augmentation takes (N, 1 or 3, H, W) batches, not {tuple(x.shape)}")
    for name, strength in ops:
        x = OPS[name].apply(x, strength, gen)
    return x


def image_seed(seed: int, key: str) -> int:
    """A seed for one image from a run's ``seed`` and the image's ``key`` (its relative path): the
    same pair always gives the same seed, and an image's draws do not depend on the other images."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big") >> 1
