"""The 64x64 face frame of the face models (DCGAN training, sampling and GAN-prior inpainting).

The frame is a centred square whose side is 72% of the image width (clipped to the shorter side),
resized to 64x64. On the 89x109 aligned CelebA faces (half-size CelebA) that is the pixel-exact
64x64 square at rows 22-85, columns 12-75: forehead to chin, cheek to cheek, about the field of
view of the classic DCGAN crop (108 pixels of the 178-pixel-wide originals) with a little more
context around it.
"""
from __future__ import annotations

import torch

from restora.degrade import imresize

FRAME = 64
FRAME_WIDTH_FRACTION = 0.72


def face_box(height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of the face frame in an image of this size."""
    side = min(round(FRAME_WIDTH_FRACTION * width), height, width)
    return (height - side) // 2, (width - side) // 2, side


def to_frame(x: torch.Tensor, box: tuple[int, int, int]) -> torch.Tensor:
    """Crop (C, H, W) in [0, 1] to ``box`` (top, left, side) and resize to (C, 64, 64) (MATLAB bicubic,
    antialiased; the identity when the side is already 64)."""
    top, left, side = box
    crop = x[:, top:top + side, left:left + side]
    return crop if side == FRAME else imresize(crop, size=(FRAME, FRAME)).clamp(0, 1)
