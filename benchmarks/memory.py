"""Peak memory and time of whole command-line runs on a large photo: is memory bounded by the pixels?

    python benchmarks/memory.py [--megapixels 24 6] [--out benchmarks/results/memory.md]
    python benchmarks/memory.py --megapixels 1 --out -     # quick check, printed, nothing written

For each size, a synthetic photo of that many megapixels (3:2, scikit-image's astronaut tiled
with alternate tiles mirrored, so edges stay continuous) is written as PNG, then each task runs as
``restora TASK photo.png -o out.png ...`` in its own process: denoise (default method, sigma
estimated), upscale x2 and x4 (default method), inpaint (telea, generated strokes mask), deblur
(wiener, and the default method, both gaussian:2), dejpeg (default method, quality 30) and restore
(default method, x1 and x2). The table gives the wall-clock seconds of the process (start-up, decoding
and encoding included) and its peak resident memory (ru_maxrss of that child, from os.wait4; on
Linux it starts from this process's own, a few hundred MB, so rows below that would be lost).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from speed import write_markdown

REPO = Path(__file__).resolve().parents[1]
RUNS = [  # (task, method (None: the task's default), setting, arguments)
    ("denoise", None, "sigma estimated", []),
    ("upscale", None, "x2", ["--scale", "2"]),
    ("upscale", None, "x4", ["--scale", "4"]),
    ("inpaint", "telea", "strokes mask", ["--method", "telea", "--mask", "strokes"]),
    ("inpaint", None, "freeform:10-20 mask", ["--mask", "freeform:10-20"]),
    ("deblur", "wiener", "gaussian:2", ["--method", "wiener", "--kernel", "gaussian:2"]),
    ("deblur", None, "gaussian:2", ["--kernel", "gaussian:2"]),
    ("deblur", "unet-deblur", "blind", ["--method", "unet-deblur"]),
    ("dejpeg", None, "quality 30", ["--quality", "30"]),
    ("restore", None, "x1", []),
    ("restore", None, "x2", ["--scale", "2"]),
]


def synthetic_photo(megapixels: float, path: Path) -> tuple[int, int]:
    """Write a 3:2 RGB photo of about ``megapixels`` to ``path``; returns its (width, height)."""
    height = int(round((megapixels * 1e6 / 1.5) ** 0.5))
    width = int(round(height * 1.5))
    tile = data.astronaut()
    block = np.concatenate([np.concatenate([tile, tile[:, ::-1]], 1)] * 2, 0)
    block[tile.shape[0]:] = block[:tile.shape[0]][::-1]
    reps = (-(-height // block.shape[0]), -(-width // block.shape[1]), 1)
    Image.fromarray(np.tile(block, reps)[:height, :width]).save(path, compress_level=1)
    return width, height


def default_methods() -> dict[str, str]:
    """{task: its default method}, asked of ``restora methods --json`` (importing restora here would
    raise this process's memory, which its children's ru_maxrss starts from)."""
    listed = subprocess.run([sys.executable, "-m", "restora", "methods", "--json"], capture_output=True, text=True,
                            check=True).stdout
    return {row["task"]: row["name"] for row in json.loads(listed) if row["default"]}


def run(task: str, args: list[str], photo: Path, out: Path) -> tuple[float, float, str]:
    """Run the command in a child process: (seconds, peak RSS in GB, "" or why it failed)."""
    command = [sys.executable, "-m", "restora", task, str(photo), "-o", str(out), "--overwrite",
               "--max-pixels", "1000000000", *args]
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    stderr = child.stderr.read().strip().splitlines()
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        return seconds, usage.ru_maxrss / 1024**2, f"failed: {stderr[-1] if stderr else status}"
    return seconds, usage.ru_maxrss / 1024**2, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megapixels", type=float, nargs="+", default=[24.0, 6.0])
    parser.add_argument("--tasks", nargs="+", help="only the runs of these tasks")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "memory.md"),
                        help="Markdown file to write, or - to print only")
    options = parser.parse_args()
    rows, defaults = [], default_methods()
    with tempfile.TemporaryDirectory(prefix="restora-memory-") as tmp:
        for megapixels in options.megapixels:
            photo = Path(tmp) / "photo.png"
            width, height = synthetic_photo(megapixels, photo)
            for task, method, setting, args in RUNS:
                if options.tasks and task not in options.tasks:
                    continue
                seconds, peak_gb, failure = run(task, args, photo, Path(tmp) / "out.png")
                row = [f"{width}x{height} ({width * height / 1e6:.0f} MP)", task,
                       method or f"{defaults[task]} (default)", setting, failure or f"{seconds:.0f}",
                       f"{peak_gb:.2f}", f"{peak_gb * 1024**3 / (width * height):.0f}"]
                print(" | ".join(row), flush=True)
                rows.append(row)
    title = ("Peak memory and time of `restora TASK photo.png -o out.png` on a large photo "
             "(`python benchmarks/memory.py`; one process per run, decoding and encoding included)")
    columns = ["photo", "task", "method", "setting", "seconds", "peak RSS (GB)", "peak bytes per input pixel"]
    text = write_markdown(None if options.out == "-" else Path(options.out), title, columns, rows)
    print(text)


if __name__ == "__main__":
    main()
