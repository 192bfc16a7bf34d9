"""Training data: every image decoded once into a uint8 cache, patches sampled from memory.

Sampling uses an explicit torch.Generator so a resumed run draws exactly the same patches.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator

import torch
import torch.nn.functional as F

from restora import dihedral
from restora.color import rgb_to_ycbcr, ycbcr_to_rgb
from restora.errors import RestoraError
from restora.io import list_images, read_image
from restora.io.idx import is_idx, read_digits
from restora.metrics import to_y


def resolve_data_path(path: str | Path) -> Path:
    """Paths in recipes may start with ``$RESTORA_DATA/`` (default ``../shared/data``)."""
    text = str(path)
    root = os.environ.get("RESTORA_DATA", "../shared/data")
    return Path(text.replace("$RESTORA_DATA", root))


COLOR_MODES = ("gray", "rgb", "y")


def to_color_mode(data: torch.Tensor, mode: str) -> torch.Tensor:
    """(C, H, W) in [0, 1] -> ``gray`` (1 channel, channel mean), ``rgb`` (3) or ``y`` (1, BT.601
    luma in [16, 235]/255, the super-resolution protocol)."""
    if mode not in COLOR_MODES:
        raise RestoraError(f"recipe: unknown color mode '{mode}' ({', '.join(COLOR_MODES)})")
    if mode == "rgb":
        return data.expand(3, -1, -1) if data.shape[0] == 1 else data
    if mode == "y":
        return to_y(data.expand(3, -1, -1)).float()
    return data.mean(0, keepdim=True)


_RANGE = re.compile(r"^(.*)\[(-?\d*):(-?\d*)\]$")


def split_range(source: str | Path) -> tuple[Path, slice]:
    """A data source ``PATH`` or ``PATH[start:stop]`` -> (resolved path, slice of its images in
    order, Python style): ``$RESTORA_DATA/digits/mnist-test/t10k-images-idx3-ubyte.gz[8000:]`` is
    the last 2,000 MNIST test digits."""
    match = _RANGE.match(str(source))
    if not match:
        return resolve_data_path(source), slice(None)
    path, start, stop = match.groups()
    return resolve_data_path(path), slice(int(start) if start else None, int(stop) if stop else None)


def read_source(source: str | Path, mode: str, limit: int | None = None
                ) -> tuple[Iterator[torch.Tensor], torch.Tensor | None]:
    """(images, labels) of a data source: every image file under a folder (sorted by path) or the
    images of an idx file (MNIST format, see restora.io.idx), the range of split_range, then the
    first ``limit``. images: float (C, H, W) in [0, 1] in a color mode, decoded lazily one at a
    time; labels: (N,) int64 class labels of an idx file with a labels file beside it, else None."""
    path, part = split_range(source)
    if is_idx(path):
        digits, labels = read_digits(path)
        images = (to_color_mode(torch.from_numpy(d)[None].float() / 255, mode) for d in digits[part][:limit])
        return images, None if labels is None else torch.from_numpy(labels[part][:limit]).long()
    files = [p for p, _ in list_images([path])][part][:limit]
    return (to_color_mode(read_image(f).data, mode) for f in files), None


def source_repeat(source: str | Path | dict) -> tuple[str | Path, int]:
    """A list entry of ``data.train``: ``PATH`` or ``{path: PATH, repeat: N}`` -> (PATH, N). A source
    repeated N times has each of its images drawn N times as often as an image of a repeat-1 source."""
    if not isinstance(source, dict):
        return source, 1
    if set(source) - {"path", "repeat"} or "path" not in source:
        raise RestoraError(f"recipe: a data source is PATH or {{path: PATH, repeat: N}}, not {source}")
    repeat = source.get("repeat", 1)
    if not isinstance(repeat, int) or not 1 <= repeat <= 1000:
        raise RestoraError(f"recipe: repeat of {source['path']} must be an integer from 1 to 1000, not {repeat}")
    return source["path"], repeat


class ImageCache:
    """All images of a data source (see read_source), or of a list of sources one after another
    (see source_repeat), as uint8 tensors (C, H, W) in a color mode (see to_color_mode); ``limit``
    applies to each source. ``labels``: their class labels (N,) int64 for a single idx source, else None."""

    def __init__(self, source: str | Path | list, mode: str, limit: int | None = None, min_side: int = 0):
        sources = source if isinstance(source, list) else [source]
        self.images: list[torch.Tensor] = []
        for one in sources:
            path, repeat = source_repeat(one)
            images, labels = read_source(path, mode, limit)
            self.images += [(data * 255).round().to(torch.uint8) for data in images
                            if min(data.shape[1:]) >= min_side] * repeat
        self.labels = labels if len(sources) == 1 else None
        if not self.images:
            raise RestoraError(f"{source}: no usable training images (need sides >= {min_side})")

    def __len__(self) -> int:
        return len(self.images)


def saturate(patch: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale the colour of an RGB patch (3, H, W) in [0, 1] away from (factor > 1) or towards its
    luma: Cb and Cr of BT.601 YCbCr (restora.color) scaled about neutral, Y kept, clamped to [0, 1]
    (the same as torchvision's ColorJitter saturation); gray patches pass through."""
    if patch.shape[0] != 3:
        return patch
    ycbcr = rgb_to_ycbcr(patch)
    neutral = 128 / 255
    chroma = neutral + factor * (ycbcr[1:] - neutral)
    return ycbcr_to_rgb(torch.cat([ycbcr[:1], chroma])).clamp(0, 1)


def sample_patches(cache: ImageCache, n: int, size: int, gen: torch.Generator, flips: bool = True,
                   rescale: tuple[float, float] | None = None,
                   saturation: tuple[float, float] | None = None) -> torch.Tensor:
    """n random patches (n, C, size, size) float32 in [0, 1].

    ``rescale=(lo, hi)``: each patch is cut at size/s pixels and resized to size with a random
    s in [lo, hi] (bilinear, antialiased), the standard SR scale augmentation.
    ``saturation=(lo, hi)``: each colour patch's saturation is scaled by a random factor in [lo, hi]
    (see saturate).
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
        if saturation:
            patch = saturate(patch, float(torch.empty(1).uniform_(*saturation, generator=gen)))
        if flips:
            patch = dihedral.transform(patch, int(torch.randint(8, (1,), generator=gen)))
        out.append(patch)
    return torch.stack(out)

