"""PSNR and SSIM under the published protocols (docs/protocols.md).

Inputs are float tensors (C, H, W) in [0, 1]; both are clipped and quantised to 8 bits first,
so results are those of 8-bit images. ``y=True`` measures the BT.601 luma (16-235 range) as the
super-resolution papers do; ``crop`` removes that many pixels from every border.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from restora.color import rgb_to_ycbcr
from restora.errors import RestoraError


def to_y(x: torch.Tensor) -> torch.Tensor:
    """RGB (3, H, W) in [0, 1] -> Y (1, H, W) float64 in [16, 235] / 255 (ITU-R BT.601)."""
    return rgb_to_ycbcr(x.double(), luma_only=True)


def _prepare(a: torch.Tensor, b: torch.Tensor, y: bool, crop: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Both images as float64 on the 0-255 scale, quantised, optionally luma, cropped."""
    if a.shape != b.shape:
        raise RestoraError(f"images differ in size: {tuple(a.shape)} vs {tuple(b.shape)}")
    out = []
    for x in (a, b):
        x = (x.double().clamp(0, 1) * 255).round() / 255
        if y and x.shape[0] == 3:
            x = to_y(x)
        x = x * 255
        if crop:
            if 2 * crop >= min(x.shape[-2:]):
                raise RestoraError(f"crop {crop} leaves nothing of a {x.shape[-1]}x{x.shape[-2]} image")
            x = x[..., crop:-crop, crop:-crop]
        out.append(x)
    return out[0], out[1]


def psnr(a: torch.Tensor, b: torch.Tensor, y: bool = False, crop: int = 0) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); inf for identical images."""
    a, b = _prepare(a, b, y, crop)
    mse = torch.mean((a - b) ** 2).item()
    return float("inf") if mse == 0 else 10 * torch.log10(torch.tensor(255.0**2 / mse)).item()


def _gaussian_taps(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """(size,) float64 Gaussian weights summing to 1; the 2-D window is their outer product."""
    r = np.arange(size) - (size - 1) / 2
    g = np.exp(-(r**2) / (2 * sigma**2))
    return g / g.sum()


def _window_means(maps: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """(..., H, W) float64 -> (..., H - k + 1, W - k + 1): the window-weighted mean at each 'valid'
    position, as two 1-D passes (the Gaussian window is separable)."""
    k = len(taps) // 2
    rows = ndimage.correlate1d(maps, taps, axis=-1)[..., k:-k]
    return ndimage.correlate1d(rows, taps, axis=-2)[..., k:-k, :]


def ssim(a: torch.Tensor, b: torch.Tensor, y: bool = False, crop: int = 0) -> float:
    """Structural similarity (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
    data range 255, 'valid' filtering; the mean over pixels and channels. Float64 throughout."""
    a, b = _prepare(a, b, y, crop)
    if min(a.shape[-2:]) < 11:
        raise RestoraError(f"SSIM needs at least 11x11 pixels, got {a.shape[-1]}x{a.shape[-2]}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    a, b = a.numpy(), b.numpy()
    mu_a, mu_b, aa, bb, ab = _window_means(np.stack([a, b, a * a, b * b, a * b]), _gaussian_taps())
    var_a, var_b, cov = aa - mu_a**2, bb - mu_b**2, ab - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


__all__ = ["psnr", "ssim", "to_y"]
