"""The README's before/after pictures: ``python docs/make_pictures.py [TASK ...] [--out docs/images]``.

Run from the repository root (``.venv/bin/python docs/make_pictures.py``). Each task takes a crop of
one of scikit-image's bundled photos (always installed), damages it with restora.degrade (fixed
seeds), repairs it with restora's own Python API (the task's default method) and writes
``<out>/<task>.png``: the input and the output side by side, labelled, with PSNR against the clean
crop where there is one. One CPU thread; a few seconds per picture.

Tasks: denoise, upscale, inpaint and deblur (drawn when no task is named), restore, dejpeg, and
realworld: a real camera JPEG (a crop of CBSD432's 100075.jpg, from $RESTORA_DATA) enlarged x2 by
bicubic interpolation, the bicubic-trained compact-sr and ``restora restore --scale 2``.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from skimage import data as skdata  # noqa: E402

import restora  # noqa: E402
from restora.degrade import blur, gaussian_noise, imresize, jpeg, kernel_from_spec, make_mask, apply_mask  # noqa: E402
from restora.demo import comparison  # noqa: E402
from restora.io import Image, to_pil  # noqa: E402
from restora.metrics import psnr  # noqa: E402

SIDE = 248  # panel side: two panels and the margins make 520 pixels
DEFAULT_TASKS = ("denoise", "upscale", "inpaint", "deblur")
ALL_TASKS = DEFAULT_TASKS + ("restore", "dejpeg", "realworld")


def photo(name: str, top: int, left: int, side: int = SIDE) -> torch.Tensor:
    """A ``side`` x ``side`` crop of a bundled scikit-image photo, (C, H, W) in [0, 1] at 8-bit levels."""
    array = getattr(skdata, name)()[top:top + side, left:left + side]
    return Image.from_array(array).data


def eight_bit(x: torch.Tensor) -> torch.Tensor:
    """What a saved file holds: clipped and rounded to 256 levels."""
    return (x.clamp(0, 1) * 255).round() / 255


def as_tensor(x: Image | torch.Tensor) -> torch.Tensor:
    return x.data if isinstance(x, Image) else x


def db(x: torch.Tensor, clean: torch.Tensor) -> str:
    return f"{psnr(x.clamp(0, 1), clean):.1f} dB"


def via_jpeg(x: torch.Tensor, quality: int, folder: Path) -> Image:
    """``x`` saved as a JPEG file and read back, so the quality comes from the file as for a user's photo."""
    path = folder / "photo.jpg"
    to_pil(Image(x)).save(path, "JPEG", quality=quality, subsampling="4:2:0")  # as restora.degrade.jpeg codes
    return restora.read_image(path)


def denoise() -> list[tuple[str, torch.Tensor]]:
    clean = photo("astronaut", 20, 130)
    noisy = eight_bit(gaussian_noise(clean, 25, seed=0))
    out = as_tensor(restora.denoise(noisy))  # sigma estimated, as for a photo of unknown noise
    return [(f"noisy (sigma 25), {db(noisy, clean)}", noisy), (f"restora denoise, {db(out, clean)}", out)]


def upscale() -> list[tuple[str, torch.Tensor]]:
    clean = photo("coffee", 60, 150, 240)
    small = eight_bit(imresize(clean, 1 / 3))  # MATLAB bicubic, 80 x 80
    out = as_tensor(restora.upscale(small, scale=3))
    shown = small.repeat_interleave(3, 1).repeat_interleave(3, 2)  # the input's own pixels, repeated
    return [(f"input {small.shape[2]}x{small.shape[1]} (pixels x3)", shown),
            (f"restora upscale --scale 3, {db(out, clean)}", out)]


def inpaint() -> list[tuple[str, torch.Tensor]]:
    clean = photo("chelsea", 30, 100)
    mask = make_mask("boxes", *clean.shape[1:], seed=3)
    holed = apply_mask(clean, mask)
    out = as_tensor(restora.inpaint(holed, mask=mask))
    return [(f"white holes (mask), {db(holed, clean)}", holed), (f"restora inpaint, {db(out, clean)}", out)]


def deblur() -> list[tuple[str, torch.Tensor]]:
    clean = photo("camera", 40, 150)
    blurred, _ = blur(clean, kernel_from_spec("gaussian:2"))
    blurred = eight_bit(gaussian_noise(blurred, 2, seed=0))
    out = as_tensor(restora.deblur(blurred, kernel="gaussian:2"))
    return [(f"blur gaussian:2 + noise, {db(blurred, clean)}", blurred),
            (f"restora deblur, {db(out, clean)}", out)]


def restore() -> list[tuple[str, torch.Tensor]]:
    clean = photo("coffee", 40, 120)
    with tempfile.TemporaryDirectory() as folder:
        image = via_jpeg(eight_bit(gaussian_noise(clean, 8, seed=0)), 30, Path(folder))
        out = as_tensor(restora.restore(image))
    return [(f"noise + JPEG q30, {db(image.data, clean)}", image.data), (f"restora restore, {db(out, clean)}", out)]


def dejpeg() -> list[tuple[str, torch.Tensor]]:
    clean = photo("astronaut", 20, 130)
    with tempfile.TemporaryDirectory() as folder:
        image = via_jpeg(clean, 20, Path(folder))
        out = as_tensor(restora.dejpeg(image))  # the quality read from the file
    assert torch.equal(image.data, jpeg(clean, 20))  # the file holds what restora.degrade.jpeg makes
    return [(f"JPEG quality 20, {db(image.data, clean)}", image.data), (f"restora dejpeg, {db(out, clean)}", out)]


def realworld() -> list[tuple[str, torch.Tensor]]:
    from restora.train.data import resolve_data_path

    image = restora.read_image(resolve_data_path("$RESTORA_DATA/denoise/color/cbsd432/100075.jpg"))
    crop = image.data[:, 150:250, 200:300]
    shown = torch.nn.functional.interpolate(crop[None], scale_factor=2, mode="nearest")[0]
    return [(f"camera JPEG (q{image.jpeg_quality}), x2 pixels", shown),
            ("bicubic", restora.upscale(crop, scale=2, method="bicubic")),
            ("compact-sr", restora.upscale(crop, scale=2, method="compact-sr")),
            ("restora restore --scale 2", restora.restore(crop, scale=2, quality=image.jpeg_quality))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", metavar="TASK",
                        help=f"{', '.join(ALL_TASKS)} (default: {' '.join(DEFAULT_TASKS)})")
    parser.add_argument("--out", type=Path, default=Path("docs/images"), help="output folder (default: docs/images)")
    args = parser.parse_args(argv)
    unknown = set(args.tasks) - set(ALL_TASKS)
    if unknown:
        parser.error(f"unknown task {', '.join(sorted(unknown))} (use {', '.join(ALL_TASKS)})")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    for task in args.tasks or DEFAULT_TASKS:
        panels = globals()[task]()
        sheet = comparison([(label, Image(x.clamp(0, 1))) for label, x in panels])
        path = args.out / f"{task}.png"
        to_pil(sheet).save(path, optimize=True)
        print(f"{path}: {path.stat().st_size / 1024:.0f} KB", file=sys.stderr)


if __name__ == "__main__":
    main()
