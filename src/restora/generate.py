"""Sampling a shipped generator: image grids and latent interpolation strips.

A generator is a network with ``latent`` (the dimension of z) and ``generate(z)``: z (N, latent),
z ~ N(0, I) -> images (N, C, h, w) in [0, 1]. Both the DCGAN generator (restora.nets.gan) and the
VAE (its decoder, restora.nets.autoencoders) are generators.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from restora.errors import RestoraError
from restora.zoo import load_shipped


def image_grid(images: torch.Tensor, columns: int = 8, gap: int = 2) -> torch.Tensor:
    """(N, C, h, w) in [0, 1] -> one image (C, rows*(h+gap)+gap, columns*(w+gap)+gap): the images row
    by row on black, ``gap`` pixels apart (empty cells stay black)."""
    n, c, h, w = images.shape
    rows = -(-n // columns)
    cells = torch.zeros(rows * columns, c, h + gap, w + gap)
    cells[:n, :, gap:, gap:] = images.float().cpu().clamp(0, 1)
    grid = cells.view(rows, columns, c, h + gap, w + gap).permute(2, 0, 3, 1, 4)
    return F.pad(grid.reshape(c, rows * (h + gap), columns * (w + gap)), (0, gap, 0, gap))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between latent codes a, b (N, d) at fractions t (S,) -> (N, S, d);
    keeps the norm typical of Gaussian z, unlike a straight line (White 2016)."""
    cos = F.cosine_similarity(a, b, dim=1).clamp(-1, 1)[:, None, None]
    omega = torch.acos(cos)
    t = t[None, :, None]
    straight = omega.abs() < 1e-4  # (anti)parallel codes: fall back to the straight line
    sin = torch.where(straight, torch.ones_like(omega), torch.sin(omega))
    wa = torch.where(straight, 1 - t, torch.sin((1 - t) * omega) / sin)
    wb = torch.where(straight, t, torch.sin(t * omega) / sin)
    return wa * a[:, None] + wb * b[:, None]


def load_generator(model: str) -> torch.nn.Module:
    """The shipped model ``model``, checked to be a generator (it has ``latent`` and ``generate``)."""
    net = load_shipped(model)
    if not hasattr(net, "generate"):
        raise RestoraError(f"model '{model}' is not a generator (see `restora models`, task generate)")
    return net


@torch.no_grad()
def sample(model: str, n: int, seed: int = 0) -> torch.Tensor:
    """``n`` images (n, C, h, w) in [0, 1] from the shipped generator ``model``, z from ``seed``."""
    if n < 1:
        raise RestoraError(f"number of samples {n} must be at least 1")
    generator = load_generator(model)
    return generator.generate(torch.randn(n, generator.latent, generator=torch.Generator().manual_seed(seed)))


@torch.no_grad()
def interpolate(model: str, rows: int, steps: int = 10, seed: int = 0) -> torch.Tensor:
    """``rows`` spherical interpolations of ``steps`` images each between random pairs of z:
    (rows * steps, C, h, w) in [0, 1], row by row."""
    if rows < 1 or steps < 2:
        raise RestoraError(f"an interpolation needs at least 1 row and 2 steps (got {rows} and {steps})")
    generator = load_generator(model)
    z = torch.randn(2, rows, generator.latent, generator=torch.Generator().manual_seed(seed))
    path = slerp(z[0], z[1], torch.linspace(0, 1, steps))
    return generator.generate(path.reshape(rows * steps, -1))


def grid_columns(n: int) -> int:
    """Columns of a near-square grid of n images (8 for 64)."""
    return math.ceil(math.sqrt(n))
