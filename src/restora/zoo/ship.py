"""Put a finished training run into the package: weights, index entry, model card.

``python -m restora.zoo.ship RUN_DIR --name NAME --method METHOD --summary TEXT`` copies
RUN_DIR/model.safetensors to zoo/weights/NAME.safetensors, (re)writes its models.json entry and
the card zoo/cards/NAME.md from the run's recipe and log (data, recipe, steps, training time,
the command that reproduces it, validation curve and best validation PSNR/SSIM). The benchmark
tables beside the classical methods are in the README, made by ``make bench``.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
from pathlib import Path

import yaml

from restora.zoo import ZOO_DIR, load_net


def ship(run: Path, name: str, method: str, summary: str, priority: int, recipe_file: str) -> Path:
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    with (run / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    weights = ZOO_DIR / "weights" / f"{name}.safetensors"
    weights.parent.mkdir(exist_ok=True)
    shutil.copyfile(run / "model.safetensors", weights)
    net = load_net(weights)
    args = recipe["net"].get("args", {})
    entry = {"name": name, "task": recipe.get("task", "denoise"), "method": method, "file": weights.name,
             "card": f"{name}.md", "arch": recipe["net"]["name"], "channels": int(args.get("channels", 1)),
             "params": sum(p.numel() for p in net.parameters()), "summary": summary, "priority": priority}
    if recipe.get("degradation", {}).get("kind") == "downscale":
        entry["scale"] = int(recipe["degradation"]["scale"])
    index_path = ZOO_DIR / "models.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else []
    index = [e for e in index if e["name"] != name] + [entry]
    index_path.write_text(json.dumps(sorted(index, key=lambda e: e["name"]), indent=1) + "\n")
    (ZOO_DIR / "cards").mkdir(exist_ok=True)
    card = ZOO_DIR / "cards" / f"{name}.md"
    card.write_text(_card(entry, recipe, rows, recipe_file))
    return card


def _card(entry: dict, recipe: dict, rows: list[dict], recipe_file: str) -> str:
    val_rows = [r for r in rows if r.get("psnr")]
    best = max(val_rows, key=lambda r: float(r["psnr"])) if val_rows else {}
    settings = sorted({k[5:] for k in best if k.startswith("psnr_")}, key=lambda s: float(s.strip("sigmax")))
    seconds = _training_seconds(rows, int(recipe["data"].get("batch", 16)))
    data = recipe["data"]
    lines = [
        f"# {entry['name']}", "",
        f"{entry['summary']}", "",
        "| | |", "|---|---|",
        f"| architecture | `{entry['arch']}` {json.dumps(recipe['net'].get('args', {}))}, {entry['params'] / 1e3:.0f}K parameters |",
        f"| task | {entry['task']} ({entry['channels']} channel{'s' if entry['channels'] > 1 else ''}) |",
        f"| training data | `{data['train']}` ({data.get('patch')}x{data.get('patch')} patches, batch {data.get('batch')}, 8 flips/rotations) |",
        f"| degradation | {json.dumps(recipe['degradation'])} |",
        f"| recipe | `{recipe_file}` (loss {recipe.get('loss', 'l1')}, {json.dumps(recipe.get('optimizer', {}))}, schedule {json.dumps(recipe.get('schedule', {}))}) |",
        f"| steps | {rows[-1]['step'] if rows else '?'} |",
        f"| training time | {seconds / 3600:.2f} h of optimisation steps (validation excluded), one torch thread on a "
        f"{os.cpu_count()}-core {platform.machine()} CPU (the two shipped denoisers trained side by side) |",
        f"| validation | `{data.get('val')}`, best at step {best.get('step', '?')} |",
        f"| reproduce | `OMP_NUM_THREADS=1 restora train {recipe_file} --out runs/{entry['name']}`; the figures "
        f"below are that run's `log.csv` validation rows; benchmark tables beside the classical methods: "
        f"`make bench` (README) |", "",
        "## Validation during training (restora's engine, REFERENCE.md protocol: unclipped Gaussian noise, "
        "seed = image index, full-image PSNR on 8-bit output)", "",
        "| setting | PSNR (dB) | SSIM |", "|---|---|---|",
        *[f"| {s} | {float(best['psnr_' + s]):.2f} | {float(best['ssim_' + s]):.4f} |" for s in settings], "",
        "## Validation curve", "",
        "| step | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings),
        *[f"| {r['step']} | " +
          " | ".join(f"{float(r['psnr_' + s]):.2f}" for s in settings) + " |" for r in val_rows], "",
    ]
    return "\n".join(lines)


def _training_seconds(rows: list[dict], batch: int) -> float:
    """Time spent in optimisation steps, from each log row's step count and patches/s."""
    total, prev = 0.0, 0
    for r in rows:
        step = int(r["step"])
        total += (step - prev) * batch / float(r["patches_per_s"])
        prev = step
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--method", required=True)
    p.add_argument("--summary", required=True)
    p.add_argument("--priority", type=int, default=10)
    p.add_argument("--recipe", required=True, help="recipe file in configs/ the run used")
    a = p.parse_args()
    print(ship(a.run, a.name, a.method, a.summary, a.priority, a.recipe))


if __name__ == "__main__":
    main()
