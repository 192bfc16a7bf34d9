"""``restora style`` (neural style transfer, Gatys et al. 2016) and ``restora dream`` (DeepDream), both
on a feature network of restora.features (restora.stylize does the work): by default the random
multi-scale filters for style and the shipped face discriminator for dream, or a torchvision VGG19
weight file with --features."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from restora.cli.common import MaxPixels, Overwrite, app, make_progress, note
from restora.errors import RestoraError
from restora.io import Image, read_image, write_image
from restora.io.image import DEFAULT_MAX_PIXELS

Out = Annotated[Path, typer.Option("--out", "-o", help="Output image file.", show_default=False)]
FEATURES_HELP = ("Feature network: a torchvision VGG19 weight file (.pth or .safetensors), 'random' (multi-scale "
                 "random filters) or 'dcgan-faces-discriminator' (the shipped face GAN's discriminator).")


def _check_out(out: Path, overwrite: bool) -> None:
    """Fail before the long part, not after it."""
    if out.exists() and not overwrite:
        raise RestoraError(f"{out}: exists already (pass --overwrite to replace it)")


def _positive(**values: float) -> None:
    """RestoraError naming the first option that is not > 0."""
    for name, value in values.items():
        if not value > 0:
            raise RestoraError(f"--{name.replace('_', '-')} {value}: must be positive")


@app.command()
def style(
    content: Annotated[Path, typer.Argument(metavar="CONTENT", help="The image whose layout is kept.",
                                            show_default=False)],
    style_image: Annotated[Path, typer.Argument(metavar="STYLE", help="The image whose textures and colours are "
                                                "taken.", show_default=False)],
    out: Out,
    content_weight: Annotated[float, typer.Option(help="Weight of the content loss.")] = 1.0,
    style_weight: Annotated[float, typer.Option(help="Weight of the style loss (both losses are relative to "
                                                "their targets, so the ratio means the same for every network).")]
    = 10.0,
    size: Annotated[int, typer.Option(help="Long side of the result, pixels (the style image is resized to the "
                                      "same long side).")] = 512,
    steps: Annotated[int, typer.Option(help="L-BFGS iterations per level.")] = 50,
    levels: Annotated[int, typer.Option(help="Sizes, coarse to fine: --size / 2**(levels - 1), ..., --size; "
                                        "each starts from the last one's result.")] = 3,
    init: Annotated[str, typer.Option(help="Start from 'content' or 'noise'.")] = "content",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the noise start (--init noise).")] = 0,
    features: Annotated[str, typer.Option(help=FEATURES_HELP)] = "random",
    overwrite: Overwrite = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
) -> None:
    """Paint CONTENT in the style of STYLE: optimise the pixels so that the feature maps of one layer
    match CONTENT's and the Gram matrices of several layers match STYLE's (L-BFGS, coarse to fine).
    Colour output."""
    from restora.features import load_features
    from restora.stylize import as_rgb, fit_long_side, style_transfer

    _positive(size=size, steps=steps, levels=levels)
    if min(content_weight, style_weight) < 0:
        raise RestoraError("--content-weight and --style-weight must not be negative")
    if init not in ("content", "noise"):
        raise RestoraError(f"--init {init}: use 'content' or 'noise'")
    _check_out(out, overwrite)
    net = load_features(features)
    c = fit_long_side(as_rgb(read_image(content, max_pixels=max_pixels).data), size)
    s = fit_long_side(as_rgb(read_image(style_image, max_pixels=max_pixels).data), size)
    with make_progress() as progress:
        bar = progress.add_task("style", total=levels * steps)
        result = style_transfer(c, s, net, steps=steps, content_weight=content_weight, style_weight=style_weight,
                                levels=levels, init=init, seed=seed, callback=lambda step, loss: progress.advance(bar))
    write_image(Image(result), out, overwrite=overwrite)
    note(f"wrote {out} ({result.shape[2]}x{result.shape[1]}, {levels} levels x {steps} steps, features {features})")


@app.command()
def dream(
    image: Annotated[Path, typer.Argument(metavar="IMAGE", help="The image to dream on.", show_default=False)],
    out: Out,
    layer: Annotated[Optional[str], typer.Option(help="Layer whose activations are raised: d1..d4 for the "
                                                 "discriminator (default d2), scale0..scale4 for random (scale3), "
                                                 "conv1_1 ... pool5 for VGG19 (relu4_3).", show_default=False)] = None,
    octaves: Annotated[int, typer.Option(help="Levels of the image pyramid.")] = 4,
    octave_scale: Annotated[float, typer.Option(help="Size ratio between levels.")] = 1.4,
    steps: Annotated[int, typer.Option(help="Gradient steps per octave.")] = 10,
    step_size: Annotated[float, typer.Option(help="Mean change of a pixel per step (0-1 scale).")] = 0.01,
    size: Annotated[Optional[int], typer.Option(help="Resize to this long side first (default: as it is).",
                                                show_default=False)] = None,
    features: Annotated[str, typer.Option(help=FEATURES_HELP)] = "dcgan-faces-discriminator",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random jitter.")] = 0,
    overwrite: Overwrite = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
) -> None:
    """DeepDream: gradient ascent on the mean square of one layer's activations, from the smallest
    octave to the full size, so that the patterns that layer responds to grow in the image."""
    from restora.features import load_features
    from restora.stylize import as_rgb, dream as run_dream, fit_long_side

    _positive(octaves=octaves, steps=steps, step_size=step_size, octave_scale=octave_scale)
    if size is not None:
        _positive(size=size)
    _check_out(out, overwrite)
    net = load_features(features)
    x = as_rgb(read_image(image, max_pixels=max_pixels).data)
    if size:
        x = fit_long_side(x, size)
    with make_progress() as progress:
        bar = progress.add_task("dream", total=octaves * steps)
        result = run_dream(x, net, layer, octaves=octaves, octave_scale=octave_scale, steps=steps,
                           step_size=step_size, seed=seed, callback=lambda *_: progress.advance(bar))
    write_image(Image(result), out, overwrite=overwrite)
    note(f"wrote {out} ({octaves} octaves x {steps} steps, layer {layer or net.dream_layer}, "
         f"features {features})")
