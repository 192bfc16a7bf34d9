"""Training curves as PNG (matplotlib, no display)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from restora.io.atomic import atomic_path


def plot_curves(rows: list[dict[str, Any]], path: Path) -> None:
    """Losses (left, log scale) and validation PSNR, or else accuracies (right), against step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skip = {"step", "seconds", "lr", "patches_per_s"}
    # every logged loss, validation losses (logged at validation steps only) included
    loss_keys = list(dict.fromkeys(k for r in rows for k in r if k not in skip and not k.startswith(("psnr", "ssim"))
                                   and not k.endswith("accuracy")))
    val_keys = sorted({k for r in rows for k in r if k.startswith("psnr_") and r[k] not in ("", None)})
    label = "PSNR (dB)"
    if not val_keys:  # a classifier's: accuracy (validation), train_accuracy
        val_keys, label = sorted({k for r in rows for k in r if k.endswith("accuracy")}), "accuracy"
    fig, axes = plt.subplots(1, 2 if val_keys else 1, figsize=(11 if val_keys else 6, 4), squeeze=False)
    ax = axes[0][0]
    for k in loss_keys:
        pts = [(int(r["step"]), float(r[k])) for r in rows if r.get(k) not in ("", None)]
        ax.plot(*zip(*pts), label=k)
    ax.set_xlabel("step")
    ax.set_yscale("log")
    ax.set_title("training loss")
    ax.legend()
    if val_keys:
        ax = axes[0][1]
        for k in val_keys:
            pts = [(int(r["step"]), float(r[k])) for r in rows if r.get(k) not in ("", None)]
            ax.plot(*zip(*pts), marker="o" if len(pts) < 50 else None, label=k.removeprefix("psnr_"))
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.set_title("validation" if val_keys[0].startswith("psnr_") else "accuracy")
        ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
