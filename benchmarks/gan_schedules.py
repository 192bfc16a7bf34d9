"""DCGAN schedules compared: one discriminator step then two generator steps (1:2) against 1:1.

    python benchmarks/gan_schedules.py [--runs runs/dcgan-faces runs/dcgan-faces-1to1]
        [--figure docs/figures/dcgan-schedules.png] [--out benchmarks/results/gan_schedules.md]

Reads each training run's log.csv and recipe.yaml; plots loss D, loss G and D(G(z)) against the
real images the discriminator has seen (both schedules see the same faces per step), and writes a
Markdown section: the per-epoch means over the epochs both runs completed and, per run, how often
(share of logged intervals) the discriminator's loss came within 0.2 of its floor. With one-sided
label smoothing (real label t = 0.9) that floor is the entropy of the target, -t ln t - (1-t) ln(1-t)
= 0.325, not 0: a discriminator that wins outright sits there.
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import yaml

from restora.io import write_text_atomic
from restora.train.faces import split_files
from restora.train.ship import epoch_means

KEYS = ("loss_d", "loss_g", "d_real", "d_fake")
NEAR_FLOOR = 0.2


def loss_d_floor(real_label: float) -> float:
    """The smallest possible discriminator loss: BCE of the real label with itself (fakes at 0 cost 0)."""
    t = real_label
    return -(t * math.log(t) + (1 - t) * math.log(1 - t)) if 0 < t < 1 else 0.0


def read_run(run: Path) -> tuple[str, list[dict], int, int, float]:
    """(label such as '1:2', log rows, steps per epoch, real images per step, floor of loss D)."""
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    with (run / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    gan, data = recipe.get("gan", {}), recipe["data"]
    per_step = int(data.get("batch", 64)) * int(gan.get("d_steps", 1))
    faces = len(split_files(data["train"], int(data.get("holdout", 500)))[0])
    return (f"{gan.get('d_steps', 1)}:{gan.get('g_steps', 2)}", rows, max(1, faces // per_step), per_step,
            loss_d_floor(float(gan.get("real_label", 0.9))))


def plot(runs: list[tuple], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, title in zip(axes, ("loss_d", "loss_g", "d_fake"), ("discriminator loss", "generator loss",
                                                                     "D(G(z)) (mean probability)")):
        for label, rows, _, per_step, _ in runs:
            ax.plot([int(r["step"]) * per_step / 1000 for r in rows], [float(r[key]) for r in rows],
                    label=f"{label} (D:G steps)")
        ax.set_title(title)
        ax.set_xlabel("real faces seen by D (thousands)")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=70)
    plt.close(fig)


def markdown(runs: list[tuple], figure: Path) -> str:
    per_run = [dict(epoch_means(rows, per_epoch, KEYS)) for _, rows, per_epoch, _, _ in runs]
    completed = min(int(rows[-1]["step"]) // per_epoch for _, rows, per_epoch, _, _ in runs)
    if completed < 1:
        raise SystemExit("the runs share no completed epoch yet")
    epochs = range(1, completed + 1)
    labels = [label for label, *_ in runs]
    head = " | ".join(f"{label} {what}" for label in labels for what in ("loss D", "loss G", "D(x)", "D(G(z))"))
    lines = [
        "## Schedules: 1 discriminator step to 2 generator steps, against 1:1", "",
        f"Curves against the real faces seen: `{figure.as_posix()}` in the repository (made with "
        "`python benchmarks/gan_schedules.py` from both runs' log.csv).", "",
        "Per-epoch means (epochs both runs trained; same data, seed, batch and optimiser):", "",
        f"| epoch | {head} |", "|---|" + "---|" * (4 * len(runs)),
        *[f"| {e} | " + " | ".join(f"{v:.3f}" for means in per_run for v in means[e]) + " |" for e in epochs], "",
        f"Logged intervals over those epochs with loss D within {NEAR_FLOOR} of its floor (the smallest "
        "possible loss D with the real label 0.9 is 0.325, not 0):", "",
    ]
    for label, rows, per_epoch, _, floor in runs:
        shared = [r for r in rows if int(r["step"]) <= completed * per_epoch]
        low = sum(float(r["loss_d"]) < floor + NEAR_FLOOR for r in shared)
        lowest = min(float(r["loss_d"]) for r in shared)
        lines.append(f"- {label}: {low} of {len(shared)}; lowest logged loss D {lowest:.3f} (floor {floor:.3f})")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=Path, nargs="+", default=[Path("runs/dcgan-faces"), Path("runs/dcgan-faces-1to1")])
    p.add_argument("--figure", type=Path, default=Path("docs/figures/dcgan-schedules.png"))
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/gan_schedules.md"))
    a = p.parse_args()
    runs = [read_run(run) for run in a.runs]
    plot(runs, a.figure)
    text = markdown(runs, a.figure)
    write_text_atomic(a.out, text)
    print(text)


if __name__ == "__main__":
    main()
