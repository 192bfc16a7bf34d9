"""Plug-and-play deblurring: half-quadratic splitting with a shipped denoiser as the image prior
(IRCNN, Zhang et al. CVPR 2017; DPIR, Zhang et al. TPAMI 2021).

The blurred image y = k * x + n (noise sigma_n) is restored by alternating, for a falling noise
level sigma_1 > ... > sigma_T (log-spaced from 49 to max(sigma_n, 0.255), on the 0-255 scale):

    data step     x = argmin ||y - k * x||^2 + rho_t ||x - z||^2,  rho_t = 0.23 sigma_n^2 / sigma_t^2
                  (closed form in the Fourier domain, the blur taken as circular)
    prior step    z = denoiser(x, sigma_t)

Each prior step sees the image in another of its 8 flips/rotations (undone after), as DPIR does.
Photos are not periodic: with ``boundary=reflect`` the estimate extends beyond the photo by the
kernel's size, and only the photo's pixels are data: the data step then minimises
||M (y - k (*) x)||^2 + rho ||x - z||^2 with M the photo's mask, by conjugate gradients
preconditioned with the circular solution (a few steps suffice), so the wrap-around of the
circular blur falls in the free margin, which is cropped at the end.

With ``boundary=reflect`` a large photo is deblurred in overlapping tiles (option ``tile``), each
solved as a photo of its own and blended with restora.methods.tiling's linear ramps over an overlap
of the kernel's size plus TILE_MARGIN, so memory is bounded by the tile (about 350 bytes per
pixel of the whole photo untiled); a 512x512 photo in tiles of 256 scores within 0.1 dB of the
untiled result (tests/test_deblur.py).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from restora import dihedral, reporting
from restora.degrade.blur import BOUNDARIES
from restora.errors import RestoraError
from restora.methods.base import STRENGTH, Option, blend, register
from restora.methods.registry import get_method
from restora.methods.tasks import Deblurrer, Denoiser, estimate_sigma
from restora.methods.tiling import run_tiled

LAMBDA = 0.23  # DPIR's weight of the prior against the data (its deblurring setting)
SIGMA_START = 49.0  # the first prior step's noise level, 0-255 scale
SIGMA_FLOOR = 0.255  # the lowest noise level the prior is asked for
TILE_MARGIN = 48  # overlap of the tiles beyond the kernel's size, pixels (see the module docstring)

Denoise = Callable[[torch.Tensor, float], torch.Tensor]


def kernel_spectrum(kernel: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The real-input 2-D DFT (H, W // 2 + 1) complex of ``kernel`` (kh, kw) zero-padded to ``size`` and
    rolled so that its centre sits at the origin: multiplying by it is circular convolution."""
    kh, kw = kernel.shape
    padded = torch.zeros(size, dtype=torch.float64)
    padded[:kh, :kw] = kernel.double()
    return torch.fft.rfft2(torch.roll(padded, (-(kh // 2), -(kw // 2)), dims=(0, 1)))


def convolve(x: torch.Tensor, spectrum: torch.Tensor) -> torch.Tensor:
    """Circular convolution of x (C, H, W) with the kernel whose kernel_spectrum is ``spectrum``."""
    return torch.fft.irfft2(torch.fft.rfft2(x.double()) * spectrum, s=x.shape[-2:])


def data_step(blurred_f: torch.Tensor, spectrum: torch.Tensor, z: torch.Tensor, rho: float) -> torch.Tensor:
    """argmin_x ||y - k (*) x||^2 + rho ||x - z||^2 for circular convolution (*): x = F^-1[(conj(K) Y +
    rho Z) / (|K|^2 + rho)]. blurred_f: rfft2(y) (C, H, W // 2 + 1); spectrum: K; z (C, H, W)."""
    numerator = spectrum.conj() * blurred_f + rho * torch.fft.rfft2(z.double())
    return torch.fft.irfft2(numerator / (spectrum.abs() ** 2 + rho), s=z.shape[-2:])


def masked_data_step(y: torch.Tensor, known: torch.Tensor, spectrum: torch.Tensor, z: torch.Tensor, rho: float,
                     steps: int = 5) -> torch.Tensor:
    """argmin_x ||M (y - k (*) x)||^2 + rho ||x - z||^2 (M: ``known`` (H, W) bool, the observed pixels;
    y, z (C, H, W)) by ``steps`` conjugate-gradient steps on the normal equations
    (K^T M K + rho) x = K^T M y + rho z, preconditioned by the circular solution's (|K|^2 + rho)^-1."""
    mask = known.double()

    def normal(v: torch.Tensor) -> torch.Tensor:
        return convolve(mask * convolve(v, spectrum), spectrum.conj()) + rho * v

    def precondition(v: torch.Tensor) -> torch.Tensor:
        return convolve(v, 1 / (spectrum.abs() ** 2 + rho))

    y, z = y.double(), z.double()
    x = z.clone()
    r = convolve(mask * y, spectrum.conj()) + rho * z - normal(x)
    p = precondition(r)
    rz = (r * p).sum()
    for _ in range(steps):
        ap = normal(p)
        alpha = rz / (p * ap).sum()
        x, r = x + alpha * p, r - alpha * ap
        s = precondition(r)
        rz, previous = (r * s).sum(), rz
        p = s + (rz / previous) * p
    return x


def noise_schedule(noise: float, iterations: int) -> list[float]:
    """The prior's noise levels (0-255 scale), log-spaced from SIGMA_START down to the image's noise."""
    end = max(noise, SIGMA_FLOOR)
    return torch.logspace(torch.log10(torch.tensor(SIGMA_START)), torch.log10(torch.tensor(end)),
                          iterations).tolist()


def hqs_deblur(y: torch.Tensor, kernel: torch.Tensor, noise: float, denoise: Denoise, iterations: int = 8,
               flips: bool = True, known: torch.Tensor | None = None) -> torch.Tensor:
    """Restore y (C, H, W) in about [0, 1], blurred circularly by ``kernel`` (kh, kw), summing to 1, with
    Gaussian noise of level ``noise`` (0-255): ``iterations`` data and prior steps (see the module
    docstring); ``denoise(x, sigma)`` is the prior, x (C, H, W), sigma on the 0-255 scale. ``known``
    (H, W) bool marks the observed pixels (default: all, and the circular closed form is used).
    Returns (C, H, W) float32, unclipped."""
    spectrum = kernel_spectrum(kernel, tuple(y.shape[-2:]))
    blurred_f = torch.fft.rfft2(y.double())
    rho_scale = LAMBDA * max(noise, SIGMA_FLOOR) ** 2
    x = y
    for i, sigma in enumerate(noise_schedule(noise, iterations)):
        rho = rho_scale / sigma ** 2
        x = (data_step(blurred_f, spectrum, x, rho) if known is None
             else masked_data_step(y, known, spectrum, x, rho)).float()
        k = i % 8 if flips else 0
        x = dihedral.inverse(denoise(dihedral.transform(x, k), sigma), k)
    return x.float()


def deblur_photo(x: torch.Tensor, kernel: torch.Tensor, noise: float, denoise: Denoise, iterations: int = 8,
                 flips: bool = True, reflect: bool = True) -> torch.Tensor:
    """:func:`hqs_deblur` of x (C, H, W) in one piece: with ``reflect``, mirrored outward by the kernel's
    size (and to fast FFT sizes) with only x's own pixels as data (see the module docstring), else
    blurred circularly. Returns (C, H, W), unclipped."""
    h, w = x.shape[-2:]
    pad = max(kernel.shape) if reflect else 0
    # the far side gets what makes each padded side a multiple of 16 (fast FFT sizes)
    extra = [(-(n + 2 * pad)) % 16 if pad else 0 for n in (h, w)]
    mode = "reflect" if min(h, w) > pad + max(extra) else "replicate"
    y = F.pad(x[None], (pad, pad + extra[1], pad, pad + extra[0]), mode=mode)[0]
    known = torch.zeros(y.shape[-2:], dtype=torch.bool)
    known[pad:pad + h, pad:pad + w] = True
    out = hqs_deblur(y, kernel, noise, denoise, iterations, flips, known if reflect else None)
    return out[:, pad:pad + h, pad:pad + w]


@register
class PlugAndPlay(Deblurrer):
    name = "pnp"
    kind = "learned"
    summary = "Plug-and-play deblurring (DPIR): half-quadratic splitting with the shipped denoiser as the prior"
    priority = 5
    options = (
        Option("iterations", int, 8, "data and prior steps (DPIR: 8)", 1, 100),
        Option("noise", float, None, "noise level of the blurred image on the 0-255 scale; estimated when absent",
               0, 100),
        Option("boundary", str, "reflect", "reflect: mirror the photo outward first (real photos); circular: the "
                                           "blur wrapped around the borders (synthetic benchmarks)"),
        Option("prior", str, "unet-denoiser", "the learned denoiser (restora methods) used as the prior"),
        Option("flips", bool, True, "each prior step on another flip/rotation of the image (DPIR's x8)"),
        Option("tile", int, 1024, "tile side in pixels with boundary=reflect: larger photos are deblurred in "
                                  "overlapping tiles (bounds memory)", 64, 8192),
        STRENGTH,
    )

    def deblur(self, x, kernel, iterations=8, noise=None, boundary="reflect", prior="unet-denoiser", flips=True,
               tile=1024, strength=1.0):
        if boundary not in BOUNDARIES:
            raise RestoraError(f"boundary '{boundary}' is not one of {', '.join(BOUNDARIES)}")
        denoiser = get_method("denoise", prior)
        if denoiser.kind != "learned" or not isinstance(denoiser, Denoiser):
            raise RestoraError(f"the prior must be a learned denoiser, not '{prior}'")
        if noise is None:
            h, w = x.shape[-2:]
            centre = x[:, max(0, h // 2 - 128):h // 2 + 128, max(0, w // 2 - 128):w // 2 + 128]
            noise = estimate_sigma(centre.clamp(0, 1))
        if boundary == "circular":  # the blur wraps around the whole image: one piece
            out = deblur_photo(x, kernel, noise, denoiser.denoise, iterations, flips, reflect=False)
        else:
            def solve(t: torch.Tensor) -> torch.Tensor:  # a tile (1, C, h, w)
                with reporting.inner_loop():
                    return deblur_photo(t[0], kernel, noise, denoiser.denoise, iterations, flips)[None]
            overlap = max(kernel.shape) + TILE_MARGIN
            out = run_tiled(solve, x[None], 1, max(tile, 4 * overlap + 1), overlap)[0]
        return blend(out.clamp_(0, 1), x, strength)
