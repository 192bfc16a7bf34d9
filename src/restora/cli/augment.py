"""``restora augment``: random variants of images with the training engine's augmentations
(restora.augment), deterministic per seed and image, with a preview grid."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import torch
import torch.nn.functional as F
import typer

from restora.augment import OPS, augment, image_seed, parse_ops
from restora.cli.common import Inputs, MaxPixels, Overwrite, Seed, app, make_progress, note
from restora.errors import RestoraError
from restora.generate import image_grid
from restora.io import Image, list_images, read_image, write_image
from restora.io.image import DEFAULT_MAX_PIXELS

THUMB = 128  # preview cell side
PREVIEW_ROWS = 8  # images shown in the preview
PREVIEW_VARIANTS = 8  # variants shown per image


def thumbnail(x: torch.Tensor, side: int = THUMB) -> torch.Tensor:
    """(C, H, W) in [0, 1] -> (3, side, side): fitted inside (aspect kept, antialiased), centred on black."""
    h, w = x.shape[1:]
    f = side / max(h, w)
    th, tw = max(1, round(h * f)), max(1, round(w * f))
    small = F.interpolate(x.expand(3, -1, -1)[None], size=(th, tw), mode="bilinear", antialias=True,
                          align_corners=False)[0]
    top, left = (side - th) // 2, (side - tw) // 2
    return F.pad(small, (left, side - tw - left, top, side - th - top)).clamp(0, 1)


def variant_path(out: Path, rel: Path, k: int) -> Path:
    """Where variant k (1-based) of the input at relative path ``rel`` goes: OUT/rel/../STEM_augKK.png."""
    return out / rel.parent / f"{rel.stem}_aug{k:02d}.png"


@app.command("augment")
def augment_command(
    inputs: Inputs,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (the input tree mirrored).",
                                      show_default=False)],
    n: Annotated[int, typer.Option("-n", help="Variants per image.")] = 8,
    ops: Annotated[str, typer.Option("--ops", help=f"Comma-separated operations, each NAME or NAME=STRENGTH "
                                     f"(names: {', '.join(OPS)}; see restora.augment for what each does).")]
    = "flip,rotate,scale,crop,color",
    seed: Seed = 0,
    preview: Annotated[Optional[Path], typer.Option(help="Preview grid PNG (default OUT/preview.png): a row per "
                                                    f"image (the first {PREVIEW_ROWS}), the original then its "
                                                    "variants.", show_default=False)] = None,
    overwrite: Overwrite = False,
    max_pixels: MaxPixels = DEFAULT_MAX_PIXELS,
) -> None:
    """Write N random variants of each image (PNG, OUT/<path>/<name>_augKK.png) and a preview grid.

    The same operations as training (`classify.augment` in a recipe). The variants of an image
    depend only on --seed and the image's path relative to its input folder, so the same command
    gives the same files, and adding images changes none of the others'. Alpha is not carried.
    """
    if n < 1:
        raise RestoraError(f"-n {n}: give at least 1 variant per image")
    chosen = parse_ops(ops)
    images = list_images(inputs)
    preview = preview or out / "preview.png"
    planned = [variant_path(out, rel, k) for _, rel in images for k in range(1, n + 1)] + [preview]
    if len(set(planned)) < len(planned):
        raise RestoraError("two inputs would write the same outputs (same name but for the extension?)")
    existing = [p for p in planned if p.exists()]
    if existing and not overwrite:
        raise RestoraError(f"{existing[0]}: exists already (pass --overwrite to replace it)")
    cells = []
    with make_progress(len(images) > 1) as progress:
        bar = progress.add_task("augment", total=len(images))
        for i, (src, rel) in enumerate(images):
            x = read_image(src, max_pixels=max_pixels).data
            gen = torch.Generator().manual_seed(image_seed(seed, rel.as_posix()))
            variants = [augment(x[None], chosen, gen)[0] for _ in range(n)]
            for k, v in enumerate(variants, 1):
                write_image(Image(v), variant_path(out, rel, k), overwrite=True)
            if i < PREVIEW_ROWS:
                cells += [thumbnail(t) for t in [x, *variants[:PREVIEW_VARIANTS]]]
            progress.advance(bar)
    columns = 1 + min(n, PREVIEW_VARIANTS)
    write_image(Image(image_grid(torch.stack(cells), columns)), preview, overwrite=True)
    note(f"wrote {n} variants of each of {len(images)} images to {out} ({', '.join(name for name, _ in chosen)}; "
         f"seed {seed}) and the preview {preview}")
