"""Shared by the speed benchmarks: one restorer call on a real photo, timed in a fresh subprocess
(so the peak resident memory it reports is that call's own; an untimed call on a 32x32 crop loads
imports and weights first), and the Markdown the results go to.

    measure("upscale", "bicubic", (512, 512), scale=3)
    -> {"seconds": ..., "mp": output megapixels, "peak_mb": peak RSS of the process}

The photo is scikit-image's astronaut (512x512 RGB) resized by MATLAB bicubic to the asked
(height, width), gray as the channel mean; ``noise`` adds Gaussian noise of that sigma (0-255)
first. Run as a script, this file is the child process (one JSON argument: the call to time).
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from restora.io import write_text_atomic


def measure(task: str, method: str, size: tuple[int, int], colour: bool = True, noise: float = 0.0,
            **inputs: Any) -> dict[str, float]:
    """Time ``get_method(task, method).restore(photo, **inputs)`` in a subprocess (see module doc)."""
    spec = {"task": task, "method": method, "size": list(size), "colour": colour, "noise": noise, "inputs": inputs}
    out = subprocess.run([sys.executable, __file__, json.dumps(spec)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_child(script: str, args: list[str], threads: int) -> Any:
    """Run ``python script --child ARGS`` in a fresh process with ``threads`` torch threads
    (OMP_NUM_THREADS, MKL_NUM_THREADS) and return the JSON of its last line of output."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, script, "--child", *args], capture_output=True, text=True, check=True,
                         env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    """One line naming what the figures were measured on."""
    import torch

    threads = torch.get_num_threads()
    return f"{os.cpu_count()}-core {platform.machine()} CPU, torch {torch.__version__}, {threads} thread(s)"


def write_markdown(path: Path | None, title: str, columns: list[str], rows: list[list[str]],
                   merge: bool = False) -> str:
    """A Markdown table under ``title`` and the machine line; written to ``path`` unless None. With
    ``merge`` (a partial rerun, ``--methods``) the existing file's rows of the methods not measured
    now are kept, and each remeasured method's rows take the place of its old ones."""
    if merge and path is not None and path.is_file():
        rows = _merged(_table_rows(path.read_text()), rows)
    lines = [title, "", f"Measured on a {machine()}.", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns), *("| " + " | ".join(row) + " |" for row in rows)]
    text = "\n".join(lines) + "\n"
    if path is not None:
        write_text_atomic(path, text)
    return text


def _table_rows(text: str) -> list[list[str]]:
    """The body rows of the Markdown table in ``text`` (cells stripped), header excluded."""
    return [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("| ")][1:]


def _merged(old: list[list[str]], new: list[list[str]]) -> list[list[str]]:
    fresh, placed, out = {r[0] for r in new}, set(), []
    for row in old:
        if row[0] not in fresh:
            out.append(row)
        elif row[0] not in placed:
            out += [r for r in new if r[0] == row[0]]
            placed.add(row[0])
    return out + [r for r in new if r[0] not in placed]


def medians_in_turn(calls: dict[str, Callable[[], Any]], runs: int) -> dict[str, float]:
    """Median seconds of each call over ``runs`` rounds in which the calls take turns (so a busy
    moment of the machine falls on all of them alike). Warm the calls up first."""
    times: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(runs):
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(values) for key, values in times.items()}


def peak_mb() -> float:
    """This process's peak resident memory (MB): VmHWM, which starts afresh at exec (ru_maxrss of a
    child also counts the memory of the parent it was forked from); ru_maxrss where /proc is absent."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(spec: dict[str, Any]) -> None:
    import time

    import numpy as np
    import torch
    from skimage import data

    from restora.degrade import gaussian_noise, imresize
    from restora.methods import get_method

    photo = torch.from_numpy(data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)
    photo = imresize(photo if spec["colour"] else photo.mean(0, keepdim=True), size=tuple(spec["size"])).clamp(0, 1)
    if spec["noise"]:
        photo = gaussian_noise(photo, spec["noise"], seed=0)
    restorer = get_method(spec["task"], spec["method"])
    restorer.restore(photo[:, :32, :32], **spec["inputs"])  # untimed: imports and weights
    start = time.perf_counter()
    out = restorer.restore(photo, **spec["inputs"])
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "mp": out.shape[1] * out.shape[2] / 1e6,
                      "peak_mb": peak_mb()}))


if __name__ == "__main__":
    _child(json.loads(sys.argv[1]))
