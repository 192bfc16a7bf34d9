"""Classification metrics: accuracy, confusion matrix, per-class precision / recall / F1 and their
macro averages, expected calibration error, and the confusion-matrix plot.

Inputs: ``probs`` float (N, K), each row a probability distribution over K classes (softmax of a
classifier's logits); ``labels`` int64 (N,) true classes in 0..K-1. Fractions are in [0, 1].
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from restora.errors import RestoraError
from restora.io.atomic import atomic_path

ECE_BINS = 15  # equal-width confidence bins (Guo et al. 2017)


def confusion_matrix(labels: torch.Tensor, predicted: torch.Tensor, classes: int) -> torch.Tensor:
    """int64 (K, K): entry [i, j] counts the images of true class i predicted as class j."""
    index = labels.long() * classes + predicted.long()
    return torch.bincount(index, minlength=classes * classes).view(classes, classes)


def per_class(matrix: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per class (K,) of a confusion matrix: ``precision`` (correct / predicted as the class),
    ``recall`` (correct / images of the class), ``f1`` (their harmonic mean) as float64, 0 where
    undefined (no prediction, no image, or both 0), and ``support`` (images of the class)."""
    m = matrix.double()
    correct, predicted, support = m.diag(), m.sum(0), m.sum(1)
    precision = torch.where(predicted > 0, correct / predicted.clamp(min=1), 0.0)
    recall = torch.where(support > 0, correct / support.clamp(min=1), 0.0)
    total = precision + recall
    f1 = torch.where(total > 0, 2 * precision * recall / total.clamp(min=1e-12), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": matrix.sum(1)}


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """ECE: the images split by confidence (their top probability) into ``bins`` equal-width bins
    of (0, 1]; the sum over bins of (share of the images in it) x |accuracy - mean confidence| in it."""
    confidence, predicted = probs.max(1)
    correct = (predicted == labels).double()
    which = (confidence.double() * bins).ceil().clamp(1, bins).long() - 1  # (k/bins, (k+1)/bins] -> k
    gap = torch.bincount(which, correct - confidence.double(), minlength=bins)  # sum of (correct - confidence)
    return float(gap.abs().sum() / len(labels))


def classification_report(probs: torch.Tensor, labels: torch.Tensor, names: list[str],
                          bins: int = ECE_BINS) -> dict[str, Any]:
    """Every metric of a classifier's ``probs`` on images of true ``labels``, K = len(names):
    ``images``, ``accuracy``, ``loss`` (mean cross-entropy, nats), ``macro_precision``,
    ``macro_recall``, ``macro_f1`` (unweighted means over the classes that occur among the labels
    or the predictions, as scikit-learn's macro average), ``ece``, ``classes`` (per class: name,
    precision, recall, f1, support) and ``confusion`` (K x K counts, rows true, columns predicted)."""
    if probs.dim() != 2 or probs.shape != (len(labels), len(names)):
        raise RestoraError(f"{tuple(probs.shape)} probabilities for {len(labels)} images of {len(names)} classes")
    if len(labels) == 0:
        raise RestoraError("no images to evaluate")
    predicted = probs.argmax(1)
    matrix = confusion_matrix(labels, predicted, len(names))
    scores = per_class(matrix)
    present = (matrix.sum(0) + matrix.sum(1)) > 0
    nll = -probs.double().gather(1, labels.view(-1, 1)).clamp(min=1e-12).log().mean()
    return {
        "images": len(labels), "accuracy": float((predicted == labels).double().mean()), "loss": float(nll),
        **{f"macro_{k}": float(scores[k][present].mean()) for k in ("precision", "recall", "f1")},
        "ece": expected_calibration_error(probs, labels, bins),
        "classes": [{"name": name, **{k: float(scores[k][i]) for k in ("precision", "recall", "f1")},
                     "support": int(scores["support"][i])} for i, name in enumerate(names)],
        "confusion": matrix.tolist(),
    }


def plot_confusion(matrix: list[list[int]] | torch.Tensor, names: list[str], path: str | Path,
                   title: str = "") -> Path:
    """The confusion matrix as a PNG: rows true classes, columns predicted, each cell coloured by its
    share of the row (the recall on the diagonal) and labelled with its count (up to 30 classes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = torch.as_tensor(matrix).double()
    share = m / m.sum(1, keepdim=True).clamp(min=1)
    k = len(names)
    side = min(4 + 0.55 * k, 20)
    fig, ax = plt.subplots(figsize=(side + 1.5, side))
    shown = ax.imshow(share.numpy(), cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(shown, ax=ax, fraction=0.046, label="share of the true class")
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 30:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=8,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_title(title or f"confusion matrix ({int(m.sum())} images)")
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return Path(path)
