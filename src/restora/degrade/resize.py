"""MATLAB-compatible bicubic ``imresize`` (a = -0.5, antialiased when shrinking).

The super-resolution protocol (docs/protocols.md) makes LR images with MATLAB's imresize; PIL's
and OpenCV's bicubic differ by 0.3 dB or more, so this is written out: per axis, a dense
(out, in) weight matrix built exactly as MATLAB's ``contributions`` (symmetric edge handling),
applied as two matrix products.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from restora.errors import RestoraError


def _cubic(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    ax2, ax3 = ax**2, ax**3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


@lru_cache(maxsize=64)
def _weights(in_len: int, out_len: int, scale: float, antialias: bool) -> torch.Tensor:
    """(out_len, in_len) float64 matrix of MATLAB's bicubic contributions."""
    width = 4.0
    shrink_aa = scale < 1 and antialias
    if shrink_aa:
        width /= scale
    x = torch.arange(1, out_len + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None]
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if shrink_aa else _cubic(dist)
    w = w / w.sum(1, keepdim=True)
    mirror = torch.cat([torch.arange(in_len), torch.arange(in_len - 1, -1, -1)])
    idx = mirror[(idx.long() - 1) % (2 * in_len)]
    matrix = torch.zeros(out_len, in_len, dtype=torch.float64)
    matrix.scatter_add_(1, idx, w)
    return matrix


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(H, W) -> MATLAB's output size for ``scale``: each side ceil(side * scale)."""
    return math.ceil(size[0] * scale - 1e-9), math.ceil(size[1] * scale - 1e-9)


def imresize(x: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None,
             antialias: bool = True) -> torch.Tensor:
    """Resize (C, H, W) or (N, C, H, W) like MATLAB ``imresize(x, scale, 'bicubic')``.

    Give ``scale`` (output side = ceil(side * scale)) or ``size`` = (H, W). Values are not
    clipped (bicubic overshoots slightly); callers clip or quantise as their protocol says.
    """
    h, w = x.shape[-2:]
    if size is None:
        if scale is None or not 0 < scale <= 64:
            raise RestoraError(f"resize scale {scale} must be in (0, 64]")
        size = scaled_size((h, w), scale)
        scales = (scale, scale)
    else:
        scales = (size[0] / h, size[1] / w)
    if min(size) < 1:
        raise RestoraError(f"resize to {size[1]}x{size[0]} leaves no pixels")
    dtype = x.dtype
    out = x.double()
    # MATLAB resizes the dimension with the larger shrink first (order by scale)
    for dim in sorted((0, 1), key=lambda d: scales[d]):
        n_in = (h, w)[dim]
        m = _weights(n_in, size[dim], scales[dim], antialias)
        out = torch.einsum("oi,...ij->...oj", m, out) if dim == 0 else torch.einsum("oi,...ji->...jo", m, out)
    return out.to(dtype)
