"""``restora export``: a shipped restoration model (denoise, upscale, dejpeg, deblur, inpaint) as an ONNX graph
(restora.zoo.onnx)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from restora.cli.common import Overwrite, app, note
from restora.errors import RestoraError

FORMATS = ("onnx",)


@app.command()
def export(
    model: Annotated[str, typer.Argument(help="Restoration model (see `restora models`).", show_default=False)],
    fmt: Annotated[str, typer.Option("--format", help=f"Output format: {', '.join(FORMATS)}.")] = "onnx",
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Output file (default: MODEL.onnx).",
                                                show_default=False)] = None,
    overwrite: Overwrite = False,
) -> None:
    r"""Export a denoise, upscale, dejpeg, deblur or inpaint model as an ONNX graph (needs `pip install 'restora\[onnx]'`).

    Inputs x (N, C, H, W) in \[0, 1] and, for a denoiser, JPEG remover or deblurrer, sigma (N,) on
    the 0-1 scale (noise level; quality / 100), for an inpainter mask (N, 1, H, W), 1 in the hole;
    output y (N, C, H*scale, W*scale), unclamped; batch, height and width are dynamic."""
    from restora.zoo.onnx import export_onnx

    if fmt not in FORMATS:
        raise RestoraError(f"unknown format '{fmt}' (there is: {', '.join(FORMATS)})")
    out = out or Path(f"{model}.{fmt}")
    if out.exists() and not overwrite:
        raise RestoraError(f"{out}: exists already (pass --overwrite to replace it)")
    note(f"wrote {export_onnx(model, out)}")
