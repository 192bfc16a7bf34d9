"""``restora degrade``: synthetic damage for experiments and demos."""
from __future__ import annotations

from typing import Annotated, Optional

import torch
import typer

from restora.cli.common import (Inputs, MaxPixels, Output, Outputs, Overwrite, Seed, SkipExisting, app, parse_list,
                                run_batch)
from restora.degrade import (apply_mask, blur, double_jpeg, imresize, jpeg, kernel_from_spec, make_mask,
                             noise_from_spec)
from restora.degrade.jpeg import BLOCK
from restora.degrade.realistic import realistic
from restora.errors import RestoraError
from restora.io import Image
from restora.io.jpeg import check_quality
from restora.io.image import DEFAULT_MAX_PIXELS


@app.command()
def degrade(inputs: Inputs, out: Output,
            blur_spec: Annotated[Optional[str], typer.Option("--blur", help="Blur kernel: gaussian:SIGMA, "
                                 "motion:LENGTH,ANGLE, disk:RADIUS, aniso:SX,SY[,ANGLE], "
                                 "generalized:SX,SY,ANGLE,BETA, plateau:SX,SY,ANGLE,BETA, sinc:CUTOFF[,SIZE], "
                                 "random:SEED or a kernel image; also written as <name>_kernel.png.",
                                 show_default=False)] = None,
            downscale: Annotated[Optional[float], typer.Option(help="Shrink by this factor (MATLAB bicubic).",
                                                               show_default=False)] = None,
            noise: Annotated[Optional[str], typer.Option(help="gaussian:SIGMA (0-255), poisson:PEAK, "
                                                         "pg:PEAK,SIGMA[,gray] (Poisson-Gaussian), sp:AMOUNT or "
                                                         "white:COUNT.", show_default=False)] = None,
            mask: Annotated[Optional[str], typer.Option(help="Mask kind (center, boxes, strokes, pixels, left, right) "
                                                        "or mask image; holes are filled white and the mask is "
                                                        "written as <name>_mask.png.", show_default=False)] = None,
            jpeg_spec: Annotated[Optional[str], typer.Option("--jpeg", help="JPEG quality Q (1-100), applied last; "
                                 "Q1,Q2: double JPEG, at Q1 on a block grid shifted by (dy, dx) in 0-7 drawn by "
                                 "--seed, then at Q2.", show_default=False)] = None,
            realistic_scale: Annotated[Optional[int], typer.Option("--realistic", help="Real-ESRGAN's two-stage "
                                       "random degradation (blur, resize, noise, JPEG, twice) to 1/SCALE of the size "
                                       "(SCALE 1-8), drawn by --seed; replaces --blur, --downscale and --noise.",
                                       show_default=False)] = None,
            seed: Seed = 0, overwrite: Overwrite = False, skip_existing: SkipExisting = False,
            max_pixels: MaxPixels = DEFAULT_MAX_PIXELS) -> None:
    """Damage images: blur, downscale, noise, mask, JPEG (in that order), deterministic given --seed.

    The order is the usual degradation model y = (x * k) downscaled + n, then holes, then JPEG
    compression. --realistic draws blur, resize, noise and JPEG at random instead (Real-ESRGAN), as
    training sets for real photos are made. The JPEG damage is kept as it is in a .png output (a
    .jpg output is compressed once more, at 95); with --jpeg or --realistic, the outputs of JPEG
    inputs in a folder are PNG.
    """
    if not (blur_spec or downscale or noise or mask or jpeg_spec or realistic_scale):
        raise RestoraError("nothing to do: give --blur, --downscale, --noise, --mask, --jpeg and/or --realistic")
    if realistic_scale is not None and (blur_spec or downscale or noise):
        raise RestoraError("--realistic replaces --blur, --downscale and --noise: give it alone or with "
                           "--mask and --jpeg")
    if realistic_scale is not None and not 1 <= realistic_scale <= 8:
        raise RestoraError(f"--realistic {realistic_scale} must be an integer scale from 1 to 8")
    kernel = kernel_from_spec(blur_spec) if blur_spec else None
    add_noise = noise_from_spec(noise) if noise else None
    if downscale is not None and not downscale > 1:
        raise RestoraError(f"--downscale {downscale} must be greater than 1")
    qualities = [check_quality(q) for q in parse_list(jpeg_spec, int, "JPEG quality")] if jpeg_spec else []
    if len(qualities) > 2:
        raise RestoraError(f"--jpeg {jpeg_spec}: give one quality Q or two, Q1,Q2 (double JPEG)")
    shift = tuple(torch.randint(0, BLOCK, (2,), generator=torch.Generator().manual_seed(seed)).tolist())

    def step(image: Image) -> Outputs:
        x, alpha, outputs = image.data, image.alpha, {}
        if realistic_scale is not None:
            x = realistic(x, realistic_scale, torch.Generator().manual_seed(seed))
        if kernel is not None:
            x = blur(x, kernel)[0]
            outputs["kernel"] = Image(data=(kernel / kernel.max())[None])
        if downscale is not None:
            x = imresize(x, 1 / downscale).clamp(0, 1)
        if alpha is not None and x.shape[1:] != alpha.shape[1:]:
            alpha = imresize(alpha, size=tuple(x.shape[1:])).clamp(0, 1)
        if add_noise:
            x = add_noise(x, seed)
        if mask:
            holes = make_mask(mask, *x.shape[1:], seed=seed)
            x = apply_mask(x, holes)
            outputs["mask"] = Image(data=holes)
        if qualities:
            x = jpeg(x, qualities[0]) if len(qualities) == 1 else double_jpeg(x, *qualities, shift)
        return {"": image.with_data(x, alpha), **outputs}

    run_batch(inputs, out, step, overwrite=overwrite, skip_existing=skip_existing, max_pixels=max_pixels,
              description="degrade", lossless=bool(qualities or realistic_scale))
