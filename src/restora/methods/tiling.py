"""Large images through a network: overlapping tiles with linear blending, and the x8 ensemble.

``run_tiled(fn, x, scale, tile, overlap)``: x (1, C, H, W); fn maps a tile (1, C, h, w) to
(1, C', h*scale, w*scale). Neighbouring tiles share ``2*overlap`` pixels. On a shared side a
tile's output is weighted 0 on its outer ``overlap/2`` pixels (where the network sees the tile
edge) and then rises linearly over ``overlap`` pixels, so the two tiles cross-fade over
``overlap`` pixels and no seam shows; a network whose receptive radius is within
``overlap/2`` gives exactly the one-pass result. A tile is ``tile`` x ``tile`` input pixels; on
an image thinner than that it spans the thin side and grows along the other to the same area.
Only one tile's activations exist at a time, which bounds memory. Tiles run a row of tiles at a
time, and :func:`tiled_bands` hands out the output's rows as each row of tiles finishes them, so a
caller can consume the output band by band (quantise it straight into a written image): only one
row of tiles' output and weights is held. :func:`run_tiled` assembles the bands, so its output is
the one full-size buffer. Each finished tile is reported to restora.reporting.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

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


Band = tuple[int, torch.Tensor]  # (first row, the rows (..., rows, W)) of an output made top to bottom


@torch.no_grad()
def tiled_bands(fn: Fn, x: torch.Tensor, scale: int = 1, tile: int = 512, overlap: int = 32) -> Iterator[Band]:
    """x (1, C, H, W) -> fn over overlapping tiles, blended (see the module docstring), as bands of
    whole output rows, top to bottom: (first row, (1, C', rows, W*scale)) in fn's dtype, a band per
    row of tiles; one band when one tile covers x (fn(x) itself)."""
    h, w = x.shape[-2:]
    th, tw = _tile_shape(h, w, tile)
    if (th, tw) == (h, w):
        yield 0, fn(x)
        return
    if tile <= 4 * overlap:
        raise ValueError(f"tile {tile} must exceed four times the overlap {overlap}")
    out = weight = None  # the output rows from the current row of tiles' top down, and their weights
    tops, lefts = _starts(h, th, th - 2 * overlap), _starts(w, tw, tw - 2 * overlap)
    done = 0
    for i, top in enumerate(tops):
        wy = _ramp(th * scale, overlap * scale, top > 0, top + th < h)
        for left in lefts:
            y = fn(x[..., top:top + th, left:left + tw])
            if out is None:
                out = torch.zeros(*y.shape[:2], th * scale, w * scale, dtype=y.dtype)
                weight = torch.zeros(1, 1, th * scale, w * scale, dtype=y.dtype)
            wx = _ramp(tw * scale, overlap * scale, left > 0, left + tw < w)
            win = (wy[:, None] * wx[None, :]).to(y.dtype)
            region = (..., slice(left * scale, (left + tw) * scale))
            out[region] += y * win
            weight[region] += win
            done += 1
            reporting.progress(done, len(tops) * len(lefts), "tiles")
        finished = ((tops[i + 1] if i + 1 < len(tops) else h) - top) * scale  # no later tile reaches these rows
        yield top * scale, out[..., :finished, :] / weight[..., :finished, :]
        for t in (out, weight) if i + 1 < len(tops) else ():  # the open rows move up to the next top
            carry = t[..., finished:, :].clone()
            t.zero_()[..., :carry.shape[2], :] = carry


def assemble(bands: Iterable[Band], height: int) -> torch.Tensor:
    """The bands of an output ``height`` rows high put together: (..., height, W); the first band
    itself when it is whole."""
    out = None
    for top, band in bands:
        if band.shape[-2] == height:
            return band
        if out is None:
            out = band.new_empty(*band.shape[:-2], height, band.shape[-1])
        out[..., top:top + band.shape[-2], :] = band
    return out


@torch.no_grad()
def run_tiled(fn: Fn, x: torch.Tensor, scale: int = 1, tile: int = 512, overlap: int = 32) -> torch.Tensor:
    """x (1, C, H, W) -> fn over overlapping tiles, blended (see the module docstring):
    (1, C', H*scale, W*scale) in fn's dtype."""
    return assemble(tiled_bands(fn, x, scale, tile, overlap), x.shape[-2] * scale)


@torch.no_grad()
def run_ensemble(fn: Fn, x: torch.Tensor) -> torch.Tensor:
    """Mean of fn over the 8 flips/rotations of x (each undone on the output)."""
    return sum(dihedral.inverse(fn(dihedral.transform(x, k)), k) for k in range(8)) / 8
