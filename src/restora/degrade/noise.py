"""Noise models. Sigma is on the 0-255 scale throughout, as in the denoising literature."""
from __future__ import annotations

from typing import Callable

import torch

from restora.errors import RestoraError


def _generator(seed: int | None) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def gaussian_noise(x: torch.Tensor, sigma: float, seed: int | None = 0, clip: bool = True) -> torch.Tensor:
    """x + N(0, (sigma/255)^2). With ``clip=False`` the result is neither clipped nor quantised
    (the benchmark protocol of docs/protocols.md)."""
    if not 0 <= sigma <= 255:
        raise RestoraError(f"sigma {sigma} is outside [0, 255]")
    noisy = x + torch.randn(x.shape, generator=_generator(seed)) * (sigma / 255.0)
    return noisy.clamp(0, 1) if clip else noisy


def poisson_noise(x: torch.Tensor, peak: float = 30.0, seed: int | None = 0) -> torch.Tensor:
    """Shot noise: each pixel becomes Poisson(x * peak) / peak; a lower ``peak`` is noisier."""
    if not peak > 0:
        raise RestoraError(f"poisson peak {peak} must be positive")
    g = _generator(seed)
    return (torch.poisson(x.clamp(0, 1) * peak, generator=g) / peak).clamp(0, 1)


def poisson_gaussian(x: torch.Tensor, peak: float, sigma: float, seed: int | None = 0, gray: bool = False,
                     clip: bool = True) -> torch.Tensor:
    """Signal-dependent (camera) noise: Poisson(x * peak) / peak + N(0, (sigma/255)^2), of variance
    x / peak + (sigma/255)^2 at level x; per channel, or with ``gray`` one noise drawn on the channel
    mean and added to every channel (luminance noise). x (C, H, W) or (N, C, H, W) in [0, 1], the
    same shape out, clipped to [0, 1] unless ``clip=False``."""
    if not peak > 0:
        raise RestoraError(f"poisson-gaussian peak {peak:g} must be positive")
    if not 0 <= sigma <= 255:
        raise RestoraError(f"sigma {sigma} is outside [0, 255]")
    g = _generator(seed)
    base = x.clamp(0, 1).mean(-3, keepdim=True) if gray else x.clamp(0, 1)
    shot = torch.poisson(base * peak, generator=g) / peak - base
    noisy = x + shot + torch.randn(base.shape, generator=g) * (sigma / 255.0)
    return noisy.clamp(0, 1) if clip else noisy


def salt_and_pepper(x: torch.Tensor, amount: float = 0.05, seed: int | None = 0, salt_ratio: float = 0.5,
                    white_pixels: int | None = None) -> torch.Tensor:
    """Set a fraction ``amount`` of pixel positions to white (``salt_ratio`` of them) or black.

    ``white_pixels=N`` instead whitens exactly N distinct positions (the OpenCV demo's "3000 white
    pixels"). All channels of a chosen position change together.
    """
    *lead, h, w = x.shape
    g = _generator(seed)
    out = x.clone()
    flat = out.reshape(-1, h * w)
    if white_pixels is not None:
        if not 0 <= white_pixels <= h * w:
            raise RestoraError(f"{white_pixels} white pixels do not fit in a {w}x{h} image")
        flat[:, torch.randperm(h * w, generator=g)[:white_pixels]] = 1.0
        return out
    if not 0 <= amount <= 1:
        raise RestoraError(f"salt-and-pepper amount {amount} is outside [0, 1]")
    u = torch.rand(h * w, generator=g)
    flat[:, u < amount * salt_ratio] = 1.0
    flat[:, (u >= amount * salt_ratio) & (u < amount)] = 0.0
    return out


def noise_from_spec(spec: str) -> Callable[[torch.Tensor, int | None], torch.Tensor]:
    """Parse noise as the CLI writes it into ``add(x, seed)``: ``gaussian:SIGMA`` (0-255 scale,
    clipped), ``poisson:PEAK``, ``pg:PEAK,SIGMA[,gray]`` (Poisson-Gaussian, see poisson_gaussian),
    ``sp:AMOUNT`` (fraction of pixels) or ``white:COUNT`` (exactly COUNT white pixels). ``add`` maps (C, H, W) or (N, C, H, W) in [0, 1] to the same shape in [0, 1]."""
    name, _, arg = spec.partition(":")
    if name == "pg":
        values, gray = arg.split(","), arg.endswith(",gray")
        try:
            peak, sigma = (float(v) for v in values[:-1 if gray else None])
        except ValueError:
            pass
        else:
            return lambda x, seed: poisson_gaussian(x, peak, sigma, seed, gray=gray)
    try:
        value = float(arg)
    except ValueError:
        value = None
    if value is not None and name == "gaussian":
        return lambda x, seed: gaussian_noise(x, value, seed)
    if value is not None and name == "poisson":
        return lambda x, seed: poisson_noise(x, value, seed)
    if value is not None and name == "sp":
        return lambda x, seed: salt_and_pepper(x, value, seed)
    if value is not None and name == "white" and value.is_integer():
        return lambda x, seed: salt_and_pepper(x, seed=seed, white_pixels=int(value))
    raise RestoraError(f"bad noise '{spec}' (use gaussian:SIGMA, poisson:PEAK, "
                       "pg:PEAK,SIGMA[,gray], sp:AMOUNT or white:COUNT)")
