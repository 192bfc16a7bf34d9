"""Inpainting masks: float tensors (1, H, W), 1 = missing, 0 = known.

Masks are deterministic given a seed. ``make_mask(kind, h, w, ...)`` dispatches by name so the
CLI and the benchmark name masks the same way.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restora.errors import RestoraError
from restora.io import read_image


def center_mask(h: int, w: int, area: float = 0.25) -> torch.Tensor:
    """A centred square covering ``area`` of the image (clipped to the shorter side)."""
    if not 0 < area < 1:
        raise RestoraError(f"mask area {area} must be in (0, 1)")
    side = min(round(math.sqrt(area * h * w)), h, w)
    m = torch.zeros(1, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    m[:, top:top + side, left:left + side] = 1
    return m


def box_mask(h: int, w: int, count: int = 4, max_side: float = 0.3, seed: int = 0) -> torch.Tensor:
    """``count`` axis-aligned boxes, each side between 10% and ``max_side`` of the image side."""
    rng = np.random.default_rng(seed)
    m = torch.zeros(1, h, w)
    for _ in range(count):
        bh = max(1, int(rng.uniform(0.1, max_side) * h))
        bw = max(1, int(rng.uniform(0.1, max_side) * w))
        top, left = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
        m[:, top:top + bh, left:left + bw] = 1
    return m


def stroke_mask(h: int, w: int, strokes: int = 4, max_width: float = 0.06, seed: int = 0) -> torch.Tensor:
    """Free-form brush strokes (random walks drawn with round brushes), as in DeepFill v2."""
    import cv2

    rng = np.random.default_rng(seed)
    canvas = np.zeros((h, w), np.uint8)
    side = min(h, w)
    for _ in range(strokes):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        width = max(2, int(rng.uniform(0.02, max_width) * side))
        for _ in range(int(rng.integers(4, 12))):
            angle = rng.uniform(0, 2 * math.pi)
            length = rng.uniform(0.05, 0.2) * side
            nx = int(np.clip(x + length * math.cos(angle), 0, w - 1))
            ny = int(np.clip(y + length * math.sin(angle), 0, h - 1))
            cv2.line(canvas, (x, y), (nx, ny), 255, width)
            cv2.circle(canvas, (nx, ny), width // 2, 255, -1)
            x, y = nx, ny
    return torch.from_numpy(canvas > 0).float()[None]


def pixel_mask(h: int, w: int, fraction: float = 0.5, seed: int = 0) -> torch.Tensor:
    """A random ``fraction`` of pixels missing."""
    if not 0 <= fraction <= 1:
        raise RestoraError(f"pixel fraction {fraction} must be in [0, 1]")
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, h, w, generator=g) < fraction).float()


def half_mask(h: int, w: int, side: str = "right") -> torch.Tensor:
    """The left or right half missing."""
    if side not in ("left", "right"):
        raise RestoraError(f"half mask side must be 'left' or 'right', not '{side}'")
    m = torch.zeros(1, h, w)
    if side == "left":
        m[:, :, : w // 2] = 1
    else:
        m[:, :, w // 2:] = 1
    return m


def read_mask(path: str | Path, h: int, w: int, fit: bool = False) -> torch.Tensor:
    """A mask image as (1, h, w) in {0, 1}: white = missing (mean of the colour channels above
    one half); a painted layer with alpha counts where it is opaque and not black (strokes in any
    colour on a transparent layer). A mask of another size is an error, or with ``fit`` resized
    to (h, w) by nearest neighbour."""
    img = read_image(path, max_pixels=None)
    gray = img.data.mean(0, keepdim=True)
    if img.alpha is not None:
        gray = torch.maximum(gray * img.alpha, img.alpha * (gray > 0))
    if img.size != (h, w):
        if not fit:
            raise RestoraError(f"{path}: mask is {img.size[1]}x{img.size[0]}, image is {w}x{h}")
        gray = F.interpolate(gray[None], size=(h, w), mode="nearest")[0]
    return (gray > 0.5).float()


MASKS = {"center": center_mask, "boxes": box_mask, "strokes": stroke_mask, "pixels": pixel_mask,
         "left": lambda h, w, **_: half_mask(h, w, "left"), "right": lambda h, w, **_: half_mask(h, w, "right")}


def make_mask(kind: str, h: int, w: int, seed: int = 0, **options) -> torch.Tensor:
    """Mask by name: center, boxes, strokes, pixels, left, right, or a path to a mask image."""
    if kind in MASKS:
        fn = MASKS[kind]
        if kind in ("boxes", "strokes", "pixels"):
            options["seed"] = seed
        return fn(h, w, **options)
    if Path(kind).is_file():
        return read_mask(kind, h, w)
    raise RestoraError(f"unknown mask '{kind}' (use {', '.join(MASKS)} or a mask image path)")


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float = 1.0) -> torch.Tensor:
    """The damaged image: missing pixels set to ``fill`` (white, as a user would see a hole)."""
    return x * (1 - mask) + fill * mask
