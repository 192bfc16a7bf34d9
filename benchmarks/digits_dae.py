"""The shipped denoising autoencoder (dae-mnist) against non-local means on held-out MNIST digits.

    python benchmarks/digits_dae.py [--limit N] [--out benchmarks/results/digits_dae.md]
                                    [--figure docs/figures/dae-mnist-examples.png]

Held out: digits 8000-9999 of ``$RESTORA_DATA/digits/mnist-test`` (the DAE trained on 0-7999).
Protocol of ``restora bench denoise`` (docs/protocols.md): clean 8-bit digit + Gaussian noise (sigma on
0-255, unclipped, seed = digit index), PSNR / SSIM of the 8-bit output on the full 28x28 image.
Rows: the noisy input; OpenCV non-local means as registered (``nlm``, h = 0.9 sigma, 7x7 patches,
21x21 search) and with h tuned per sigma on 200 training digits (7800-7999) over a grid
(``nlm-tuned``); the shipped general gray denoiser (``unet-denoiser``, trained on photos for sigma
0-55, given the true sigma); and the DAE (blind). Every method runs one image at a time, as the
others do, after an untimed first call; seconds per image on one torch thread.
The figure shows, for 8 held-out digits at sigma 50: clean, noisy, nlm-tuned, dae-mnist.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Callable

import torch

from restora.bench import format_rows
from restora.io import write_text_atomic
from restora.methods import TASKS, get_method
from restora.metrics import psnr
from restora.protocols import protocol
from restora.train.data import ImageCache
from restora.train.objectives.vae import write_grid
from restora.zoo import load_shipped

SOURCE = "$RESTORA_DATA/digits/mnist-test/t10k-images-idx3-ubyte.gz"
HELD_OUT, TUNING = "[8000:]", "[7800:8000]"
SIGMAS = (25, 50, 100)
NLM_FACTORS = (0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1.1, 1.3, 1.6, 2.0)
FIGURE_SIGMA = 50


def digits(part: str, limit: int | None = None) -> list[torch.Tensor]:
    """Digits of SOURCE (a range) as (1, 28, 28) float in [0, 1]."""
    return [img.float() / 255 for img in ImageCache(SOURCE + part, "gray", limit=limit).images]


def tune_nlm(clean: list[torch.Tensor], sigma: float) -> float:
    """The NLM strength factor (h = factor x sigma) with the best mean PSNR on ``clean``."""
    nlm = get_method("denoise", "nlm")
    cases = [protocol("denoise").case(c, sigma, i) for i, c in enumerate(clean)]

    def score(factor: float) -> float:
        return sum(psnr(nlm.restore(c.degraded, sigma=sigma, factor=factor), c.clean) for c in cases) / len(cases)
    return max(NLM_FACTORS, key=score)


Denoise = Callable[[torch.Tensor, float], torch.Tensor]


def methods(factors: dict[float, float]) -> dict[str, Denoise]:
    """name -> fn(noisy (1, 28, 28), sigma) -> (1, 28, 28) in [0, 1]."""
    nlm, unet = get_method("denoise", "nlm"), get_method("denoise", "unet-denoiser")
    dae = load_shipped("dae-mnist")

    @torch.no_grad()
    def run_dae(x, sigma):
        return dae(x[None])[0].clamp(0, 1)
    return {
        "nlm": lambda x, s: nlm.restore(x, sigma=s),
        "nlm-tuned": lambda x, s: nlm.restore(x, sigma=s, factor=factors[s]),
        "unet-denoiser": lambda x, s: unet.restore(x, sigma=s),
        "dae-mnist": run_dae,
    }


def bench(clean: list[torch.Tensor], fns: dict[str, Denoise]) -> list[dict]:
    """Rows in restora.bench's format (format_rows)."""
    rows = []
    for sigma in SIGMAS:
        cases = [protocol("denoise").case(c, sigma, i) for i, c in enumerate(clean)]
        outputs = {"input": ([c.degraded for c in cases], None)}
        for name, fn in fns.items():
            fn(cases[0].degraded, sigma)  # untimed: imports, weights
            start = time.perf_counter()
            outs = [fn(c.degraded, sigma) for c in cases]
            outputs[name] = (outs, time.perf_counter() - start)
        for name, (outs, seconds) in outputs.items():
            n = len(cases)
            scores = [c.score(o) for o, c in zip(outs, cases)]
            rows.append({
                "task": "denoise", "method": name, "dataset": f"mnist-test{HELD_OUT}",
                "setting": TASKS["denoise"].setting_label(sigma),
                "psnr": round(sum(p for p, _ in scores) / n, 3),
                "ssim": round(sum(s for _, s in scores) / n, 4),
                "seconds_per_image": None if seconds is None else round(seconds / n, 5),
                "mp_per_s": None if seconds is None else round(n * 28 * 28 / 1e6 / seconds, 3), "images": n})
    return rows


def figure(clean: list[torch.Tensor], fns: dict[str, Denoise], path: Path) -> None:
    """Rows: 8 clean digits, noisy (sigma FIGURE_SIGMA), nlm-tuned, dae-mnist."""
    cases = [protocol("denoise").case(c, FIGURE_SIGMA, i) for i, c in enumerate(clean[:8])]
    rows = [[c.clean for c in cases], [c.degraded.clamp(0, 1) for c in cases],
            [fns["nlm-tuned"](c.degraded, FIGURE_SIGMA) for c in cases],
            [fns["dae-mnist"](c.degraded, FIGURE_SIGMA) for c in cases]]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_grid(torch.stack([img for row in rows for img in row]), path, 8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=None, help="only the first N held-out digits")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/digits_dae.md"))
    p.add_argument("--figure", type=Path, default=Path("docs/figures/dae-mnist-examples.png"))
    a = p.parse_args()
    torch.set_num_threads(1)
    tuning = digits(TUNING)
    factors = {s: tune_nlm(tuning, s) for s in SIGMAS}
    clean = digits(HELD_OUT, a.limit)
    fns = methods(factors)
    table = format_rows(bench(clean, fns))
    figure(clean, fns, a.figure)
    chosen = ", ".join(f"{f:g} at sigma {s}" for s, f in factors.items())
    text = "\n".join([
        "# Denoising autoencoder vs non-local means on held-out MNIST digits", "",
        f"`python benchmarks/digits_dae.py` (held-out digits 8000-{7999 + len(clean)} of the MNIST test split; "
        "the DAE trained on 0-7999).", "",
        table, "",
        f"`nlm`: OpenCV fastNlMeans as registered, h = 0.9 sigma. `nlm-tuned`: h = factor x sigma with the factor "
        f"that maximises PSNR on training digits 7800-7999 (grid {', '.join(map(str, NLM_FACTORS))}): {chosen}. "
        "`unet-denoiser`: the shipped general gray denoiser (photos, sigma 0-55), told the true sigma. "
        "`dae-mnist`: the shipped denoising autoencoder, blind (sigma 0-100 in training). Seconds per image "
        "on one thread of the development CPU.", "",
        f"Figure: `{a.figure}` (rows: clean, noisy sigma {FIGURE_SIGMA}, nlm-tuned, dae-mnist).", ""])
    write_text_atomic(a.out, text)
    print(text)


if __name__ == "__main__":
    main()
