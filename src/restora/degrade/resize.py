"""MATLAB-compatible bicubic ``imresize`` (a = -0.5, antialiased when shrinking).

The super-resolution protocol (docs/protocols.md) makes LR images with MATLAB's imresize; PIL's
and OpenCV's bicubic differ by 0.3 dB or more, so this is written out: per axis, each output pixel
is a weighted sum of ``taps`` input pixels, with indices and weights built exactly as MATLAB's
``contributions`` (symmetric edge handling). The weights are banded (blocks of BLOCK outputs
times the window of inputs they draw on), so time and memory grow linearly with the pixels; the
output is made tile by tile in float64 from each tile's window of inputs, so no full-size float64
copy of a large image is made.
"""
from __future__ import annotations

import math

import torch

from restora.errors import RestoraError

BLOCK = 64  # output pixels per block of weights (small blocks waste few multiplications on zeros)
TILE_ELEMENTS = 1 << 22  # float64 input values of one output tile, about (32 MB)
TILE_SIDE = 4096  # output pixels along a tile's side at most (bounds its weights)


def _cubic(x: torch.Tensor) -> torch.Tensor:
    ax = x.abs()
    ax2, ax3 = ax**2, ax**3
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def _contributions(in_len: int, outputs: range, scale: float, antialias: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """MATLAB's bicubic contributions of the output pixels ``outputs`` (0-based) along one axis:
    input indices (outputs, taps) int64 in [0, in_len) and their weights (outputs, taps) float64,
    each row summing to 1."""
    width = 4.0
    shrink_aa = scale < 1 and antialias
    if shrink_aa:
        width /= scale
    x = torch.arange(outputs.start + 1, outputs.stop + 1, dtype=torch.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(u - width / 2)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + torch.arange(taps, dtype=torch.float64)[None]
    dist = u[:, None] - idx
    w = scale * _cubic(dist * scale) if shrink_aa else _cubic(dist)
    w = w / w.sum(1, keepdim=True)
    mirror = torch.cat([torch.arange(in_len), torch.arange(in_len - 1, -1, -1)])
    return mirror[(idx.long() - 1) % (2 * in_len)], w


Band = tuple[torch.Tensor, torch.Tensor]  # see _band


def _band(idx: torch.Tensor, w: torch.Tensor, in_len: int) -> Band:
    """Contributions (idx, w), each (out, taps), as blocks of BLOCK output pixels, each drawing on a
    window of ``span`` consecutive inputs: window starts (blocks,) int64 in [0, in_len - span] and
    weights (blocks, BLOCK, span) float64 (rows past ``out`` are zero)."""
    blocks, taps = -(-len(idx) // BLOCK), idx.shape[1]
    pad = blocks * BLOCK - len(idx)
    idx = torch.cat([idx, idx[-1:].expand(pad, -1)]).view(blocks, BLOCK, taps)
    w = torch.cat([w, w.new_zeros(pad, taps)]).view(blocks, BLOCK, taps)
    low = idx.amin((1, 2))
    span = int((idx.amax((1, 2)) - low).max()) + 1
    starts = low.clamp(max=in_len - span)
    weights = w.new_zeros(blocks, BLOCK, span).scatter_add_(2, idx - starts[:, None, None], w)
    return starts, weights


def _resize_axis(x: torch.Tensor, band: Band, dim: int, out_len: int) -> torch.Tensor:
    """float64 x resized along ``dim`` to ``out_len`` by the weights of :func:`_band`: one batched
    matrix product of each block's weights with its window of inputs."""
    starts, weights = band
    moved = x.movedim(dim, 0)
    flat = moved.reshape(moved.shape[0], -1)
    windows = flat[starts[:, None] + torch.arange(weights.shape[2])]  # (blocks, span, rest)
    out = torch.bmm(weights, windows).view(-1, flat.shape[1])[:out_len]
    return out.view(out_len, *moved.shape[1:]).movedim(0, dim)


def _window(in_len: int, outputs: range, scale: float, antialias: bool) -> tuple[int, int, Band]:
    """The inputs [low, high) that ``outputs`` draw on along one axis, and their :func:`_band`."""
    idx, w = _contributions(in_len, outputs, scale, antialias)
    low, high = int(idx.min()), int(idx.max()) + 1
    return low, high, _band(idx - low, w, high - low)


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """(H, W) -> MATLAB's output size for ``scale``: each side ceil(side * scale)."""
    return math.ceil(size[0] * scale - 1e-9), math.ceil(size[1] * scale - 1e-9)


def imresize(x: torch.Tensor, scale: float | None = None, size: tuple[int, int] | None = None,
             antialias: bool = True, out: torch.Tensor | None = None, rows: range | None = None) -> torch.Tensor:
    """Resize (C, H, W) or (N, C, H, W) like MATLAB ``imresize(x, scale, 'bicubic')``.

    Give ``scale`` (output side = ceil(side * scale)) or ``size`` = (H, W). Values are not
    clipped (bicubic overshoots slightly); callers clip or quantise as their protocol says. The
    result has x's dtype, or is written into ``out`` (a tensor of the result's shape, such as part
    of a larger buffer) and returned; the arithmetic is float64, tile by tile. ``rows``: only
    these output rows (a band of the result, made from the input rows it draws on).
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
    # MATLAB resizes the dimension with the larger shrink first (order by scale); the output is
    # made in tiles, each from the window of inputs it draws on
    first, second = (-2, -1) if scales[1] >= scales[0] else (-1, -2)
    rows = range(size[0]) if rows is None else rows
    if rows.step != 1 or not 0 <= rows.start < rows.stop <= size[0]:
        raise ValueError(f"rows {rows} are not a band of the {size[0]} output rows")
    spans = {-2: rows, -1: range(size[1])}  # the outputs made along each axis
    span1, span2 = spans[first], spans[second]
    size1, size2 = size[first], size[second]
    per_output = max(1, x[..., 0, 0].numel()) * max(1.0, x.shape[first] / size1) * max(1.0, x.shape[second] / size2)
    tile2 = _tile_side(len(span2), TILE_ELEMENTS / (per_output * min(len(span1), TILE_SIDE)))
    tile1 = _tile_side(len(span1), TILE_ELEMENTS / (per_output * tile2))
    shape = (*x.shape[:-2], len(rows), size[1])
    if out is None:
        out = x.new_empty(shape)
    elif out.shape != shape:
        raise ValueError(f"imresize writes {tuple(shape)}, out is {tuple(out.shape)}")
    for start1 in range(span1.start, span1.stop, tile1):
        outputs1 = range(start1, min(start1 + tile1, span1.stop))
        low1, high1, band1 = _window(x.shape[first], outputs1, scales[first], antialias)
        inputs1 = x.narrow(first, low1, high1 - low1)
        for start2 in range(span2.start, span2.stop, tile2):
            outputs2 = range(start2, min(start2 + tile2, span2.stop))
            low2, high2, band2 = _window(x.shape[second], outputs2, scales[second], antialias)
            across = _resize_axis(inputs1.narrow(second, low2, high2 - low2).double(), band1, first, len(outputs1))
            tile = out.narrow(first, start1 - span1.start, len(outputs1)).narrow(second, start2 - span2.start,
                                                                                  len(outputs2))
            tile.copy_(_resize_axis(across, band2, second, len(outputs2)))
    return out


def _tile_side(length: int, budget: float) -> int:
    """Output pixels along one axis of a tile: ``budget`` within [BLOCK, TILE_SIDE], at most ``length``."""
    return min(length, TILE_SIDE, max(BLOCK, int(budget)))
