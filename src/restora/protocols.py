"""The evaluation protocols: how each task's benchmark degrades a clean image and scores the result.

One protocol per task, used by everything that reports a figure: ``restora bench``, the training
engine's validation, model cards, ``benchmarks/*.py`` and the tests. docs/protocols.md states them
in words, with the published figures they are compared with.

- denoise (sigma): clean 8-bit image + N(0, sigma^2) noise on the 0-255 scale, seed = seed + image
  index, the noisy image neither clipped nor quantised; PSNR / SSIM on the full image.
- upscale (integer scale s): HR cropped to a multiple of s, LR = MATLAB bicubic imresize(HR, 1/s)
  quantised to 8 bits; PSNR / SSIM on the BT.601 Y channel with an s-pixel border crop. A folder in
  the Set5 layout (``image_SRF_s/*_HR.png``) gives each scale its own HR images.
- inpaint (mask kind): holes filled white, mask seed = seed + image index; full-image PSNR / SSIM.
- deblur (kernel spec): blurred (reflected borders) + Gaussian noise sigma 1 (clipped), seed = seed +
  image index; full-image PSNR / SSIM.
- dejpeg (quality q): the clean 8-bit image compressed by Pillow's libjpeg (the IJG encoder) at q,
  gray as one channel, colour with 4:2:0 chroma; PSNR / SSIM on the full image.
- restore (scale s): HR cropped to a multiple of s, degraded by restora.degrade.realistic (Real-ESRGAN's
  two-stage blur, resize, noise and JPEG, down by s; generator seeded by the image's seed); PSNR /
  SSIM on the BT.601 Y channel with an s-pixel border crop.
- deblurring on Set3C (:func:`circular_blur_case`, the IRCNN / DPIR tables): blurred
  circularly (the image wraps around) + Gaussian noise of a given sigma, neither clipped nor
  quantised; full-image PSNR / SSIM.

Scores are computed on 8-bit images (restora.metrics quantises both sides).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from restora.degrade import apply_mask, blur, gaussian_noise, imresize, jpeg, kernel_from_spec, make_mask
from restora.degrade.realistic import realistic
from restora.errors import RestoraError
from restora.io import list_images, read_image
from restora.metrics import psnr, ssim


@dataclass
class Case:
    """One degraded image. clean: reference (C, H, W) in [0, 1]; degraded: the method input;
    inputs: the task inputs (sigma, scale, mask or kernel); metric: psnr/ssim keywords (y, crop)."""

    clean: torch.Tensor
    degraded: torch.Tensor
    inputs: dict[str, Any]
    metric: dict[str, Any] = field(default_factory=dict)

    def score(self, restored: torch.Tensor) -> tuple[float, float]:
        """(PSNR, SSIM) of a restored image (C, H, W) against the clean one, by the protocol."""
        return psnr(restored, self.clean, **self.metric), ssim(restored, self.clean, **self.metric)


@dataclass(frozen=True)
class Protocol:
    """A task's protocol: ``case(clean, setting, seed) -> Case`` and a one-line ``note`` for tables."""

    case: Callable[[torch.Tensor, Any, int], Case]
    note: str


def quantise(x: torch.Tensor) -> torch.Tensor:
    """To the nearest 8-bit level (after clipping to [0, 1])."""
    return (x.clamp(0, 1) * 255).round() / 255


def _denoise_case(clean: torch.Tensor, sigma: float, seed: int) -> Case:
    return Case(clean, gaussian_noise(clean, sigma, seed, clip=False), {"sigma": sigma})


def integer_scale(scale: float) -> int:
    if scale != int(scale) or scale < 2:
        raise RestoraError(f"the upscale protocol takes integer scales from 2, not {scale:g}")
    return int(scale)


def _upscale_case(clean: torch.Tensor, scale: float, seed: int) -> Case:
    s = integer_scale(scale)
    h, w = clean.shape[1:]
    hr = clean[:, : h - h % s, : w - w % s]
    return Case(hr, quantise(imresize(hr, 1 / s)), {"scale": s}, {"y": True, "crop": s})


def _inpaint_case(clean: torch.Tensor, kind: str, seed: int) -> Case:
    mask = make_mask(kind, *clean.shape[1:], seed=seed)
    return Case(clean, apply_mask(clean, mask), {"mask": mask})


def _deblur_case(clean: torch.Tensor, spec: str, seed: int) -> Case:
    kernel = kernel_from_spec(spec)
    return Case(clean, gaussian_noise(blur(clean, kernel)[0], 1.0, seed), {"kernel": kernel})


