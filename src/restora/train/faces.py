"""The face training set (aligned faces in their 64x64 frame, restora.faces), decoded once into memory."""
from __future__ import annotations

from pathlib import Path

import torch

from restora.errors import RestoraError
from restora.faces import face_box, to_frame
from restora.io import list_images, read_image
from restora.train.data import resolve_data_path, to_color_mode


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
