"""Run the next training stages on a CUDA machine lent for a few minutes, and bring the weights back.

Such a machine (the ``device`` tool's H200 here) has PyTorch and restora's other libraries but no
network and no ``../shared``; it gets a copy of the working tree (at most 64 MiB in all, of which
the repository itself takes about 55) and returns at most 8 files from ``$OUT``. So:

    python scripts/cuda_stages.py pack configs/sr/compact-sr-x4-stage6.yaml [...]   # here
    python3 scripts/cuda_stages.py train configs/sr/compact-sr-x4-stage6.yaml [--steps N]   # there

``pack`` copies what the recipes read (training and validation folders under $RESTORA_DATA, the
``init`` weights) into ``.cuda/`` (git-ignored, carried with ``carry: [".cuda"]``), keeping the
first images of each training folder, sorted, as far as ``--budget`` MiB allows and saying how many
were left out. ``train`` runs one recipe with RESTORA_DATA=.cuda/data on the GPU (the engine takes
CUDA when it sees it, with autocast) into ``$OUT/<recipe name>``: model.safetensors, log.csv,
recipe.yaml, run.json and curves.png come back; ``restora ship`` makes the card here.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / ".cuda"
sys.path.insert(0, str(REPO / "src"))

from restora.io import list_images  # noqa: E402
from restora.train.data import resolve_data_path  # noqa: E402
from restora.train.recipe import load_recipe  # noqa: E402


def _inputs(recipe_file: str) -> tuple[list[str], list[str], str | None]:
    """The recipe's training folders, validation folders and init file, as written ($RESTORA_DATA/...)."""
    recipe = load_recipe(recipe_file)
    train = recipe.data.train if isinstance(recipe.data.train, list) else [recipe.data.train]
    return [str(t) for t in train], [str(recipe.data.val)] if recipe.data.val else [], recipe.init


def _packed(path: str) -> Path:
    """Where a $RESTORA_DATA path lands inside .cuda/data."""
    return PACK / "data" / path.replace("$RESTORA_DATA/", "")


def pack(recipes: list[str], budget_mb: float) -> None:
    shutil.rmtree(PACK, ignore_errors=True)
    train, val, inits = [], [], []
    for recipe in recipes:
        t, v, i = _inputs(recipe)
        train += [p for p in t if p not in train]
        val += [p for p in v if p not in val]
        inits += [i] if i and i not in inits else []
    always = [(f, _packed(p) / f.relative_to(resolve_data_path(p)))
              for p in val for f in resolve_data_path(p).rglob("*") if f.is_file()]
    always += [(Path(i), PACK / i) for i in inits]
    used = sum(src.stat().st_size for src, _ in always)
    folders = {p: list_images([resolve_data_path(p)]) for p in train}  # (file, relative path) pairs
    room = budget_mb * 2**20 - used
    # round-robin over the training folders, image by image, until the budget is spent
    chosen: dict[str, list[Path]] = {p: [] for p in folders}
    for index in range(max(map(len, folders.values()), default=0)):
        for p, files in folders.items():
            if index < len(files) and files[index][0].stat().st_size <= room:
                chosen[p].append(files[index])
                room -= files[index][0].stat().st_size
    picked = [(f, _packed(p) / relative) for p, files in chosen.items() for f, relative in files]
    for src, dst in always + picked:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    for p, files in folders.items():
        print(f"{p}: {len(chosen[p])} of {len(files)} images")
    print(f"packed {sum(f.stat().st_size for f in PACK.rglob('*') if f.is_file()) / 2**20:.1f} MiB into {PACK}")


def train_there(recipe_file: str, steps: int | None) -> None:
    from restora.train import train

    os.environ["RESTORA_DATA"] = str(PACK / "data")
    overrides = [f"train.steps={steps}"] if steps else []
    recipe = load_recipe(recipe_file, overrides)
    if recipe.init:
        recipe = replace(recipe, init=str(PACK / recipe.init))
    out = Path(os.environ.get("OUT", "runs")) / Path(recipe_file).stem
    print(train(recipe, out, progress=False, recipe_file=recipe_file))
    for bulky in ("last.pt", "best.pt"):  # checkpoints stay there: the weights and the log come back
        (out / bulky).unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="here: copy what the recipes read into .cuda/")
    p.add_argument("recipes", nargs="+")
    p.add_argument("--budget", type=float, default=8.0, help="MiB for .cuda/ (the tree travels in 64 MiB)")
    t = sub.add_parser("train", help="there: train one packed recipe into $OUT/<recipe name>")
    t.add_argument("recipe")
    t.add_argument("--steps", type=int, default=None, help="override the recipe's steps")
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.recipes, args.budget)
    else:
        train_there(args.recipe, args.steps)


if __name__ == "__main__":
    main()
