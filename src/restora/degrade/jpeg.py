"""JPEG compression through Pillow's libjpeg (the IJG encoder the published JPEG protocols used);
restora.io.jpeg reads a JPEG file's quality back.

Gray images are coded as one channel, colour as YCbCr with 4:2:0 chroma (Pillow's default, and
what cameras and the web use). Tensors are (C, H, W) or (N, C, H, W) in [0, 1]; the result is at
8-bit levels.
"""
from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from restora.errors import RestoraError
from restora.io.jpeg import check_quality

BLOCK = 8  # the JPEG block side (luma; 4:2:0 chroma blocks span 16 pixels)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """x compressed at ``quality`` (1-100) and decoded: same shape, 8-bit levels."""
    quality = check_quality(quality)
    if x.dim() == 4:
        return torch.stack([jpeg(one, quality) for one in x])
    if x.shape[0] not in (1, 3):
        raise RestoraError(f"JPEG codes gray or RGB images, not {x.shape[0]} channels")
    array = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    buffer = io.BytesIO()
    PILImage.fromarray(array[..., 0] if x.shape[0] == 1 else array).save(
        buffer, "JPEG", quality=quality, subsampling="4:2:0")
    decoded = np.asarray(PILImage.open(buffer))
    decoded = decoded[..., None] if decoded.ndim == 2 else decoded
    return torch.from_numpy(decoded.copy()).permute(2, 0, 1).to(x.dtype) / 255


def double_jpeg(x: torch.Tensor, first: int, second: int, shift: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Compressed twice: at ``first`` on a block grid moved by ``shift`` = (dy, dx) pixels (0-7, as
    after a crop of the first JPEG), then at ``second`` on the image's own grid. Same shape."""
    dy, dx = shift
    if not (0 <= dy < BLOCK and 0 <= dx < BLOCK):
        raise RestoraError(f"double JPEG shift {shift} must be within 0-{BLOCK - 1} pixels")
    batched = x if x.dim() == 4 else x[None]
    shifted = F.pad(batched, (dx, 0, dy, 0), mode="reflect") if dx or dy else batched
    once = jpeg(shifted, first)[..., dy:, dx:]
    twice = jpeg(once, second)
    return twice if x.dim() == 4 else twice[0]
