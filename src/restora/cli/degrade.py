"""``restora degrade``: synthetic damage for experiments and demos."""
from __future__ import annotations

from typing import Annotated, Optional

import typer

from restora.cli.common import Inputs, MaxPixels, Output, Outputs, Overwrite, Seed, SkipExisting, app, run_batch
from restora.degrade import apply_mask, blur, imresize, kernel_from_spec, make_mask, noise_from_spec
from restora.errors import RestoraError
from restora.io import Image
from restora.io.image import DEFAULT_MAX_PIXELS


@app.command()
def degrade(inputs: Inputs, out: Output,
            blur_spec: Annotated[Optional[str], typer.Option("--blur", help="Blur kernel: gaussian:SIGMA, "
                                 "motion:LENGTH,ANGLE, disk:RADIUS or a kernel image; also written as "
                                 "<name>_kernel.png.", show_default=False)] = None,
            downscale: Annotated[Optional[float], typer.Option(help="Shrink by this factor (MATLAB bicubic).",
                                                               show_default=False)] = None,
            noise: Annotated[Optional[str], typer.Option(help="gaussian:SIGMA (0-255), poisson:PEAK, sp:AMOUNT or "
                                                         "white:COUNT.", show_default=False)] = None,
            mask: Annotated[Optional[str], typer.Option(help="Mask kind (center, boxes, strokes, pixels, left, right) "
                                                        "or mask image; holes are filled white and the mask is "
                                                        "written as <name>_mask.png.", show_default=False)] = None,
            seed: Seed = 0, overwrite: Overwrite = False, skip_existing: SkipExisting = False,
            max_pixels: MaxPixels = DEFAULT_MAX_PIXELS) -> None:
    """Damage images: blur, downscale, noise, mask (in that order), deterministic given --seed.

    The order is the usual degradation model y = (x * k) downscaled + n, then holes.
    """
    if not (blur_spec or downscale or noise or mask):
        raise RestoraError("nothing to do: give --blur, --downscale, --noise and/or --mask")
    kernel = kernel_from_spec(blur_spec) if blur_spec else None
    add_noise = noise_from_spec(noise) if noise else None
    if downscale is not None and not downscale > 1:
        raise RestoraError(f"--downscale {downscale} must be greater than 1")

    def step(image: Image) -> Outputs:
        x, alpha, outputs = image.data, image.alpha, {}
        if kernel is not None:
            x = blur(x, kernel)[0]
            outputs["kernel"] = Image(data=(kernel / kernel.max())[None])
        if downscale is not None:
            x = imresize(x, 1 / downscale).clamp(0, 1)
            alpha = None if alpha is None else imresize(alpha, size=tuple(x.shape[1:])).clamp(0, 1)
        if add_noise:
            x = add_noise(x, seed)
        if mask:
            holes = make_mask(mask, *x.shape[1:], seed=seed)
            x = apply_mask(x, holes)
            outputs["mask"] = Image(data=holes)
        return {"": image.with_data(x, alpha), **outputs}

    run_batch(inputs, out, step, overwrite=overwrite, skip_existing=skip_existing, max_pixels=max_pixels,
              description="degrade")