def _dejpeg_case(clean: torch.Tensor, quality: float, seed: int) -> Case:
    return Case(clean, jpeg(clean, int(quality)), {"quality": int(quality)})


def _restore_case(clean: torch.Tensor, scale: float, seed: int) -> Case:
    s = int(scale)
    if s != scale or s < 1:
        raise RestoraError(f"the restore protocol takes integer scales from 1, not {scale:g}")
    h, w = clean.shape[1:]
    hr = clean[:, : h - h % s, : w - w % s]
    return Case(hr, realistic(hr, s, torch.Generator().manual_seed(seed)), {"scale": s}, {"y": True, "crop": s})


def circular_blur_case(clean: torch.Tensor, kernel: torch.Tensor, sigma: float, seed: int) -> Case:
    """The Set3C deblurring protocol (Levin's kernels, IRCNN / DPIR): circular blur by ``kernel`` (kh, kw), then Gaussian noise of
    ``sigma`` (0-255 scale), unclipped."""
    blurred = blur(clean, kernel, boundary="circular")[0]
    return Case(clean, gaussian_noise(blurred, sigma, seed, clip=False), {"kernel": kernel})


PROTOCOLS: dict[str, Protocol] = {
    "denoise": Protocol(_denoise_case, "clean 8-bit image + Gaussian noise (sigma on 0-255, unclipped, seed per "
                                       "image); RGB or gray, full image"),
    "upscale": Protocol(_upscale_case, "LR = MATLAB bicubic of HR, 8-bit; Y channel (BT.601), border of `scale` "
                                       "pixels cropped"),
    "inpaint": Protocol(_inpaint_case, "holes filled white (seed per image); full image"),
    "deblur": Protocol(_deblur_case, "blurred + Gaussian noise sigma 1 (seed per image); full image"),
    "restore": Protocol(_restore_case, "realistic damage (restora.degrade.realistic: blur, resize, noise, JPEG; "
                                       "seed per image) down by `scale`; Y channel, border of `scale` cropped"),
    "dejpeg": Protocol(_dejpeg_case, "clean 8-bit image saved as JPEG at the quality by Pillow's libjpeg (IJG), "
                                     "colour with 4:2:0 chroma; full image"),
}


SCALED_TASKS = ("upscale", "restore")  # their setting is a scale: Set5-layout folders give each scale its HR images


def protocol(task: str) -> Protocol:
    if task not in PROTOCOLS:
        raise RestoraError(f"no evaluation protocol for task '{task}' (there are: {', '.join(PROTOCOLS)})")
    return PROTOCOLS[task]


def reference_paths(task: str, data: Path, setting: Any, limit: int | None = None, offset: int = 0) -> list[Path]:
    """The reference images for one setting: ``data/image_SRF_s/*_HR.png`` for the tasks set by a
    scale (SCALED_TASKS) in the Set5 layout, otherwise every image under ``data`` (sorted); ``limit`` of them after skipping ``offset``."""
    if task in SCALED_TASKS and any(data.glob("image_SRF_*")):
        s = integer_scale(max(2, setting))  # scale 1 (restore) reads the x2 folder's HR images
        paths = sorted((data / f"image_SRF_{s}").glob("*_HR.png"))
        if not paths:
            raise RestoraError(f"{data}: no image_SRF_{s}/*_HR.png for scale {s}")
    else:
        paths = [path for path, _ in list_images([data])]
    if offset >= len(paths):
        raise RestoraError(f"{data}: offset {offset} skips all {len(paths)} images")
    return paths[offset:][:limit]


def read_reference(path: Path) -> torch.Tensor:
    """A reference image as the protocols take it: (C, H, W) in [0, 1] at 8-bit levels."""
    return quantise(read_image(path).data)


def evaluate(restore: Callable[..., torch.Tensor], task: str, images: list[torch.Tensor], setting: Any,
             seed: int = 0) -> tuple[float, float]:
    """Mean (PSNR, SSIM) of ``restore(degraded, **inputs)`` over ``images`` (clean references, each
    (C, H, W) in [0, 1]) degraded by the task's protocol at ``setting``, image i with seed + i."""
    cases = [protocol(task).case(clean, setting, seed + i) for i, clean in enumerate(images)]
    pairs = [case.score(restore(case.degraded, **case.inputs)) for case in cases]
    return sum(p for p, _ in pairs) / len(pairs), sum(s for _, s in pairs) / len(pairs)
