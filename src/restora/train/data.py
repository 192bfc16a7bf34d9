"""Training data: every image decoded once into a uint8 cache, patches sampled from memory.

Sampling uses an explicit torch.Generator so a resumed run draws exactly the same patches.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from restora.errors import RestoraError
from restora.io import list_images, read_image


def resolve_data_path(path: str | Path) -> Path:
    """Paths in recipes may start with ``$RESTORA_DATA/`` (default ``../shared/data``)."""
    text = str(path)
    root = os.environ.get("RESTORA_DATA", "../shared/data")
    return Path(text.replace("$RESTORA_DATA", root))


class ImageCache:
    """All images of a folder as uint8 tensors (C, H, W), C = 1 (``gray``) or 3."""

    def __init__(self, folder: str | Path, gray: bool, limit: int | None = None, min_side: int = 0):
        folder = resolve_data_path(folder)
        files = [p for p, _ in list_images([folder])][:limit]
        self.images: list[torch.Tensor] = []
        for path in files:
            data = read_image(path).data
            data = data.mean(0, keepdim=True) if gray and data.shape[0] == 3 else data
            if not gray and data.shape[0] == 1:
                data = data.expand(3, -1, -1)
            if min(data.shape[1:]) >= min_side:
                self.images.append((data * 255).round().to(torch.uint8))
        if not self.images:
            raise RestoraError(f"{folder}: no usable training images (need sides >= {min_side})")
        self.names = [p.name for p in files]

    def __len__(self) -> int:
        return len(self.images)


def augment(patch: torch.Tensor, k: int) -> torch.Tensor:
    """The 8 flips/rotations of the dihedral group; k in 0..7. Works on (..., H, W)."""
    if k >= 4:
        patch = patch.flip(-1)
    return torch.rot90(patch, k % 4, dims=(-2, -1))


def sample_patches(cache: ImageCache, n: int, size: int, gen: torch.Generator, flips: bool = True,
                   rescale: tuple[float, float] | None = None) -> torch.Tensor:
    """n random patches (n, C, size, size) float32 in [0, 1].

    ``rescale=(lo, hi)``: each patch is cut at size/s pixels and resized to size with a random
    s in [lo, hi] (bilinear, antialiased), the standard SR scale augmentation.
    """
    out = []
    for _ in range(n):
        img = cache.images[int(torch.randint(len(cache), (1,), generator=gen))]
        h, w = img.shape[1:]
        crop = size
        if rescale:
            s = float(torch.empty(1).uniform_(*rescale, generator=gen))
            crop = min(h, w, max(size, round(size / s))) if s < 1 else size
        crop = min(crop, h, w)
        top = int(torch.randint(h - crop + 1, (1,), generator=gen))
        left = int(torch.randint(w - crop + 1, (1,), generator=gen))
        patch = img[:, top:top + crop, left:left + crop].float() / 255
        if crop != size:
            patch = F.interpolate(patch[None], size=(size, size), mode="bilinear", antialias=True,
                                  align_corners=False)[0].clamp(0, 1)
        if flips:
            patch = augment(patch, int(torch.randint(8, (1,), generator=gen)))
        out.append(patch)
    return torch.stack(out)

