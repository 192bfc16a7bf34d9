"""The 64x64 face frame of the DCGAN and the face training set, decoded once into memory.

The frame is a centred square whose side is 72% of the image width (clipped to the shorter side),
resized to 64x64. On the 89x109 aligned CelebA faces (half-size CelebA) that is the pixel-exact
64x64 square at rows 22-85, columns 12-75: forehead to chin, cheek to cheek, about the field of
view of the classic DCGAN crop (108 pixels of the 178-pixel-wide originals) with a little more
context around it. Training, sampling and GAN-prior inpainting all use this frame.
"""
from __future__ import annotations

from pathlib import Path

import torch

from restora.degrade import imresize
from restora.errors import RestoraError
from restora.io import list_images, read_image
from restora.train.data import resolve_data_path, to_color_mode

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


def split_files(folder: str | Path, holdout: int) -> tuple[list[Path], list[Path]]:
    """The images of ``folder`` sorted by name: (training files, the last ``holdout`` files)."""
    folder = resolve_data_path(folder)
    files = [path for path, _ in list_images([folder])]
    if len(files) <= holdout:
        raise RestoraError(f"{folder}: {len(files)} images, not more than the {holdout} held out")
    return files[: len(files) - holdout], files[len(files) - holdout:]


def load_faces(files: list[Path]) -> torch.Tensor:
    """Face frames of ``files`` as one uint8 tensor (N, 3, 64, 64)."""
    frames = []
    for path in files:
        rgb = to_color_mode(read_image(path).data, "rgb")
        frames.append((to_frame(rgb, face_box(*rgb.shape[1:])) * 255).round().to(torch.uint8))
    return torch.stack(frames)
