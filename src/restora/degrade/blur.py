"""Blur kernels (normalised to sum 1, odd square size) and their application."""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from restora.errors import RestoraError
from restora.io import read_image


def gaussian_kernel(sigma: float, size: int | None = None) -> torch.Tensor:
    """Isotropic Gaussian, (size, size); size defaults to 2*ceil(3 sigma)+1."""
    if not 0 < sigma <= 50:
        raise RestoraError(f"gaussian blur sigma {sigma} must be in (0, 50]")
    size = size or 2 * math.ceil(3 * sigma) + 1
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    k = g[:, None] * g[None, :]
    return (k / k.sum()).float()


def motion_kernel(length: float, angle: float = 0.0) -> torch.Tensor:
    """Linear motion of ``length`` pixels at ``angle`` degrees (counter-clockwise from +x).

    Drawn by supersampling the segment, so non-integer lengths and any angle are smooth.
    """
    if not 1 <= length <= 201:
        raise RestoraError(f"motion blur length {length} must be in [1, 201]")
    size = int(math.ceil(length)) | 1
    k = torch.zeros(size, size, dtype=torch.float64)
    c = (size - 1) / 2
    t = torch.linspace(-(length - 1) / 2, (length - 1) / 2, steps=max(2, int(length * 8)), dtype=torch.float64)
    xs = c + t * math.cos(math.radians(angle))
    ys = c - t * math.sin(math.radians(angle))
    x0, y0 = xs.floor(), ys.floor()
    for dx in (0, 1):  # bilinear splat of each sample
        for dy in (0, 1):
            wx = 1 - (xs - x0 - dx).abs()
            wy = 1 - (ys - y0 - dy).abs()
            xi, yi = (x0 + dx).long().clamp(0, size - 1), (y0 + dy).long().clamp(0, size - 1)
            k.index_put_((yi, xi), wx * wy, accumulate=True)
    return (k / k.sum()).float()


def disk_kernel(radius: float) -> torch.Tensor:
    """Defocus: a uniform disk of ``radius`` pixels with anti-aliased edge (4x supersampled)."""
    if not 0.5 <= radius <= 100:
        raise RestoraError(f"defocus radius {radius} must be in [0.5, 100]")
    size = 2 * int(math.ceil(radius)) + 1
    sub = 4
    r = (torch.arange(size * sub, dtype=torch.float64) + 0.5) / sub - size / 2
    inside = (r[:, None] ** 2 + r[None, :] ** 2 <= radius**2).double()
    k = inside.reshape(size, sub, size, sub).mean((1, 3))
    return (k / k.sum()).float()


BOUNDARIES = ("reflect", "circular")


def blur(x: torch.Tensor, kernel: torch.Tensor, boundary: str = "reflect") -> tuple[torch.Tensor, torch.Tensor]:
    """Convolve every channel of (C, H, W) or (N, C, H, W) with ``kernel`` (kh, kw), odd sides, centred;
    same size out. ``boundary``: ``reflect`` (mirrored borders, replicated for images smaller than the
    kernel), or ``circular`` (the image wraps around, the published deblurring protocol of Levin's
    kernels). Returns (blurred, kernel)."""
    if boundary not in BOUNDARIES:
        raise RestoraError(f"unknown blur boundary '{boundary}' (use {', '.join(BOUNDARIES)})")
    batched = x.dim() == 4
    xb = x if batched else x[None]
    kh, kw = kernel.shape
    c = xb.shape[1]
    small = min(xb.shape[-2:]) <= max(kh, kw) // 2
    mode = boundary if boundary == "circular" else "replicate" if small else "reflect"
    padded = F.pad(xb, (kw // 2, kw // 2, kh // 2, kh // 2), mode=mode)
    weight = kernel.flip(0, 1).to(xb.dtype)[None, None].expand(c, 1, kh, kw)
    y = F.conv2d(padded, weight, groups=c)
    return (y if batched else y[0]), kernel


_KERNEL_SPECS = {"gaussian": (gaussian_kernel, 1), "motion": (motion_kernel, 2), "disk": (disk_kernel, 1)}
_KERNEL_USAGE = "use gaussian:SIGMA, motion:LENGTH,ANGLE, disk:RADIUS or a kernel image path"


def kernel_from_spec(spec: str) -> torch.Tensor:
    """A kernel (kh, kw), odd sides, summing to 1 from ``gaussian:SIGMA``, ``motion:LENGTH[,ANGLE]``,
    ``disk:RADIUS`` or the path of a kernel image (read as gray, a zero row or column added to an even
    side, normalised)."""
    name, _, args = spec.partition(":")
    if name in _KERNEL_SPECS and args:
        make, max_args = _KERNEL_SPECS[name]
        try:
            values = [float(v) for v in args.split(",")]
        except ValueError:
            values = []
        if not 1 <= len(values) <= max_args:
            raise RestoraError(f"bad kernel '{spec}' ({_KERNEL_USAGE})")
        return make(*values)
    if Path(spec).is_file():
        k = read_image(spec).data.mean(0)
        if k.sum() <= 0:
            raise RestoraError(f"{spec}: kernel image is all black")
        k = F.pad(k, (0, 1 - k.shape[1] % 2, 0, 1 - k.shape[0] % 2))  # odd sides: a centre pixel
        return k / k.sum()
    raise RestoraError(f"unknown kernel '{spec}' ({_KERNEL_USAGE})")
