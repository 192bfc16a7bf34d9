"""Random blur kernels: the families the BSRGAN and Real-ESRGAN degradation models draw from.

Each kernel is (k, k), k odd, non-negative and sums to 1. The Gaussian-like families are functions
of the quadratic form q = x^T S^-1 x of a covariance S with standard deviations (sx, sy) along axes
rotated by theta (Real-ESRGAN's ``bivariate_*`` kernels, basicsr/data/degradations.py):

- gaussian:    exp(-q / 2)
- generalized: exp(-(q / 2)^beta), shape beta (heavier tails below 1, a flatter top above)
- plateau:     1 / (1 + q^beta) (a flat top and slow tails)
- sinc:        the ideal circular low-pass at cutoff omega (ringing, as sharpening and resizing leave)

Isotropic forms take sx = sy. All sampling takes an explicit torch.Generator (deterministic per seed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from restora.errors import RestoraError

def _grid(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    if size < 3 or size % 2 == 0 or size > 101:
        raise RestoraError(f"kernel size {size} must be odd, from 3 to 101")
    r = torch.arange(size, dtype=torch.float64) - size // 2
    return r[None, :].expand(size, size), r[:, None].expand(size, size)


def _quadratic(size: int, sx: float, sy: float, theta: float) -> torch.Tensor:
    """x^T S^-1 x on a size x size grid for std devs (sx, sy) along axes rotated by theta (radians)."""
    if not (0 < sx <= 50 and 0 < sy <= 50):
        raise RestoraError(f"kernel standard deviations ({sx}, {sy}) must be in (0, 50]")
    x, y = _grid(size)
    c, s = math.cos(theta), math.sin(theta)
    u, v = c * x + s * y, -s * x + c * y
    return (u / sx) ** 2 + (v / sy) ** 2


def _normalised(k: torch.Tensor) -> torch.Tensor:
    return (k / k.sum()).float()


def anisotropic_gaussian(size: int, sx: float, sy: float, theta: float = 0.0) -> torch.Tensor:
    return _normalised(torch.exp(-0.5 * _quadratic(size, sx, sy, theta)))


def generalized_gaussian(size: int, sx: float, sy: float, theta: float, beta: float) -> torch.Tensor:
    """exp(-(q/2)^beta), beta in [0.5, 8] (1 is the Gaussian)."""
    if not 0.5 <= beta <= 8:
        raise RestoraError(f"generalized Gaussian shape {beta} must be in [0.5, 8]")
    return _normalised(torch.exp(-(0.5 * _quadratic(size, sx, sy, theta)) ** beta))


def plateau(size: int, sx: float, sy: float, theta: float, beta: float) -> torch.Tensor:
    """1 / (1 + q^beta), beta in [0.5, 8]."""
    if not 0.5 <= beta <= 8:
        raise RestoraError(f"plateau shape {beta} must be in [0.5, 8]")
    return _normalised(1 / (1 + _quadratic(size, sx, sy, theta) ** beta))


def sinc(size: int, cutoff: float) -> torch.Tensor:
    """The circular ideal low-pass at ``cutoff`` (radians per pixel, (0, pi]): omega J1(omega r) / (2 pi r)."""
    from scipy.special import j1

    if not 0 < cutoff <= math.pi:
        raise RestoraError(f"sinc cutoff {cutoff} must be in (0, pi]")
    x, y = _grid(size)
    r = torch.sqrt(x ** 2 + y ** 2)
    k = torch.from_numpy(cutoff * j1((cutoff * r).numpy()) / (2 * math.pi * r.clamp(min=1e-12).numpy()))
    k[size // 2, size // 2] = cutoff ** 2 / (4 * math.pi)
    return _normalised(k)


@dataclass(frozen=True)
class KernelRanges:
    """What :func:`random_kernel` draws from. Defaults: Real-ESRGAN's first degradation
    (options/train_realesrgan_x4plus.yml): sizes 7-21, sigma 0.2-3, generalized beta 0.5-4, plateau
    beta 1-2, family weights iso 0.45 / aniso 0.25 / generalized 0.15 / plateau 0.15, sinc
    instead with probability 0.1 (cutoff pi/3-pi, pi/5-pi for sizes from 13)."""
    sizes: tuple[int, int] = (7, 21)
    sigma: tuple[float, float] = (0.2, 3.0)
    generalized_beta: tuple[float, float] = (0.5, 4.0)
    plateau_beta: tuple[float, float] = (1.0, 2.0)
    weights: tuple[float, float, float, float] = (0.45, 0.25, 0.15, 0.15)  # iso, aniso, generalized, plateau
    sinc: float = 0.1


def uniform(lo: float, hi: float, gen: torch.Generator) -> float:
    """A float drawn from U(lo, hi) with ``gen``."""
    return lo + (hi - lo) * float(torch.rand(1, generator=gen, dtype=torch.float64))


def random_kernel(gen: torch.Generator, ranges: KernelRanges = KernelRanges()) -> torch.Tensor:
    """A kernel drawn from ``ranges`` (see KernelRanges); the generalized and plateau families are
    isotropic or anisotropic with equal odds."""
    size = 2 * int(torch.randint(ranges.sizes[0] // 2, ranges.sizes[1] // 2 + 1, (1,), generator=gen)) + 1
    if float(torch.rand(1, generator=gen)) < ranges.sinc:
        return sinc(size, uniform(math.pi / (5 if size >= 13 else 3), math.pi, gen))
    family = int(torch.multinomial(torch.tensor(ranges.weights), 1, generator=gen))
    sx = uniform(*ranges.sigma, gen)
    anisotropic = family == 1 or (family >= 2 and float(torch.rand(1, generator=gen)) < 0.5)
    sy, theta = (uniform(*ranges.sigma, gen), uniform(0, math.pi, gen)) if anisotropic else (sx, 0.0)
    if family <= 1:
        return anisotropic_gaussian(size, sx, sy, theta)
    if family == 2:
        return generalized_gaussian(size, sx, sy, theta, uniform(*ranges.generalized_beta, gen))
    return plateau(size, sx, sy, theta, uniform(*ranges.plateau_beta, gen))
