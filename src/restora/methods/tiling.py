"""Large images through a network: overlapping tiles with linear blending, and the x8 ensemble.

``run_tiled(fn, x, scale, tile, overlap)``: x (1, C, H, W); fn maps a tile (1, C, h, w) to
(1, C', h*scale, w*scale). Neighbouring tiles share ``2*overlap`` pixels. On a shared side a
tile's output is weighted 0 on its outer ``overlap/2`` pixels (where the network sees the tile
edge) and then rises linearly over ``overlap`` pixels, so the two tiles cross-fade over
``overlap`` pixels and no seam shows; a network whose receptive radius is within
``overlap/2`` gives exactly the one-pass result. A tile is ``tile`` x ``tile`` input pixels; on
an image thinner than that it spans the thin side and grows along the other to the same area.
Only one tile's activations exist at a time, which bounds memory: the output and its weight map
(float32) are the only full-size buffers. Each finished tile is reported to restora.reporting.
"""
from __future__ import annotations

from itertools import product
from typing import Callable

import torch

from restora import dihedral, reporting

Fn = Callable[[torch.Tensor], torch.Tensor]


def _starts(length: int, tile: int, stride: int) -> list[int]:
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _ramp(n: int, overlap: int, lead: bool, trail: bool) -> torch.Tensor:
    """Weights along one side of a tile of n output pixels (see the module docstring)."""
    w = torch.ones(n)
    margin = overlap // 2
    rise = (torch.arange(overlap) + 0.5) / overlap
    if lead:
        w[:margin] = 0
        w[margin:margin + overlap] = rise
    if trail:
        w[n - margin:] = 0
        w[n - margin - overlap:n - margin] = torch.minimum(w[n - margin - overlap:n - margin], rise.flip(0))
    return w


def _tile_shape(h: int, w: int, tile: int) -> tuple[int, int]:
    """(height, width) of the tiles for an (h, w) image: tile x tile, the thin side of a thinner
    image whole and the other side as long as keeps the area."""
    if h < tile:
        return h, min(w, tile * tile // h)
    if w < tile:
        return min(h, tile * tile // w), w
    return tile, tile


@torch.no_grad()
def run_tiled(fn: Fn, x: torch.Tensor, scale: int = 1, tile: int = 512, overlap: int = 32) -> torch.Tensor:
    """x (1, C, H, W) -> fn over overlapping tiles, blended (see the module docstring):
    (1, C', H*scale, W*scale) in fn's dtype."""
    h, w = x.shape[-2:]
    th, tw = _tile_shape(h, w, tile)
    if (th, tw) == (h, w):
        return fn(x)
    if tile <= 4 * overlap:
        raise ValueError(f"tile {tile} must exceed four times the overlap {overlap}")
    out = weight = None
    tops, lefts = _starts(h, th, th - 2 * overlap), _starts(w, tw, tw - 2 * overlap)
    for done, (top, left) in enumerate(product(tops, lefts), 1):
        y = fn(x[..., top:top + th, left:left + tw])
        if out is None:
            out = torch.zeros(*y.shape[:2], h * scale, w * scale, dtype=y.dtype)
            weight = torch.zeros(1, 1, h * scale, w * scale, dtype=y.dtype)
        wy = _ramp(th * scale, overlap * scale, top > 0, top + th < h)
        wx = _ramp(tw * scale, overlap * scale, left > 0, left + tw < w)
        win = (wy[:, None] * wx[None, :]).to(y.dtype)
        region = (..., slice(top * scale, (top + th) * scale), slice(left * scale, (left + tw) * scale))
        out[region] += y * win
        weight[region] += win
        reporting.progress(done, len(tops) * len(lefts), "tiles")
    return out.div_(weight)


@torch.no_grad()
def run_ensemble(fn: Fn, x: torch.Tensor) -> torch.Tensor:
    """Mean of fn over the 8 flips/rotations of x (each undone on the output)."""
    return sum(dihedral.inverse(fn(dihedral.transform(x, k)), k) for k in range(8)) / 8
