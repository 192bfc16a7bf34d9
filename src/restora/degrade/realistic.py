"""Realistic degradation: what a photo goes through before it reaches a restorer, as the
Real-ESRGAN "high-order" model (Wang et al. 2021, options/train_realesrgan_x4plus.yml) draws it,
with BSRGAN's shuffled order (Zhang et al. 2021) as an option.

Each of two stages blurs (a random kernel, restora.degrade.kernels), resizes by a random factor
with a random method (area, bilinear or bicubic, not antialiased: what PyTorch, OpenCV and GPUs do),
adds Gaussian or Poisson noise (per channel or the same in all) and compresses as JPEG. The second
stage's blur is milder and happens with probability 0.8. At the end the image is brought to
1/scale of the input size, followed by a sinc filter (probability 0.8), with the last JPEG before
or after that (even odds). The ranges are Real-ESRGAN's; every draw comes from one torch.Generator,
so a seed gives the same degradation.

Real-ESRGAN's draws are heavy on average, and a network trained on them alone sharpens a clean
small image too much (restora's x4 fell 2 dB below bicubic interpolation on MATLAB-bicubic Set5).
``Realistic.plain`` is the chance of :func:`plain_downscale` instead: one of the common
downscalers alone, sometimes followed by a light JPEG.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from restora.degrade.blur import blur
from restora.degrade.jpeg import jpeg
from restora.degrade.kernels import KernelRanges, random_kernel, sinc, uniform
from restora.degrade.resize import imresize
from restora.errors import RestoraError

RESIZE_MODES = ("area", "bilinear", "bicubic")
PLAIN_QUALITY = (60, 95)  # plain_downscale's JPEG range
PLAIN_JPEG = 0.3  # and its chance


@dataclass(frozen=True)
class Stage:
    """One stage's ranges. ``resize``: probabilities of (up, down, keep); ``up``/``down``: the factor
    ranges; ``gaussian``: the chance the noise is Gaussian (sigma on 0-255 in ``sigma``) rather than
    Poisson (``poisson`` scales Real-ESRGAN's 8-bit shot noise); ``gray_noise``: the chance it is the
    same in every channel; ``quality``: the JPEG range."""
    kernel: KernelRanges
    blur: float
    resize: tuple[float, float, float]
    up: tuple[float, float]
    down: tuple[float, float]
    sigma: tuple[float, float]
    poisson: tuple[float, float]
    gaussian: float = 0.5
    gray_noise: float = 0.4
    quality: tuple[int, int] = (30, 95)


FIRST = Stage(KernelRanges(), blur=1.0, resize=(0.2, 0.7, 0.1), up=(1.0, 1.5), down=(0.15, 1.0),
              sigma=(1, 30), poisson=(0.05, 3.0))
SECOND = Stage(KernelRanges(sigma=(0.2, 1.5)), blur=0.8, resize=(0.3, 0.4, 0.3), up=(1.0, 1.2), down=(0.3, 1.0),
               sigma=(1, 25), poisson=(0.05, 2.5))


@dataclass(frozen=True)
class Realistic:
    """The whole pipeline: ``stages``, the final sinc's probability ``final_sinc``, and ``shuffle``:
    the chance each stage applies blur, resize and noise in a random order (BSRGAN) instead of
    Real-ESRGAN's fixed one; ``plain``: the chance of plain_downscale instead of all that. The second
    stage's resize factors are relative to the final size."""
    stages: tuple[Stage, ...] = field(default=(FIRST, SECOND))
    final_sinc: float = 0.8
    shuffle: float = 0.0
    plain: float = 0.0


def random_resize(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """x (N, C, H, W) resized to ``size`` by ``mode`` (area, bilinear or bicubic, not antialiased)."""
    if mode not in RESIZE_MODES:
        raise RestoraError(f"unknown resize mode '{mode}' (use {', '.join(RESIZE_MODES)})")
    size = (max(1, size[0]), max(1, size[1]))
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(x, size=size, mode=mode, **kwargs).clamp(0, 1)


def add_noise(x: torch.Tensor, stage: Stage, gen: torch.Generator) -> torch.Tensor:
    """Gaussian or Poisson noise as ``stage`` draws it (one draw for the whole batch x (N, C, H, W))."""
    gray = float(torch.rand(1, generator=gen)) < stage.gray_noise
    shape = (x.shape[0], 1, *x.shape[2:]) if gray else x.shape
    if float(torch.rand(1, generator=gen)) < stage.gaussian:
        noise = torch.randn(shape, generator=gen) * uniform(*stage.sigma, gen) / 255
    else:  # Real-ESRGAN's shot noise: Poisson at 256 levels, scaled
        base = x.mean(1, keepdim=True) if gray else x
        noise = (torch.poisson(base * 256, generator=gen) / 256 - base) * uniform(*stage.poisson, gen)
    return (x + noise).clamp(0, 1)


def _resize_step(x: torch.Tensor, stage: Stage, reference: tuple[int, int], gen: torch.Generator) -> torch.Tensor:
    direction = int(torch.multinomial(torch.tensor(stage.resize), 1, generator=gen))
    factor = uniform(*stage.up, gen) if direction == 0 else uniform(*stage.down, gen) if direction == 1 else 1.0
    mode = RESIZE_MODES[int(torch.randint(len(RESIZE_MODES), (1,), generator=gen))]
    return random_resize(x, (round(reference[0] * factor), round(reference[1] * factor)), mode)


def _stage(x: torch.Tensor, stage: Stage, reference: tuple[int, int], shuffle: bool,
           gen: torch.Generator) -> torch.Tensor:
    steps = ["blur", "resize", "noise"]
    if shuffle:
        steps = [steps[i] for i in torch.randperm(3, generator=gen).tolist()]
    for step in steps:
        if step == "blur" and float(torch.rand(1, generator=gen)) < stage.blur:
            x = blur(x, random_kernel(gen, stage.kernel))[0]
        elif step == "resize":
            x = _resize_step(x, stage, reference, gen)
        elif step == "noise":
            x = add_noise(x, stage, gen)
    return jpeg(x, int(torch.randint(stage.quality[0], stage.quality[1] + 1, (1,), generator=gen)))


def plain_downscale(x: torch.Tensor, scale: int, gen: torch.Generator) -> torch.Tensor:
    """x (N, C, H, W) to (N, C, H // scale, W // scale) by one of the common downscalers, drawn:
    MATLAB bicubic (antialiased, as MATLAB's and Pillow's), bicubic or bilinear without antialiasing
    (OpenCV's INTER_CUBIC / INTER_LINEAR, GPUs), or area; then JPEG at PLAIN_QUALITY with chance
    PLAIN_JPEG. 8-bit levels."""
    size = (x.shape[-2] // scale, x.shape[-1] // scale)
    choice = int(torch.randint(len(RESIZE_MODES) + 1, (1,), generator=gen))
    y = imresize(x, size=size).clamp(0, 1) if choice == len(RESIZE_MODES) else random_resize(x, size, RESIZE_MODES[choice])
    if float(torch.rand(1, generator=gen)) < PLAIN_JPEG:
        return jpeg(y, int(torch.randint(PLAIN_QUALITY[0], PLAIN_QUALITY[1] + 1, (1,), generator=gen)))
    return (y * 255).round() / 255


def realistic(x: torch.Tensor, scale: int, gen: torch.Generator, model: Realistic = Realistic()) -> torch.Tensor:
    """x (N, C, H, W) or (C, H, W) in [0, 1], C = 1 or 3, degraded by ``model`` to (N, C, H // scale,
    W // scale) at 8-bit levels. One draw of the pipeline per call: call per image for varied damage."""
    if not 1 <= scale <= 8:
        raise RestoraError(f"realistic degradation scale {scale} must be from 1 to 8")
    batched = x if x.dim() == 4 else x[None]
    h, w = batched.shape[-2:]
    final = (h // scale, w // scale)
    if min(final) < 4:
        raise RestoraError(f"a {w}x{h} image is too small for the realistic degradation at x{scale}")
    if float(torch.rand(1, generator=gen)) < model.plain:
        y = plain_downscale(batched, scale, gen)
        return y if x.dim() == 4 else y[0]
    y = batched
    for i, stage in enumerate(model.stages):
        shuffle = float(torch.rand(1, generator=gen)) < model.shuffle
        y = _stage(y, stage, (h, w) if i == 0 else final, shuffle, gen)

    def to_final(t: torch.Tensor) -> torch.Tensor:
        mode = RESIZE_MODES[int(torch.randint(len(RESIZE_MODES), (1,), generator=gen))]
        t = random_resize(t, final, mode)
        if float(torch.rand(1, generator=gen)) < model.final_sinc:
            size = 2 * int(torch.randint(3, 11, (1,), generator=gen)) + 1
            t = blur(t, sinc(size, uniform(math.pi / 3, math.pi, gen)))[0].clamp(0, 1)
        return t

    quality = int(torch.randint(30, 96, (1,), generator=gen))
    if float(torch.rand(1, generator=gen)) < 0.5:
        y = jpeg(to_final(y), quality)
    else:
        y = (to_final(jpeg(y, quality)) * 255).round() / 255
    return y if x.dim() == 4 else y[0]
