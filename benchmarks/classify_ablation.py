"""The Fashion-MNIST classifier's optimisers and regularisers compared at one step budget.

    OMP_NUM_THREADS=1 python benchmarks/classify_ablation.py [--steps 3000] [--runs runs/classify-ablation]
        [--only NAME ...] [--out benchmarks/results/classify_ablation.md]

Each variant is configs/classify/fashion-mnist.yaml with one change (optimiser, or one regulariser
switched off), trained for ``--steps`` steps of the same batches' size into RUNS/NAME, evaluated on
the 10,000 test images (the recipe's ``classify.test``). A variant whose run folder holds test.json
already is not trained again. Writes a Markdown table: test accuracy, macro F1, ECE, the best
validation accuracy and the training time of each.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

from restora.io import write_text_atomic
from restora.train import load_recipe, train

RECIPE = "configs/classify/fashion-mnist.yaml"
VARIANTS = {  # name -> (what changes, recipe overrides)
    "sgd+momentum": ("the recipe: SGD, momentum 0.9, lr 0.05, weight decay 5e-4, batch norm, dropout 0.2, "
                     "flips and crops", []),
    "sgd": ("SGD without momentum, lr 0.5 (the same step size as 0.05 with momentum 0.9)",
            ["optimizer.momentum=0", "optimizer.lr=0.5"]),
    "adam": ("Adam, lr 0.002, no weight decay", ["optimizer.name=adam", "optimizer.lr=0.002",
                                                  "optimizer.weight_decay=0"]),
    "rmsprop": ("RMSProp, lr 0.001, no weight decay", ["optimizer.name=rmsprop", "optimizer.lr=0.001",
                                                        "optimizer.weight_decay=0"]),
    "no-dropout": ("dropout 0", ["net.args.dropout=0"]),
    "no-batch-norm": ("no batch norm", ["net.args.batch_norm=false"]),
    "no-weight-decay": ("weight decay 0", ["optimizer.weight_decay=0"]),
    "no-augmentation": ("no flips or crops", ["classify.augment=[]"]),
}


def run_variant(name: str, steps: int, runs: Path) -> dict:
    """Train one variant (unless its run folder has test.json) and read its results."""
    folder = runs / name
    if not (folder / "test.json").is_file():
        overrides = VARIANTS[name][1] + [f"train.steps={steps}", f"train.val_every={max(1, steps // 12)}"]
        train(load_recipe(RECIPE, overrides), folder, progress=False, recipe_file=RECIPE)
    test = json.loads((folder / "test.json").read_text())
    with (folder / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    batch = load_recipe(folder / "recipe.yaml").data.batch
    seconds = sum((int(r["step"]) - int(p["step"])) * batch / float(r["patches_per_s"])
                  for p, r in zip([{"step": 0}] + rows, rows))
    best = max((float(r["accuracy"]) for r in rows if r.get("accuracy")), default=float("nan"))
    return {"name": name, "test": test, "best_val": best, "steps": int(rows[-1]["step"]), "minutes": seconds / 60}


def table(results: list[dict]) -> str:
    lines = ["| variant | change | test accuracy (%) | macro F1 | ECE | best validation accuracy (%) | steps | "
             "training minutes |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        t = r["test"]
        lines.append(f"| {r['name']} | {VARIANTS[r['name']][0]} | {100 * t['accuracy']:.2f} | {t['macro_f1']:.4f} | "
                     f"{t['ece']:.4f} | {100 * r['best_val']:.2f} | {r['steps']} | {r['minutes']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--runs", type=Path, default=Path("runs/classify-ablation"))
    parser.add_argument("--only", nargs="*", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/classify_ablation.md"))
    args = parser.parse_args()
    results = [run_variant(name, args.steps, args.runs) for name in args.only]
    text = (f"# Fashion-MNIST classifier: optimisers and regularisers at {args.steps} steps\n\n"
            f"Each variant is `{RECIPE}` with one change, trained for the same steps of 128 images "
            f"(`python benchmarks/classify_ablation.py --steps {args.steps}`); test: the 10,000 test images.\n\n"
            + table(results) + "\n")
    write_text_atomic(args.out, text)
    print(text)


if __name__ == "__main__":
    main()
