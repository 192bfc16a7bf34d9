"""Task bases: each fixes the inputs of its task, so every method of a task is called alike.

denoise(x, sigma=None)   sigma on the 0-255 scale; None -> estimated from the image
upscale(x, scale)        integer or fractional scale factor
inpaint(x, mask)         mask (1, H, W), 1 = missing
deblur(x, kernel)        blur kernel (kh, kw), sums to 1
"""
from __future__ import annotations

import numpy as np
import torch

from restora.errors import RestoraError
from restora.methods.base import Restorer


def estimate_sigma(x: torch.Tensor) -> float:
    """Noise level on the 0-255 scale from the finest wavelet band (Donoho's MAD estimator,
    scikit-image), averaged over channels."""
    from skimage.restoration import estimate_sigma as sk_estimate

    arr = x.permute(1, 2, 0).numpy().astype(np.float64)
    return float(np.mean(sk_estimate(arr, channel_axis=-1, average_sigmas=False))) * 255


class Denoiser(Restorer):
    task = "denoise"

    def restore(self, x, sigma: float | None = None, **options):
        if sigma is None:
            sigma = estimate_sigma(x)
        if not 0 <= sigma <= 255:
            raise RestoraError(f"sigma {sigma} is outside [0, 255]")
        return self.denoise(x, float(sigma), **self.check_options(options))

    def denoise(self, x: torch.Tensor, sigma: float, **options) -> torch.Tensor:
        raise NotImplementedError


class Upscaler(Restorer):
    task = "upscale"

    def restore(self, x, scale: float = 2, **options):
        if not 1 <= scale <= 16:
            raise RestoraError(f"scale {scale} must be in [1, 16]")
        return self.upscale(x, float(scale), **self.check_options(options))

    def upscale(self, x: torch.Tensor, scale: float, **options) -> torch.Tensor:
        raise NotImplementedError


class Inpainter(Restorer):
    task = "inpaint"

    def restore(self, x, mask: torch.Tensor | None = None, **options):
        if mask is None:
            raise RestoraError("inpainting needs a mask (white = missing)")
        if mask.shape[-2:] != x.shape[-2:]:
            raise RestoraError(f"mask is {mask.shape[-1]}x{mask.shape[-2]}, image is {x.shape[-1]}x{x.shape[-2]}")
        mask = (mask.reshape(1, *x.shape[-2:]) > 0.5).float()
        out = self.inpaint(x, mask, **self.check_options(options))
        return x * (1 - mask) + out * mask if self.keeps_known else out

    keeps_known = True  # known pixels are copied back exactly unless a method blends across the edge

    def inpaint(self, x: torch.Tensor, mask: torch.Tensor, **options) -> torch.Tensor:
        raise NotImplementedError


class Deblurrer(Restorer):
    task = "deblur"

    def restore(self, x, kernel: torch.Tensor | None = None, **options):
        if kernel is None:
            raise RestoraError("deblurring needs a blur kernel (e.g. --kernel gaussian:2)")
        if kernel.dim() != 2 or kernel.shape[0] > x.shape[-2] or kernel.shape[1] > x.shape[-1]:
            raise RestoraError(f"kernel of shape {tuple(kernel.shape)} does not fit the image")
        return self.deblur(x, kernel / kernel.sum(), **self.check_options(options))

    def deblur(self, x: torch.Tensor, kernel: torch.Tensor, **options) -> torch.Tensor:
        raise NotImplementedError
