"""RGB <-> YCbCr, ITU-R BT.601 studio range, as MATLAB's ``rgb2ycbcr`` (the super-resolution
protocol measures and super-resolves the luma Y of this transform).

Tensors are (..., 3, H, W) with RGB in [0, 1]; YCbCr is on the same 0-1 scale: Y in
[16, 235] / 255, Cb and Cr in [16, 240] / 255 (128 / 255 is neutral). Computed in the input's
dtype (pass float64 for metrics).
"""
from __future__ import annotations

import torch

# rows Y, Cb, Cr: 0-255 outputs per unit of R, G, B in [0, 1]
_MATRIX = torch.tensor([[65.481, 128.553, 24.966],
                        [-37.797, -74.203, 112.0],
                        [112.0, -93.786, -18.214]], dtype=torch.float64)
_OFFSET = torch.tensor([16.0, 128.0, 128.0], dtype=torch.float64)
_INVERSE = torch.linalg.inv(_MATRIX)


def rgb_to_ycbcr(x: torch.Tensor, luma_only: bool = False) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> (..., 3, H, W) YCbCr, or (..., 1, H, W) Y with ``luma_only``."""
    rows = 1 if luma_only else 3
    matrix, offset = _MATRIX[:rows].to(x.dtype), _OFFSET[:rows].to(x.dtype)
    return (offset[:, None, None] + torch.einsum("oc,...chw->...ohw", matrix, x)) / 255


def ycbcr_to_rgb(x: torch.Tensor, in_place: bool = False) -> torch.Tensor:
    """(..., 3, H, W) YCbCr (0-1 scale) -> (..., 3, H, W) RGB, not clipped (out-of-gamut values
    fall outside [0, 1]). Converted a band of rows at a time; ``in_place`` writes the result over x
    (no second full-size tensor) and returns it."""
    inverse, offset = _INVERSE.to(x.dtype), _OFFSET.to(x.dtype)
    out = x if in_place else torch.empty_like(x)
    rows = max(1, (1 << 20) // max(1, x.shape[-1]))
    for top in range(0, x.shape[-2], rows):
        band = x[..., top:top + rows, :]
        out[..., top:top + rows, :] = torch.einsum("oc,...chw->...ohw", inverse, band * 255 - offset[:, None, None])
    return out
