"""A bounded load check of ``restora serve`` on loopback.

    python benchmarks/web_load.py [--clients 8] [--jobs 60] [--queue 4] [--out benchmarks/results/web_load.md]

Starts the real server (``python -m restora serve``) on a free 127.0.0.1 port, then ``--clients``
threads share a fixed number of jobs: each submits a small denoise job (a noisy gray crop of
scikit-image's cameraman, ``--size`` pixels square, sigma 25), polls it until it ends and downloads
the result, then submits the next. A 429 (queue full) is counted and the same job is submitted
again after ``--backoff`` seconds. Everything stops after ``--max-seconds`` at the latest, and the
server is stopped.

Reports throughput (finished jobs per second), latency percentiles (submit to downloaded result),
the 429 count, and the server's resident memory (VmRSS from /proc, or psutil) before, at the peak
during, and after the run, as a Markdown table.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from skimage import data

from restora.io import write_text_atomic


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB."""
    try:
        import psutil

        return psutil.Process(pid).memory_info().rss / 1e6
    except ImportError:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024 / 1e6
    raise RuntimeError("cannot read the server's memory (no psutil, no /proc)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def noisy_png(size: int) -> bytes:
    crop = data.camera()[100:100 + size, 150:150 + size].astype(np.float64)
    noisy = np.clip(crop + np.random.default_rng(0).normal(0, 25, crop.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="PNG")
    return buf.getvalue()


def one_job(base: str, image: bytes, method: str, backoff: float, deadline: float) -> tuple[str, float, int]:
    """Submit (again after each 429), poll, download: ("done" | "failed" | "timeout", seconds, 429s)."""
    start, refused = time.perf_counter(), 0
    with httpx.Client(base_url=base, timeout=30) as client:
        while True:
            if time.time() > deadline:
                return "timeout", time.perf_counter() - start, refused
            r = client.post("/api/jobs", files={"image": ("noisy.png", image, "image/png")},
                            data={"task": "denoise", "method": method, "options": '{"sigma": 25}'})
            if r.status_code != 429:
                break
            refused += 1
            time.sleep(backoff)
        if r.status_code != 202:
            return "failed", time.perf_counter() - start, refused
        job = r.json()
        while time.time() < deadline:
            job = client.get(f"/api/jobs/{job['id']}").json()
            if job["state"] == "done":
                ok = client.get(job["result_url"]).status_code == 200
                return ("done" if ok else "failed"), time.perf_counter() - start, refused
            if job["state"] in ("failed", "cancelled"):
                return "failed", time.perf_counter() - start, refused
            time.sleep(0.02)
        return "timeout", time.perf_counter() - start, refused


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--jobs", type=int, default=60, help="total jobs, shared by the clients")
    p.add_argument("--backoff", type=float, default=0.25, help="seconds to wait after a 429")
    p.add_argument("--queue", type=int, default=4, help="the server's queue size")
    p.add_argument("--workers", type=int, default=1, help="the server's worker threads")
    p.add_argument("--size", type=int, default=256, help="side of the square test image")
    p.add_argument("--method", default="nlm")
    p.add_argument("--max-seconds", type=float, default=180)
    p.add_argument("--note", default="", help="a sentence about the machine's state, added to the report")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/web_load.md"))
    a = p.parse_args()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "restora", "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--queue", str(a.queue), "--workers", str(a.workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/api/methods", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise SystemExit("the server did not start")
        image = noisy_png(a.size)
        before = rss_mb(server.pid)
        peak, done_sampling = [before], threading.Event()

        def sample() -> None:
            while not done_sampling.wait(0.1):
                peak.append(rss_mb(server.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        deadline = time.time() + a.max_seconds
        t0 = time.perf_counter()
        with ThreadPoolExecutor(a.clients) as pool:
            results = list(pool.map(lambda _: one_job(base, image, a.method, a.backoff, deadline), range(a.jobs)))
        wall = time.perf_counter() - t0
        done_sampling.set()
        sampler.join()
        after = rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(30)

    counts = {k: sum(r[0] == k for r in results) for k in ("done", "failed", "timeout")}
    refused = sum(r[2] for r in results)
    latency = np.array([s for k, s, _ in results if k == "done"]) * 1000
    p50, p90, p99 = np.percentile(latency, [50, 90, 99]) if len(latency) else (float("nan"),) * 3
    lines = [
        "# Web server load check (`benchmarks/web_load.py`)", "",
        f"Loopback only. `restora serve --workers {a.workers} --queue {a.queue}`; {a.clients} concurrent clients "
        f"share {a.jobs} jobs, each a `{a.method}` denoise job (sigma 25) on a {a.size}x{a.size} gray PNG: "
        f"submit, poll every 20 ms, download the result, then submit the next. A 429 is counted and the job "
        f"submitted again after {a.backoff} s; latency runs from the first submit to the downloaded result.", "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}. {a.note}".strip(),
        "",
        "| jobs | finished | 429 answers (queue full) | failed | timed out | wall (s) | throughput (jobs/s) "
        "| latency p50 (ms) | p90 (ms) | p99 (ms) | server RSS before (MB) | peak (MB) | after (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {a.jobs} | {counts['done']} | {refused} | {counts['failed']} | {counts['timeout']} | {wall:.1f} "
        f"| {counts['done'] / wall:.2f} | {p50:.0f} | {p90:.0f} | {p99:.0f} | {before:.0f} | {max(peak):.0f} "
        f"| {after:.0f} |", "",
        f"Command: `python benchmarks/web_load.py --clients {a.clients} --jobs {a.jobs} --queue {a.queue} "
        f"--workers {a.workers} --size {a.size} --method {a.method} --backoff {a.backoff}`", "",
    ]
    write_text_atomic(a.out, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
