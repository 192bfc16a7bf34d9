"""``restora restore``: a photo as it comes, repaired in the order its damage happened, undone.

A camera adds noise, then the file is saved as JPEG, perhaps enlarged or shrunk on the way. So:

1. JPEG artefacts: the quality is read from the file's quantisation tables (restora.io.jpeg); for
   an image that is no JPEG file any more (a PNG screenshot of one) the 8x8 block edges are measured
   (:func:`blockiness`) and, when they show, the artefacts are removed blind. Qualities from
   HIGH_QUALITY up leave nothing visible and are passed over.
2. Noise: its level is estimated after the JPEG repair (restora.methods.tasks.estimate_sigma) and
   removed when it is at least NOISE_FLOOR.
3. Enlarging (``scale`` > 1): the real-world upscaler (REAL_WORLD, trained on realistic damage and
   any common downscaler), or the default upscaler when that is not in the zoo.

Each step is the task's default method (restora.methods.registry), so a better model shipped for a
task improves this too.
"""
from __future__ import annotations

import torch

from restora import reporting
from restora.degrade import imresize
from restora.degrade.resize import scaled_size
from restora.methods.base import STRENGTH, blend, register
from restora.methods.registry import get_method, list_methods
from restora.methods.tasks import MIN_ESTIMATE_SIDE, PhotoRepairer, estimate_sigma

HIGH_QUALITY = 96  # JPEG qualities from here on are left alone
NOISE_FLOOR = 3.0  # estimated noise levels (0-255) below this are left alone: the estimate of a clean photo
BLOCKY = 1.12  # blockiness from which an image with no JPEG tables is repaired as a JPEG (see blockiness)
REAL_WORLD = "compact-sr-real"


def blockiness(x: torch.Tensor) -> float:
    """How much stronger the steps between neighbouring pixels are on one column (and row) in
    eight than on the others, for the best of the eight offsets, the lower of columns and rows:
    1.00-1.03 for photos, 1.15-1.5 for JPEGs of quality 50, 1.7-2.8 at quality 10 (McMaster, Set5). x (C, H, W) in [0, 1]; 1.0 for images under 32 pixels a side."""
    if min(x.shape[-2:]) < 32:
        return 1.0
    luma = x.mean(0)
    ratios = []
    for steps in ((luma[:, 1:] - luma[:, :-1]).abs().mean(0), (luma[1:] - luma[:-1]).abs().mean(1)):
        per_phase = torch.stack([steps[k::8][: len(steps) // 8].mean() for k in range(8)])
        ratios.append(float(per_phase.max() / per_phase.median().clamp(min=1e-6)))
    return min(ratios)


@register
class AutoRestore(PhotoRepairer):
    name = "auto"
    kind = "pipeline"
    priority = 10
    summary = "JPEG repair (quality from the file or detected), denoising when noise remains, real-world upscaling"
    options = (STRENGTH,)

    def repair(self, x, quality, scale, explain, strength=1.0):
        say = reporting.note if explain else (lambda message: None)
        y = x
        if quality is None:
            blocks = blockiness(x)
            if blocks >= BLOCKY:
                say(f"no JPEG tables, but 8x8 block edges {blocks:.2f}x the others: JPEG artefacts removed blind")
                y = self.step("dejpeg", y, say, quality=None)
            else:
                say(f"not a JPEG (block edges {blocks:.2f}x the others): no JPEG repair")
        elif quality < HIGH_QUALITY:
            say(f"JPEG quality {quality}: artefacts removed")
            y = self.step("dejpeg", y, say, quality=quality)
        else:
            say(f"JPEG quality {quality}: high enough to leave alone")
        sigma = estimate_sigma(y) if min(y.shape[-2:]) >= MIN_ESTIMATE_SIDE else 0.0  # too few pixels to tell
        if sigma >= NOISE_FLOOR:
            say(f"noise level {sigma:.1f} (0-255) estimated: removed")
            y = self.step("denoise", y, say, sigma=sigma)
        else:
            say(f"noise level {sigma:.1f} (0-255) estimated: below {NOISE_FLOOR:g}, left alone")
        if scale > 1:
            real = any(m["name"] == REAL_WORLD for m in list_methods("upscale"))
            y = self.step("upscale", y, say, REAL_WORLD if real else None, scale=scale)
        if strength < 1:
            say(f"applied at strength {strength:g}")
            y = blend(y, x if scale == 1 else imresize(x, size=scaled_size(tuple(x.shape[1:]), scale)), strength)
        return y.clamp(0, 1)

    @staticmethod
    def step(task: str, x: torch.Tensor, say, method: str | None = None, **inputs) -> torch.Tensor:
        restorer = get_method(task, method)
        say(f"{task}: {restorer.name}" + "".join(f", {k} {v:g}" for k, v in inputs.items() if v is not None))
        return restorer.restore(x, **inputs).clamp(0, 1)
