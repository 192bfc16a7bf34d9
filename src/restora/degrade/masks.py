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


HOLE_RATIOS = (0.01, 0.5)  # the fraction of a photo free-form training masks cover
HOLE_BINS = ("10-20", "20-30", "30-40", "40-50")  # the benchmark's hole-ratio bins (percent)


def _draw_stroke(canvas: np.ndarray, rng: np.random.Generator, size: float) -> None:
    """A thick brush stroke: a random walk of 2-6 segments, 8-36 px wide (times ``size``)."""
    import cv2

    h, w = canvas.shape
    width = max(2, int(rng.uniform(8, 36) * size))
    x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
    for _ in range(int(rng.integers(2, 7))):
        angle, length = rng.uniform(0, 2 * math.pi), rng.uniform(20, 100) * size
        nx, ny = int(np.clip(x + length * math.cos(angle), 0, w - 1)), int(np.clip(y + length * math.sin(angle), 0, h - 1))
        cv2.line(canvas, (x, y), (nx, ny), 255, width)
        cv2.circle(canvas, (nx, ny), width // 2, 255, -1)
        x, y = nx, ny


def _draw_scratch(canvas: np.ndarray, rng: np.random.Generator, size: float) -> None:
    """A scratch: a long thin polyline (2-6 px wide) that turns gently, as on old prints."""
    import cv2

    h, w = canvas.shape
    width = int(rng.integers(2, 7))
    x, y, angle = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * math.pi)
    points = [(x, y)]
    for _ in range(int(rng.integers(3, 9))):
        angle += rng.normal(0, 0.3)
        length = rng.uniform(30, 150) * size
        x, y = x + length * math.cos(angle), y + length * math.sin(angle)
        points.append((x, y))
    cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 255, width)


def _draw_box(canvas: np.ndarray, rng: np.random.Generator, size: float) -> None:
    """A box (an object to remove), sides 16-128 px (times ``size``)."""
    h, w = canvas.shape
    bh, bw = (min(n, max(4, int(rng.uniform(16, 128) * size))) for n in (h, w))
    top, left = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    canvas[top:top + bh, left:left + bw] = 255


def freeform_mask(h: int, w: int, ratio: tuple[float, float] = HOLE_RATIOS, seed: int = 0) -> torch.Tensor:
    """Free-form holes as users paint them and old photos suffer them: thick brush strokes (half of
    the shapes), thin scratches and boxes, added in random order until they cover a fraction of the
    image drawn uniformly from ``ratio`` (lo, hi); a shape that would push the cover above hi is
    drawn again at half the size, so the cover ends inside [lo, hi] (the LaMa / DeepFill v2 mask
    families; sizes in pixels, made for photos at about 512 px a side, restora's inpainting working
    resolution)."""
    lo, hi = ratio
    if not 0 <= lo < hi <= 1:
        raise RestoraError(f"freeform mask: hole ratio {lo:g}-{hi:g} is not a range inside 0-1 (freeform:LO-HI in percent)")
    rng = np.random.default_rng(seed)
    target, area = rng.uniform(lo, hi), h * w
    canvas = np.zeros((h, w), np.uint8)
    shapes = (_draw_stroke, _draw_stroke, _draw_scratch, _draw_box)
    size = 1.0
    for _ in range(1000):
        covered = np.count_nonzero(canvas) / area
        if covered >= target:
            break
        trial = canvas.copy()
        shapes[int(rng.integers(len(shapes)))](trial, rng, size)
        if np.count_nonzero(trial) / area <= hi:
            canvas, size = trial, 1.0
        else:
            size /= 2
    return torch.from_numpy(canvas > 0).float()[None]


def parse_freeform(kind: str) -> tuple[float, float]:
    """``freeform`` (HOLE_RATIOS) or ``freeform:LO-HI`` (percent, e.g. freeform:10-20) -> the ratio range."""
    _, _, spec = kind.partition(":")
    if not spec:
        return HOLE_RATIOS
    try:
        lo, hi = (float(v) / 100 for v in spec.split("-"))
    except ValueError:
        raise RestoraError(f"mask '{kind}': write freeform:LO-HI in percent, e.g. freeform:10-20") from None
    return lo, hi


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


MASKS = {"center": center_mask, "boxes": box_mask, "strokes": stroke_mask, "freeform": freeform_mask,
         "pixels": pixel_mask,
         "left": lambda h, w, **_: half_mask(h, w, "left"), "right": lambda h, w, **_: half_mask(h, w, "right")}


def is_mask_kind(kind: str) -> bool:
    """Whether ``kind`` names a generated mask (a name of MASKS, or freeform:LO-HI)."""
    return kind in MASKS or kind.startswith("freeform:")


def make_mask(kind: str, h: int, w: int, seed: int = 0, **options) -> torch.Tensor:
    """Mask by name: center, boxes, strokes, freeform (1-50 % of the image) or freeform:LO-HI
    (percent), pixels, left, right, or a path to a mask image."""
    if kind.split(":")[0] == "freeform":
        return freeform_mask(h, w, parse_freeform(kind), seed=seed)
    if kind in MASKS:
        fn = MASKS[kind]
        if kind in ("boxes", "strokes", "pixels"):
            options["seed"] = seed
        return fn(h, w, **options)
    if Path(kind).is_file():
        return read_mask(kind, h, w)
    raise RestoraError(f"unknown mask '{kind}' (use {', '.join(MASKS)}, freeform:LO-HI or a mask image path)")


def apply_mask(x: torch.Tensor, mask: torch.Tensor, fill: float = 1.0) -> torch.Tensor:
    """The damaged image: missing pixels set to ``fill`` (white, as a user would see a hole)."""
    return x * (1 - mask) + fill * mask
