"""restora: deep-learning image restoration.

The Python API in one screen::

    import restora
    image = restora.read_image("photo.png")
    clean = restora.denoise(image, sigma=25)              # default method of the task
    big = restora.upscale(image, scale=3, method="bicubic")
    filled = restora.inpaint(image, mask="center")        # a mask tensor (1, H, W), kind or mask file
    sharp = restora.deblur(image, kernel="gaussian:2")    # a kernel tensor (kh, kw) or a spec
    faces = restora.sample("dcgan-faces", n=16, seed=0)   # (16, 3, 64, 64) in [0, 1] from a shipped generator
    restora.write_image(clean, "photo-clean.png")

Each task function takes an :class:`Image` or a float tensor (C, H, W) in [0, 1] and returns the
same kind; extra keywords are the method's options (see ``list_methods()``).
"""
from __future__ import annotations

from typing import Any

import torch

from restora.errors import RestoraError
from restora.generate import interpolate, sample
from restora.io import Image, read_image, write_image
from restora.methods import get_method, list_methods

__all__ = ["Image", "RestoraError", "read_image", "write_image", "denoise", "upscale", "inpaint", "deblur",
           "sample", "interpolate", "list_methods", "get_method"]

ImageLike = Image | torch.Tensor


def _run(task: str, x: ImageLike, method: str | None, **inputs: Any) -> ImageLike:
    restorer = get_method(task, method)
    return restorer(x, **inputs) if isinstance(x, Image) else restorer.restore(x, **inputs).clamp(0, 1)


def _pixels(x: ImageLike) -> torch.Tensor:
    return x.data if isinstance(x, Image) else x


def denoise(x: ImageLike, sigma: float | None = None, method: str | None = None, **options: Any) -> ImageLike:
    """Remove noise of level ``sigma`` (0-255 scale; estimated from the image when None)."""
    return _run("denoise", x, method, sigma=sigma, **options)


def upscale(x: ImageLike, scale: float = 2, method: str | None = None, **options: Any) -> ImageLike:
    """Enlarge by ``scale``: (C, H, W) -> (C, H*scale, W*scale)."""
    return _run("upscale", x, method, scale=scale, **options)


def inpaint(x: ImageLike, mask: torch.Tensor | str, method: str | None = None, **options: Any) -> ImageLike:
    """Fill the pixels where ``mask`` is 1: a tensor (1, H, W), a mask kind (center, boxes, strokes,
    pixels, left, right) or a mask image path (white = missing)."""
    if isinstance(mask, str):
        from restora.degrade import make_mask

        mask = make_mask(mask, *_pixels(x).shape[-2:])
    return _run("inpaint", x, method, mask=mask, **options)


def deblur(x: ImageLike, kernel: torch.Tensor | str, method: str | None = None, **options: Any) -> ImageLike:
    """Undo blur by ``kernel``: a tensor (kh, kw) or a spec such as gaussian:2, motion:15,45, disk:3."""
    if isinstance(kernel, str):
        from restora.degrade import kernel_from_spec

        kernel = kernel_from_spec(kernel)
    return _run("deblur", x, method, kernel=kernel, **options)
