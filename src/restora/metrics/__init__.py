"""PSNR and SSIM under the published protocols (docs/protocols.md).

Inputs are float tensors (C, H, W) in [0, 1]; both are clipped and quantised to 8 bits first,
so results are those of 8-bit images. ``y=True`` measures the BT.601 luma (16-235 range) as the
super-resolution papers do; ``crop`` removes that many pixels from every border.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

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


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(r**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor, y: bool = False, crop: int = 0) -> float:
    """Structural similarity (Wang et al. 2004): 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
    data range 255, 'valid' filtering; the mean over pixels and channels."""
    a, b = _prepare(a, b, y, crop)
    if min(a.shape[-2:]) < 11:
        raise RestoraError(f"SSIM needs at least 11x11 pixels, got {a.shape[-1]}x{a.shape[-2]}")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    win = _gaussian_window()[None, None]
    a, b = a[:, None], b[:, None]  # channels as batch
    def filt(t):
        return F.conv2d(t, win)
    mu_a, mu_b = filt(a), filt(b)
    var_a = filt(a * a) - mu_a**2
    var_b = filt(b * b) - mu_b**2
    cov = filt(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.mean().item()


__all__ = ["psnr", "ssim", "to_y"]
