"""Blur kernels (normalised to sum 1, odd square size) and their application."""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from restora.degrade import kernels
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


CAMERA_LENS = kernels.KernelRanges(sigma=(0.5, 3.0), sinc=0.0)  # the lens half of camera_blur_kernel


def camera_blur_kernel(gen: torch.Generator) -> torch.Tensor:
    """The mild blur of real photos that the blind deblurrer learns to undo, drawn with ``gen``:
    half the time lens softness (restora.degrade.kernels' iso- and anisotropic Gaussian, generalized
    Gaussian and plateau families, sigma 0.5-3 px, 7-21 px kernels), a quarter defocus (a disk of
    radius 1-4 px), a quarter slight shake (linear motion of 3-15 px at any angle)."""
    u = float(torch.rand(1, generator=gen))
    if u < 0.5:
        return kernels.random_kernel(gen, CAMERA_LENS)
    if u < 0.75:
        return disk_kernel(kernels.uniform(1, 4, gen))
    return motion_kernel(kernels.uniform(3, 15, gen), kernels.uniform(0, 180, gen))


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
    if boundary == "reflect" and not small and xb.dtype == torch.float32 and c <= 4:
        return _filtered(xb, kernel) if batched else _filtered(xb, kernel)[0], kernel
    mode = boundary if boundary == "circular" else "replicate" if small else "reflect"
    padded = F.pad(xb, (kw // 2, kw // 2, kh // 2, kh // 2), mode=mode)
    weight = kernel.flip(0, 1).to(xb.dtype)[None, None].expand(c, 1, kh, kw)
    y = F.conv2d(padded, weight, groups=c)
    return (y if batched else y[0]), kernel


def _filtered(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """blur() with reflected borders by OpenCV's filter2D (direct or DFT by kernel size; 5-20x faster
    than a grouped conv2d on a CPU, the same result within float rounding): x (N, C, H, W) float32."""
    import cv2

    flipped = kernel.flip(0, 1).double().numpy()
    out = [cv2.filter2D(image.permute(1, 2, 0).numpy(), -1, flipped, borderType=cv2.BORDER_REFLECT_101)
           for image in x]
    return torch.stack([torch.from_numpy(o.reshape(*o.shape[:2], -1)).permute(2, 0, 1) for o in out])


def _size(sx: float, sy: float) -> int:
    """The side of a kernel of standard deviations (sx, sy): 2 ceil(3 max) + 1, within 3..101."""
    return min(101, max(3, 2 * math.ceil(3 * max(sx, sy)) + 1))


def _whole(value: float, what: str, low: int = 0, high: int = 2**63 - 1) -> int:
    if not (value.is_integer() and low <= value <= high):
        raise RestoraError(f"{what} {value:g} must be a whole number from {low} to {high}")
    return int(value)


def _shaped(family):
    """kernel_from_spec's maker for a family of kernels.py: (SX, SY, ANGLE[, BETA]), ANGLE in degrees
    counter-clockwise from +x (as motion's), the size from the larger standard deviation."""
    return lambda sx, sy, angle=0.0, *beta: family(_size(sx, sy), sx, sy, -math.radians(angle), *beta)


_KERNEL_SPECS = {  # name: (maker, fewest values, most values)
    "gaussian": (gaussian_kernel, 1, 1), "motion": (motion_kernel, 1, 2), "disk": (disk_kernel, 1, 1),
    "aniso": (_shaped(kernels.anisotropic_gaussian), 2, 3),
    "generalized": (_shaped(kernels.generalized_gaussian), 4, 4), "plateau": (_shaped(kernels.plateau), 4, 4),
    "sinc": (lambda cutoff, size=21.0: kernels.sinc(_whole(size, "sinc size", 3, 101), cutoff), 1, 2),
    "random": (lambda seed: kernels.random_kernel(torch.Generator().manual_seed(_whole(seed, "kernel seed"))), 1, 1),
}
_KERNEL_USAGE = ("use gaussian:SIGMA, motion:LENGTH,ANGLE, disk:RADIUS, aniso:SX,SY[,ANGLE], "
                 "generalized:SX,SY,ANGLE,BETA, plateau:SX,SY,ANGLE,BETA, sinc:CUTOFF[,SIZE], random:SEED "
                 "or a kernel image path")


def kernel_from_spec(spec: str) -> torch.Tensor:
    """A kernel (kh, kw), odd sides, summing to 1 (non-negative but for sinc's lobes) from:

    - ``gaussian:SIGMA``, ``motion:LENGTH[,ANGLE]``, ``disk:RADIUS``;
    - ``aniso:SX,SY[,ANGLE]`` (Gaussian), ``generalized:SX,SY,ANGLE,BETA`` (exp(-(q/2)^BETA), BETA
      0.5-8), ``plateau:SX,SY,ANGLE,BETA`` (1/(1+q^BETA)): standard deviations SX along the axis at
      ANGLE degrees (counter-clockwise from +x) and SY across it, each in (0, 50], side
      2 ceil(3 max(SX, SY)) + 1 within 3..101 (restora.degrade.kernels);
    - ``sinc:CUTOFF[,SIZE]``: the circular low-pass at CUTOFF radians per pixel, (0, pi], SIZE odd
      3-101, default 21;
    - ``random:SEED``: a kernel drawn by kernels.random_kernel (Real-ESRGAN's mix) seeded by SEED;
    - the path of a kernel image (read as gray, a zero row or column added to an even side, normalised).
    """
    name, _, args = spec.partition(":")
    if name in _KERNEL_SPECS and args:
        make, fewest, most = _KERNEL_SPECS[name]
        try:
            values = [float(v) for v in args.split(",")]
        except ValueError:
            values = []
        if not fewest <= len(values) <= most or not all(map(math.isfinite, values)):
            raise RestoraError(f"bad kernel '{spec}' ({_KERNEL_USAGE})")
        return make(*values)
    if Path(spec).is_file():
        try:
            k = read_image(spec).data.mean(0)
        except RestoraError as exc:
            raise RestoraError(f"{exc} (a kernel is an image or a spec: {_KERNEL_USAGE})") from None
        if k.sum() <= 0:
            raise RestoraError(f"{spec}: kernel image is all black")
        k = F.pad(k, (0, 1 - k.shape[1] % 2, 0, 1 - k.shape[0] % 2))  # odd sides: a centre pixel
        return k / k.sum()
    raise RestoraError(f"unknown kernel '{spec}' ({_KERNEL_USAGE})")
