"""Classical restorers, each a thin wrapper over a well-kept library (OpenCV, bm3d, scikit-image)."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from restora.degrade import imresize
from restora.methods.base import Option, register
from restora.methods.tasks import Deblurrer, Denoiser, Inpainter, Upscaler


def _to_hwc(x: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(x.permute(1, 2, 0).numpy())


def from_hwc(a: np.ndarray) -> torch.Tensor:
    """(H, W) or (H, W, C) array -> float32 tensor (C, H, W)."""
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)).permute(2, 0, 1).contiguous()


def to_uint8_hwc(x: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> uint8 array (H, W, C), rounded (the layout OpenCV takes)."""
    return np.round(_to_hwc(x.clamp(0, 1)) * 255).astype(np.uint8)


@register
class NonLocalMeans(Denoiser):
    name = "nlm"
    summary = "Non-local means (OpenCV fastNlMeans; filter strength h = factor x sigma)"
    options = (Option("factor", float, 0.9, "filter strength h relative to sigma", 0.1, 5.0),)

    def denoise(self, x, sigma, factor=0.9):
        u8 = to_uint8_hwc(x)
        h = max(factor * sigma, 0.1)
        if x.shape[0] == 1:
            out = cv2.fastNlMeansDenoising(u8[:, :, 0], None, h, 7, 21)
        else:  # filters in CIELAB, where independent RGB noise is about 2/3 as strong: scale h to match
            h = max(h * 2 / 3, 0.1)
            out = cv2.fastNlMeansDenoisingColored(u8[:, :, ::-1].copy(), None, h, h, 7, 21)[:, :, ::-1]
        return from_hwc(out.astype(np.float32) / 255)


@register
class BM3D(Denoiser):
    name = "bm3d"
    summary = "BM3D / CBM3D (the reference bm3d package)"
    priority = 1

    def denoise(self, x, sigma):
        import bm3d

        arr = _to_hwc(x).astype(np.float64)
        if sigma == 0:
            return x.clone()
        with np.errstate(divide="ignore", invalid="ignore"):
            out = bm3d.bm3d(arr[:, :, 0], sigma / 255) if x.shape[0] == 1 else bm3d.bm3d_rgb(arr, sigma / 255)
        if not np.isfinite(out).all():  # CBM3D divides by each opponent channel's range: 0 on gray or one-colour RGB
            out = np.stack([bm3d.bm3d(arr[:, :, c], sigma / 255) for c in range(3)], axis=2)
        return from_hwc(np.clip(out, 0, 1))


@register
class Bicubic(Upscaler):
    name = "bicubic"
    summary = "MATLAB-compatible bicubic interpolation"
    priority = 1

    def upscale(self, x, scale):
        return imresize(x, scale).clamp(0, 1)


@register
class Lanczos(Upscaler):
    name = "lanczos"
    summary = "Lanczos-4 interpolation (OpenCV)"

    def upscale(self, x, scale):
        h, w = x.shape[-2:]
        size = (round(w * scale), round(h * scale))
        out = cv2.resize(_to_hwc(x), size, interpolation=cv2.INTER_LANCZOS4)
        return from_hwc(np.clip(out, 0, 1))


class _OpenCVInpainter(Inpainter):
    flag: int
    options = (Option("radius", int, 5, "neighbourhood radius in pixels", 1, 50),)
    priority = 1

    def inpaint(self, x, mask, radius=5):
        u8 = to_uint8_hwc(x)
        m = (mask[0].numpy() > 0.5).astype(np.uint8) * 255
        out = cv2.inpaint(u8 if x.shape[0] == 3 else u8[:, :, 0], m, radius, self.flag)
        return from_hwc(out.astype(np.float32) / 255)


@register
class Telea(_OpenCVInpainter):
    name = "telea"
    summary = "Fast marching inpainting (Telea 2004, OpenCV)"
    flag = cv2.INPAINT_TELEA
    priority = 2


@register
class NavierStokes(_OpenCVInpainter):
    name = "navier-stokes"
    summary = "Navier-Stokes based inpainting (Bertalmio 2001, OpenCV)"
    flag = cv2.INPAINT_NS


class _SkimageDeblurrer(Deblurrer):
    """Pads symmetrically by the kernel size first: both methods assume a periodic image."""

    def deblur(self, x, kernel, **options):
        kh, kw = kernel.shape
        arr = np.pad(_to_hwc(x).astype(np.float64), ((kh, kh), (kw, kw), (0, 0)), mode="symmetric")
        psf = kernel.double().numpy()
        out = np.stack([self.deconvolve(arr[:, :, c], psf, **options) for c in range(arr.shape[2])], axis=2)
        return from_hwc(np.clip(out[kh:-kh, kw:-kw], 0, 1))


@register
class Wiener(_SkimageDeblurrer):
    name = "wiener"
    summary = "Wiener-Hunt deconvolution (scikit-image)"
    options = (Option("balance", float, 0.01, "regularisation: larger is smoother", 1e-5, 10.0),)
    priority = 1

    @staticmethod
    def deconvolve(channel, psf, balance=0.01):
        from skimage.restoration import wiener

        return wiener(channel, psf, balance, clip=False)


@register
class RichardsonLucy(_SkimageDeblurrer):
    name = "richardson-lucy"
    summary = "Richardson-Lucy deconvolution (scikit-image)"
    options = (Option("iterations", int, 30, "number of iterations", 1, 1000),)

    @staticmethod
    def deconvolve(channel, psf, iterations=30):
        from skimage.restoration import richardson_lucy

        return richardson_lucy(channel, psf, num_iter=iterations, clip=False)
