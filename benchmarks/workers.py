"""Photos per second of ``restora denoise FOLDER -o OUT --workers N`` on Kodak-size photos.

    python benchmarks/workers.py [--count 100] [--workers 1,2] [--data $RESTORA_DATA]

The photos (768x512 PNG, in a temporary folder) are tiles of four 384x256 crops of consecutive
CBSD432 photos (denoise/color/cbsd432; portrait ones transposed). Each run is one process
(start-up, decoding and writing included; sigma estimated per photo, the default method); the
outputs of every run are checked to be the first run's, byte for byte. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

RESTORA = Path(sys.executable).with_name("restora")


def make_photos(data: Path, count: int, folder: Path) -> None:
    """``count`` 768x512 tiles of CBSD432 crops in ``folder``."""
    sources = sorted((data / "denoise" / "color" / "cbsd432").glob("*.jpg"))
    for i in range(count):
        photo = Image.new("RGB", (768, 512))
        for k in range(4):
            with Image.open(sources[(4 * i + k) % len(sources)]) as im:
                im = im.convert("RGB")
                if im.height > im.width:
                    im = im.transpose(Image.Transpose.TRANSPOSE)
                photo.paste(im.crop((0, 0, 384, 256)), (384 * (k % 2), 256 * (k // 2)))
        photo.save(folder / f"photo{i:03d}.png")


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("RESTORA_DATA", "../shared/data")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="restora-workers-") as tmp:
        photos = Path(tmp) / "photos"
        photos.mkdir()
        make_photos(args.data, args.count, photos)
        rows, first = [], None
        for n in map(int, args.workers.split(",")):
            out = Path(tmp) / f"out{n}"
            start = time.perf_counter()
            subprocess.run([str(RESTORA), "denoise", str(photos), "-o", str(out), "--workers", str(n)], check=True)
            seconds = time.perf_counter() - start
            first = first or outputs(out)
            assert outputs(out) == first, f"--workers {n} wrote other files than the first run"
            rows.append(f"| {n} | {seconds:.1f} | {args.count / seconds:.2f} |")
    print(f"{args.count} photos 768x512, restora denoise (default method, sigma estimated), {os.cpu_count()} cores\n")
    print("| workers | seconds | photos/s |\n|---|---|---|\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
