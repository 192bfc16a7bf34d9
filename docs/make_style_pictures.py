"""The pictures and timings of docs/style.md: ``python docs/make_style_pictures.py [--out docs/images/style]``.

Run from the repository root with ``RESTORA_DATA`` set (the photos come from the shared data
folder). Writes ``<out>/style.png`` (content, style, result of ``restora style``'s defaults at
``--size``), ``<out>/dream.png`` (an image and the dream after each octave, with ``restora dream``'s
defaults, shown at ``PANEL`` pixels) and, with ``--time``, prints the seconds per 512x512 image of
each with the defaults (one torch thread, wall clock and CPU time). Pictures are saved with a
256-colour palette to stay small.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from restora.demo import comparison  # noqa: E402
from restora.features import load_features  # noqa: E402
from restora.io import Image, read_image, to_pil  # noqa: E402
from restora.stylize import as_rgb, dream, fit_long_side, resize, style_transfer  # noqa: E402

DATA = Path(os.environ.get("RESTORA_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
CONTENT = DATA / "denoise/color/mcmaster/18.png"  # a covered bridge, 500x500
STYLE = DATA / "denoise/color/mcmaster/1.png"  # a stained-glass window: the crop below
STYLE_CROP = (140, 340, 130, 330)  # rows, columns
PANEL = 200  # side of the dream picture's panels
DREAM = DATA / "sr/set5/image_SRF_2/img_001_SRF_2_HR.png"  # Set5's baby, 512x512
STYLE_LEVELS, STYLE_STEPS, DREAM_OCTAVES, DREAM_STEPS = 3, 50, 4, 10  # the commands' defaults


def style_inputs(size: int) -> tuple[torch.Tensor, torch.Tensor]:
    content = fit_long_side(as_rgb(read_image(CONTENT).data), size)
    top, bottom, left, right = STYLE_CROP
    return content, fit_long_side(as_rgb(read_image(STYLE).data)[:, top:bottom, left:right], size)


def save(panels: list[tuple[str, torch.Tensor]], path: Path) -> None:
    sheet = to_pil(comparison([(label, Image(x.clamp(0, 1))) for label, x in panels]))
    sheet.quantize(256, method=PILImage.Quantize.MEDIANCUT).save(path, optimize=True)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB", file=sys.stderr)


def style_picture(out: Path, size: int) -> None:
    content, style = style_inputs(size)
    result = style_transfer(content, style, load_features("random"), steps=STYLE_STEPS, levels=STYLE_LEVELS)
    save([("content (McMaster 18)", content), ("style (McMaster 1, crop)", style),
          ("restora style", result)], out / "style.png")


def dream_picture(out: Path, size: int) -> None:
    image = fit_long_side(as_rgb(read_image(DREAM).data), size)
    octaves: list[torch.Tensor] = []
    dream(image, load_features("dcgan-faces-discriminator"), octaves=DREAM_OCTAVES, steps=DREAM_STEPS,
          callback=lambda octave, step, x: octaves.append(x) if x is not None else None)
    shown = fit_long_side(image, PANEL).shape[1:]
    panels = [("Set5 baby", resize(image, shown))] + [(f"octave {k} ({x.shape[2]} px)", resize(x, shown))
                                                      for k, x in enumerate(octaves, 1)]
    save(panels, out / "dream.png")


def timings() -> None:
    """Seconds for a 512x512 image with each command's defaults (wall clock and CPU time)."""
    content, style = style_inputs(512)
    for name, run in (
            ("style", lambda: style_transfer(content, style, load_features("random"), steps=STYLE_STEPS,
                                             levels=STYLE_LEVELS)),
            ("dream", lambda: dream(content, load_features("dcgan-faces-discriminator"), octaves=DREAM_OCTAVES,
                                    steps=DREAM_STEPS))):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        print(f"{name}: {time.perf_counter() - wall:.1f} s wall, {time.process_time() - cpu:.1f} s CPU, 512x512")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images/style"))
    parser.add_argument("--size", type=int, default=256, help="long side of the pictures (default 256)")
    parser.add_argument("--only", choices=("style", "dream"), help="draw one picture")
    parser.add_argument("--time", action="store_true", help="also time 512x512 images")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.only != "dream":
        style_picture(args.out, args.size)
    if args.only != "style":
        dream_picture(args.out, args.size)
    if args.time:
        timings()


if __name__ == "__main__":
    main()
