"""Real-world super-resolution: the shipped upscalers on low-resolution images made by the common
downscalers, and on realistic damage.

(1) Downscalers: HR (Set5's HR images; McMaster) cropped to a multiple of the scale, LR made by
MATLAB bicubic (antialiased, the SR protocol), OpenCV INTER_CUBIC / INTER_LINEAR / INTER_AREA, and
Pillow BICUBIC (antialiased), quantised to 8 bits; each method enlarges it back. PSNR / SSIM on the
BT.601 Y channel with a border of `scale` pixels cropped (the upscale protocol's metric).
(2) Realistic damage: the ``restore`` protocol (restora.protocols: Real-ESRGAN's two-stage blur,
resize, noise and JPEG, seed per image) at x2 and x4: the upscalers, and ``restora restore``.

    python benchmarks/realworld_sr.py [--methods bicubic,compact-sr,compact-sr-real] [--quick]

Writes benchmarks/results/realworld_sr.md. Needs $RESTORA_DATA (default ../shared/data).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from PIL import Image as PILImage

from speed import write_markdown
from restora.degrade import imresize
from restora.methods import get_method, list_methods
from restora.metrics import psnr, ssim
from restora.protocols import evaluate, quantise, read_reference, reference_paths
from restora.train.data import resolve_data_path

RESULTS = Path(__file__).parent / "results"
SCALES = (2, 4)


def _cv2(flag: int) -> Callable[[torch.Tensor, int], torch.Tensor]:
    def down(hr: torch.Tensor, s: int) -> torch.Tensor:
        array = hr.permute(1, 2, 0).numpy()
        small = cv2.resize(array, (hr.shape[2] // s, hr.shape[1] // s), interpolation=flag)
        return torch.from_numpy(small.reshape(*small.shape[:2], -1)).permute(2, 0, 1)
    return down


def _pillow(hr: torch.Tensor, s: int) -> torch.Tensor:
    array = (hr.permute(1, 2, 0) * 255).round().byte().numpy()
    pil = PILImage.fromarray(array[..., 0] if hr.shape[0] == 1 else array)
    small = np.asarray(pil.resize((hr.shape[2] // s, hr.shape[1] // s), PILImage.BICUBIC), dtype=np.float32) / 255
    return torch.from_numpy(small.reshape(*small.shape[:2], -1)).permute(2, 0, 1)


DOWNSCALERS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "MATLAB bicubic": lambda hr, s: imresize(hr, 1 / s),
    "OpenCV cubic": _cv2(cv2.INTER_CUBIC),
    "OpenCV linear": _cv2(cv2.INTER_LINEAR),
    "OpenCV area": _cv2(cv2.INTER_AREA),
    "Pillow bicubic": _pillow,
}


def datasets(quick: bool) -> dict[str, Callable[[int], list[torch.Tensor]]]:
    """Name -> function of the scale giving the HR images (C, H, W) at 8-bit levels."""
    set5 = resolve_data_path("$RESTORA_DATA/sr/set5")
    mcmaster = resolve_data_path("$RESTORA_DATA/denoise/color/mcmaster")
    limit = 2 if quick else None
    return {"Set5": lambda s: [read_reference(p) for p in reference_paths("upscale", set5, s, limit)],
            "McMaster": lambda s: [read_reference(p) for p in reference_paths("upscale", mcmaster, s, limit or 6)]}


def score(restore, lr: torch.Tensor, hr: torch.Tensor, s: int) -> tuple[float, float]:
    out = restore(lr, scale=s)
    return psnr(out, hr, y=True, crop=s), ssim(out, hr, y=True, crop=s)


def downscaler_rows(methods: list[str], quick: bool) -> list[list[str]]:
    rows = []
    for data, images_at in datasets(quick).items():
        for s in SCALES:
            images = images_at(s)
            hrs = [hr[:, : hr.shape[1] - hr.shape[1] % s, : hr.shape[2] - hr.shape[2] % s] for hr in images]
            for down_name, down in DOWNSCALERS.items():
                lrs = [quantise(down(hr, s)) for hr in hrs]
                row = [data, f"x{s}", down_name]
                for name in methods:
                    restore = get_method("upscale", name).restore
                    pairs = [score(restore, lr, hr, s) for lr, hr in zip(lrs, hrs)]
                    row.append(f"{np.mean([p for p, _ in pairs]):.2f} / {np.mean([q for _, q in pairs]):.4f}")
                rows.append(row)
                print(" | ".join(row), flush=True)
    return rows


def realistic_rows(methods: list[str], quick: bool) -> list[list[str]]:
    rows = []
    for data, images_at in datasets(quick).items():
        for s in SCALES:
            images = images_at(s)
            row = [data, f"x{s}"]
            for name in methods:
                p, q = evaluate(get_method("upscale", name).restore, "restore", images, s)
                row.append(f"{p:.2f} / {q:.4f}")
            p, q = evaluate(get_method("restore", "auto").restore, "restore", images, s)
            rows.append(row + [f"{p:.2f} / {q:.4f}"])
            print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shipped = [m["name"] for m in list_methods("upscale")]
    default = ",".join(m for m in ("bicubic", "compact-sr", "compact-sr-real") if m in shipped)
    parser.add_argument("--methods", default=default)
    parser.add_argument("--quick", action="store_true", help="two images per set (a smoke run)")
    args = parser.parse_args()
    methods = args.methods.split(",")
    torch.set_num_threads(1)
    columns = [f"{m} PSNR / SSIM" for m in methods]
    text = write_markdown(None, "## Upscaling LR made by common downscalers (Y, border cropped)",
                          ["set", "scale", "LR made by", *columns], downscaler_rows(methods, args.quick))
    text += "\n" + write_markdown(None, "## Realistic damage (the `restore` protocol, Real-ESRGAN's degradations)",
                                  ["set", "scale", *columns, "restora restore PSNR / SSIM"],
                                  realistic_rows(methods, args.quick))
    if not args.quick:
        (RESULTS / "realworld_sr.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
