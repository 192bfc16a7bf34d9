"""``python -m restora.demo [--out out] [--size 256] [--sigma 25]``: restore a real photo, offline.

Takes scikit-image's bundled ``astronaut`` photo, shrinks it to ``size`` x ``size`` (MATLAB
bicubic), adds Gaussian noise (fixed seed), denoises it with the default denoising method and
writes into the output folder: input.png, degraded.png, restored.png, comparison.png (side by side,
labelled) and metrics.json (PSNR / SSIM of the degraded and the restored image).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont

from restora.cli.common import error_line
from restora.degrade import gaussian_noise, imresize
from restora.errors import RestoraError
from restora.io import Image, to_pil, write_image, write_text_atomic
from restora.methods import get_method
from restora.metrics import psnr, ssim


def astronaut(size: int) -> torch.Tensor:
    """The bundled photo as (3, size, size) in [0, 1], quantised to 8 bits."""
    from skimage import data

    photo = torch.from_numpy(data.astronaut()).permute(2, 0, 1).float() / 255
    return (imresize(photo, size=(size, size)).clamp(0, 1) * 255).round() / 255


def comparison(panels: list[tuple[str, Image]]) -> Image:
    """The images side by side on white, each with its caption above it (8-bit RGB)."""
    font = ImageFont.load_default(size=14)
    pad, caption = 8, 24
    pils = [to_pil(image).convert("RGB") for _, image in panels]
    width = sum(p.width for p in pils) + pad * (len(pils) + 1)
    height = max(p.height for p in pils) + caption + 2 * pad
    sheet = PILImage.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    x = pad
    for (label, _), pil in zip(panels, pils):
        draw.text((x, pad), label, fill="black", font=font)
        sheet.paste(pil, (x, pad + caption))
        x += pil.width + pad
    return Image.from_array(np.asarray(sheet))


def run(out: Path, size: int = 256, sigma: float = 25.0, seed: int = 0) -> dict:
    """Make the demo files in ``out`` and return the metrics written to metrics.json."""
    clean = astronaut(size)
    noisy = (gaussian_noise(clean, sigma, seed=seed) * 255).round() / 255  # what a saved noisy photo holds
    method = get_method("denoise")
    start = time.perf_counter()
    restored = method.restore(noisy, sigma=sigma).clamp(0, 1)
    seconds = time.perf_counter() - start
    results = {"image": f"skimage astronaut, {size}x{size}", "noise": f"gaussian sigma {sigma:g}, seed {seed}",
               "method": method.name, "seconds": round(seconds, 3),
               "degraded": {"psnr": psnr(noisy, clean), "ssim": ssim(noisy, clean)},
               "restored": {"psnr": psnr(restored, clean), "ssim": ssim(restored, clean)}}
    images = {"input": Image(clean), "degraded": Image(noisy), "restored": Image(restored)}
    for name, image in images.items():
        write_image(image, out / f"{name}.png", overwrite=True)
    labels = {"input": "input",
              "degraded": f"noisy, sigma {sigma:g}: {results['degraded']['psnr']:.2f} dB",
              "restored": f"{method.name}: {results['restored']['psnr']:.2f} dB"}
    write_image(comparison([(labels[k], v) for k, v in images.items()]), out / "comparison.png", overwrite=True)
    write_text_atomic(out / "metrics.json", json.dumps(results, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m restora.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: out)")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default: 256)")
    parser.add_argument("--sigma", type=float, default=25.0, help="noise level, 0-255 scale (default: 25)")
    args = parser.parse_args(argv)
    try:
        results = run(args.out, args.size, args.sigma)
    except RestoraError as exc:
        print(error_line(str(exc)), file=sys.stderr)
        sys.exit(2)
    for name in ("degraded", "restored"):
        print(f"{name:9s} PSNR {results[name]['psnr']:6.2f} dB  SSIM {results[name]['ssim']:.4f}")
    print(f"method {results['method']}, {results['seconds']:.2f} s; files in {args.out}/")


if __name__ == "__main__":
    main()
