"""``restora generate``: sample grids and latent interpolation strips from a shipped generator."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from restora.cli.common import Overwrite, app, note
from restora.io import Image, write_image

DEFAULT_SAMPLES = 64
DEFAULT_ROWS = 8


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output image (PNG).", show_default=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="Shipped generator (see `restora models`).")]
    = "dcgan-faces",
    n: Annotated[Optional[int], typer.Option("-n", help=f"Samples in the grid (default {DEFAULT_SAMPLES}), or rows "
                                             f"with --interpolate (default {DEFAULT_ROWS}).", min=1,
                                             show_default=False)] = None,
    interpolate: Annotated[bool, typer.Option("--interpolate", help="Rows of spherical interpolations between "
                                              "two random z each, instead of independent samples.")] = False,
    steps: Annotated[int, typer.Option(help="Images per interpolation row.", min=2)] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random latent codes z.")] = 0,
    overwrite: Overwrite = False,
) -> None:
    """Sample a generator: a grid of images from random z, or latent interpolation strips."""
    from restora.generate import grid_columns, image_grid
    from restora.generate import interpolate as interpolation
    from restora.generate import sample

    if interpolate:
        images, columns = interpolation(model, n or DEFAULT_ROWS, steps, seed), steps
    else:
        images = sample(model, n or DEFAULT_SAMPLES, seed)
        columns = grid_columns(len(images))
    write_image(Image(image_grid(images, columns)), out, overwrite=overwrite)
    note(f"wrote {out} ({len(images)} images from {model}, seed {seed})")
