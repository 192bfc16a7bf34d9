"""The 8 flips/rotations of the dihedral group on images, and their inverses.

Training augments patches with them; inference averages a network over them (the x8
self-ensemble). ``k`` in 0..7: k >= 4 flips left-right first, then k % 4 quarter turns.
Both work on any tensor (..., H, W).
"""
from __future__ import annotations

import torch


def transform(x: torch.Tensor, k: int) -> torch.Tensor:
    """The k-th flip/rotation of ``x`` (..., H, W)."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def inverse(y: torch.Tensor, k: int) -> torch.Tensor:
    """Undo :func:`transform`: ``inverse(transform(x, k), k) == x``."""
    y = torch.rot90(y, -(k % 4), dims=(-2, -1))
    return y.flip(-1) if k >= 4 else y
