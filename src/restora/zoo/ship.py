"""Put a finished training run into the package: weights, index entry, model card.

``python -m restora.zoo.ship RUN_DIR --name NAME --method METHOD --summary TEXT`` copies
RUN_DIR/model.safetensors (or ``--weights FILE``, e.g. a GAN run's discriminator.safetensors) to
zoo/weights/NAME.safetensors, (re)writes its models.json entry (task and architecture from the
weight file's metadata) and the card zoo/cards/NAME.md from the run's recipe and log (data,
recipe, steps, training time, the command that reproduces it, validation curve and best
validation PSNR/SSIM, and for a model trained in stages (a chain of ``init:``) each earlier
stage's recipe, time and curve; for a VAE (``objective: vae``) the held-out ELBO instead; for a GAN
(``objective: gan``) the losses per epoch; ``--notes FILE`` appends a Markdown section, e.g. a
comparison of runs). The benchmark tables beside the classical methods are in the README, made
by ``make bench`` (``--benchmark`` names another command).
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
from functools import partial
from pathlib import Path

import torch.nn as nn
import yaml

from restora.io.atomic import write_text_atomic
from restora.nets.blocks import ResBlock
from restora.train.data import source_repeat
from restora.zoo import ZOO_DIR, load_net, read_metadata


SHARING = "sharing it with one other training run"
BENCHMARK = "`make bench` (README)"


def ship(run: Path, name: str, method: str, summary: str, priority: int, recipe_file: str,
         sharing: str = SHARING, benchmark: str = BENCHMARK, weights_file: str = "model.safetensors",
         notes: Path | None = None, threads: int = 1) -> Path:
    recipe = yaml.safe_load((run / "recipe.yaml").read_text())
    rows = _read_log(run)
    weights = ZOO_DIR / "weights" / f"{name}.safetensors"
    weights.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(run / weights_file, weights)
    net = load_net(weights)
    meta = read_metadata(weights)
    args = {**recipe["net"].get("args", {}), **json.loads(meta["kwargs"])}
    entry = {"name": name, "task": meta.get("task") or recipe.get("task", "denoise"), "method": method,
             "file": weights.name, "card": f"{name}.md", "arch": meta["arch"],
             "channels": int(args.get("channels", 1)),
             "params": sum(p.numel() for p in net.parameters()), "summary": summary, "priority": priority}
    if recipe.get("degradation", {}).get("kind") == "downscale":
        entry["scale"] = int(recipe["degradation"]["scale"])
    index_path = ZOO_DIR / "models.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else []
    index = [e for e in index if e["name"] != name] + [entry]
    write_text_atomic(index_path, json.dumps(sorted(index, key=lambda e: e["name"]), indent=1) + "\n")
    (ZOO_DIR / "cards").mkdir(exist_ok=True)
    card = ZOO_DIR / "cards" / f"{name}.md"
    write = {"vae": _vae_card, "gan": _gan_card}.get(recipe.get("objective")) or partial(_card, net=net)
    hardware = (f"{'one torch thread' if threads == 1 else f'{threads} torch threads'} on a "
                f"{os.cpu_count()}-core {platform.machine()} CPU, {sharing}")
    text = write(entry, recipe, rows, recipe_file, hardware, benchmark)
    write_text_atomic(card, text + ("\n" + notes.read_text() if notes else ""))
    return card


_NOISE_PROTOCOL = "unclipped Gaussian noise, seed = image index, full-image PSNR on 8-bit output"
_PROTOCOLS = {
    "denoise": _NOISE_PROTOCOL,
    "denoise-digits": _NOISE_PROTOCOL,
    "upscale": "LR by MATLAB-compatible bicubic, 8-bit; PSNR/SSIM on the BT.601 Y channel, border of `scale` "
               "pixels cropped",
}


def _card(entry: dict, recipe: dict, rows: list[dict], recipe_file: str, hardware: str, benchmark: str,
          net: nn.Module) -> str:
    val_rows = _val_rows(rows)
    best = max(val_rows, key=lambda r: float(r["psnr"])) if val_rows else {}
    settings = _settings(best)
    stages = [*earlier_stages(recipe), (recipe_file, recipe, rows)]
    all_seconds = sum(_training_seconds(stage_rows, stage) for _, stage, stage_rows in stages)
    commands = [f"`OMP_NUM_THREADS=1 restora train {file}`" for file, _, _ in stages]
    data = recipe["data"]
    grows_blocks = any(isinstance(module, ResBlock) for module in net.modules())  # see warm_start
    augment = "8 flips/rotations" if data.get("flips", True) else "no flips"
    if data.get("rescale"):
        lo, hi = data["rescale"]
        augment += f", each cut at 1/s the size and resized by s = {lo}" + (f" to {hi}" if hi != lo else "")
    if data.get("saturation"):
        augment += ", saturation scaled by {} to {}".format(*data["saturation"])
    lines = [
        *_head(entry, recipe),
        f"| training data | {_sources(data['train'])} ({data.get('patch')}x{data.get('patch')} patches, batch {data.get('batch')}, {augment}) |",
        f"| degradation | {json.dumps(recipe['degradation'])} |",
        f"| recipe | `{recipe_file}` (loss {recipe.get('loss', 'l1')}, {_optimisation(recipe)}) |",
        *([f"| starts from | `{recipe['init']}` (every tensor whose name and shape match"
            f"{'; residual blocks it lacks start as the identity' if grows_blocks else ''}) |"]
          if recipe.get("init") else []),
        *_time_rows(rows, recipe, hardware, all_seconds if len(stages) > 1 else None),
        f"| validation | `{data.get('val')}`{_first(data.get('val_limit'))}, best at step {best.get('step', '?')} |",
        f"| reproduce | {', then '.join(commands)}{_STAGE_FOLDERS if len(stages) > 1 else ''}; the figures below "
        f"are the last run's `log.csv` validation rows; "
        f"benchmark tables beside the classical methods: {benchmark} |", "",
        f"## Validation during training (restora's engine, REFERENCE.md protocol: {_PROTOCOLS[entry['task']]})", "",
        "| setting | PSNR (dB) | SSIM |", "|---|---|---|",
        *[f"| {s} | {float(best['psnr_' + s]):.2f} | {float(best['ssim_' + s]):.4f} |" for s in settings], "",
        "## Validation curve", "", *_curve(val_rows, settings), "",
    ]
    if len(stages) > 1:
        lines += _stage_lines(stages)
    return "\n".join(lines)


_STAGE_FOLDERS = " (each into its default folder runs/<recipe name>, where the next stage's `init:` finds it)"


def earlier_stages(recipe: dict) -> list[tuple[str, dict, list[dict]]]:
    """The runs a recipe's ``init:`` chain starts from, first stage first, as (recipe file, recipe as
    run, log rows). An ``init:`` names a run's default folder, runs/<recipe name>/model.safetensors,
    so its recipe file is configs/**/<recipe name>.yaml; the chain stops at a run this checkout lacks."""
    stages = []
    init = recipe.get("init")
    while init:
        run = Path(init).parent
        files = sorted(Path("configs").rglob(f"{run.name}.yaml"))
        if not files or not (run / "log.csv").is_file():
            break
        run_recipe = yaml.safe_load((run / "recipe.yaml").read_text())
        stages.insert(0, (files[0].as_posix(), run_recipe, _read_log(run)))
        init = run_recipe.get("init")
    return stages


def _stage_lines(stages: list[tuple[str, dict, list[dict]]]) -> list[str]:
    """A card's section on a model trained in stages: steps, time and last validation of each, and
    the validation curves of the stages before the last."""
    lines = ["## Training stages", "",
             "Each stage starts from the weights of the one before (`init:`) with a fresh optimiser and "
             "learning-rate schedule; the tables above are the last stage's.", "",
             "| stage | recipe | steps | training time (h) | last validation PSNR (dB) |", "|---|---|---|---|---|"]
    curves = []
    for i, (file, recipe, rows) in enumerate(stages, 1):
        val_rows = _val_rows(rows)
        settings = _settings(val_rows[-1] if val_rows else {})
        shown = ", ".join(f"{s} {float(val_rows[-1]['psnr_' + s]):.2f}" for s in settings) or "?"
        lines.append(f"| {i} | `{file}` | {rows[-1]['step'] if rows else '?'} | "
                     f"{_training_seconds(rows, recipe) / 3600:.2f} | {shown} |")
        if i < len(stages):
            curves += ["", f"### Stage {i} validation curve (`{file}`)", "", *_curve(val_rows, settings)]
    return lines + curves + [""]


def _settings(row: dict) -> list[str]:
    """The validation settings (sigma15, x3, ...) of a log row, in order."""
    return sorted({k[5:] for k in row if k.startswith("psnr_")}, key=lambda s: float(s.strip("sigmax")))


def _val_rows(rows: list[dict]) -> list[dict]:
    """The log rows that carry validation results."""
    return [r for r in rows if r.get("psnr")]


def _curve(val_rows: list[dict], settings: list[str]) -> list[str]:
    """Markdown table of validation PSNR per step and setting."""
    return ["| step | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings),
            *[f"| {r['step']} | " + " | ".join(f"{float(r['psnr_' + s]):.2f}" for s in settings) + " |"
              for r in val_rows]]


def _read_log(run: Path) -> list[dict]:
    with (run / "log.csv").open() as f:
        return list(csv.DictReader(f))


def _vae_card(entry: dict, recipe: dict, rows: list[dict], recipe_file: str, hardware: str, benchmark: str) -> str:
    """A VAE's card: the held-out negative ELBO (reconstruction + KL, nats per image) at the last
    step, and its curve at every validation step."""
    data = recipe["data"]
    val_rows = [r for r in rows if r.get("val_loss")]
    last = val_rows[-1] if val_rows else {}
    lines = [
        *_head(entry, recipe),
        f"| training data | {_sources(data['train'])} (whole images, batch {data.get('batch', 128)}) |",
        f"| recipe | `{recipe_file}` (loss: negative ELBO = Bernoulli cross-entropy of the gray levels summed "
        f"over the pixels + KL to N(0, I); {_optimisation(recipe)}) |",
        *_time_rows(rows, recipe, hardware),
        f"| held out | `{data['val']}`, never trained on |",
        f"| reproduce | `OMP_NUM_THREADS=1 restora train {recipe_file} --out runs/{entry['name']}`; the figures "
        f"below are that run's `log.csv` validation rows; samples, reconstructions, interpolations: {benchmark} |",
        "",
        "## Held-out ELBO at the last step (nats per image; fixed reparameterisation noise)", "",
        "| -ELBO | reconstruction | KL |", "|---|---|---|",
        *([f"| {float(last['val_loss']):.2f} | {float(last['val_recon']):.2f} | {float(last['val_kl']):.2f} |"]
          if last else []), "",
        "## Validation curve (held-out -ELBO, nats per image)", "",
        f"| step | -ELBO | reconstruction | KL | training -ELBO (mean of the last "
        f"{recipe.get('train', {}).get('log_every', 50)} steps) |", "|---|---|---|---|---|",
        *[f"| {r['step']} | {float(r['val_loss']):.2f} | {float(r['val_recon']):.2f} | {float(r['val_kl']):.2f} | "
          f"{float(r['loss']):.2f} |" for r in val_rows], "",
    ]
    return "\n".join(lines)


def _gan_card(entry: dict, recipe: dict, rows: list[dict], recipe_file: str, hardware: str, benchmark: str) -> str:
    """A GAN's card (generator or discriminator of one run): data, schedule, time, losses per epoch."""
    from restora.train.faces import split_files

    data, gan = recipe["data"], recipe.get("gan", {})
    holdout = int(data.get("holdout", 500))
    faces = len(split_files(data["train"], holdout)[0])
    per_epoch = max(1, faces // (int(data.get("batch", 64)) * int(gan.get("d_steps", 1))))
    steps = int(rows[-1]["step"]) if rows else 0
    lines = [
        *_head(entry, recipe),
        f"| training data | `{data['train']}` without its last {holdout} files (held out for evaluation): {faces} "
        f"faces, 64x64 face frame (centred square of 72% of the width, `restora.train.faces`), random left-right "
        f"flips, batch {data.get('batch', 64)} |",
        f"| recipe | `{recipe_file}` ({gan.get('d_steps', 1)} discriminator step : {gan.get('g_steps', 2)} generator "
        f"steps, BCE on logits, real label {gan.get('real_label', 0.9)}; {_optimisation(recipe)}) |",
        *_time_rows(rows, recipe, hardware),
        f"| epochs | {steps / per_epoch:.1f} ({per_epoch} steps of {data.get('batch', 64)} real faces each) |",
        f"| reproduce | `OMP_NUM_THREADS=1 restora train {recipe_file} --out runs/{Path(recipe_file).stem}` "
        f"(model.safetensors: the generator, discriminator.safetensors, log.csv, curves.png, fixed-z grids in "
        f"samples/epoch_NNN.png); samples from the shipped model: {benchmark} |", "",
        "## Losses per epoch (means over the epoch's steps; D(x), D(G(z)): the discriminator's mean "
        "probabilities on real and generated faces)", "",
        "| epoch | loss D | loss G | D(x) | D(G(z)) |", "|---|---|---|---|---|",
        *[f"| {epoch} | " + " | ".join(f"{value:.3f}" for value in means) + " |"
          for epoch, means in epoch_means(rows, per_epoch, ("loss_d", "loss_g", "d_real", "d_fake"))], "",
    ]
    return "\n".join(lines)


def epoch_means(rows: list[dict], per_epoch: int, keys: tuple[str, ...]) -> list[tuple[int, list[float]]]:
    """Step-weighted means of ``keys`` per epoch, from log rows that each average the steps since the last."""
    sums: dict[int, list[float]] = {}
    prev = 0
    for r in rows:
        step = int(r["step"])
        epoch = -(-step // per_epoch)
        acc = sums.setdefault(epoch, [0.0] * (len(keys) + 1))
        for i, k in enumerate(keys):
            acc[i] += float(r[k]) * (step - prev)
        acc[-1] += step - prev
        prev = step
    return [(e, [v / acc[-1] for v in acc[:-1]]) for e, acc in sorted(sums.items())]


def _head(entry: dict, recipe: dict) -> list[str]:
    """Title, summary and the architecture (with the shipped file's build arguments) and task rows of
    a card's table."""
    kwargs = read_metadata(ZOO_DIR / "weights" / entry["file"])["kwargs"]
    return [f"# {entry['name']}", "", f"{entry['summary']}", "", "| | |", "|---|---|",
            f"| architecture | `{entry['arch']}` {kwargs}, "
            f"{entry['params'] / 1e3:.0f}K parameters |",
            f"| task | {entry['task']} ({entry['channels']} channel{'s' if entry['channels'] > 1 else ''}) |"]


def _sources(train: str | list) -> str:
    """A recipe's ``data.train``, one source or a list of them (see source_repeat), as Markdown."""
    sources = [source_repeat(one) for one in (train if isinstance(train, list) else [train])]
    return " + ".join(f"`{path}`" + (f" (x{repeat}: each image drawn {repeat} times as often)" if repeat > 1 else "")
                      for path, repeat in sources)


def _first(limit: int | None) -> str:
    return f" (the first {limit} images)" if limit else ""


def _optimisation(recipe: dict) -> str:
    return f"{json.dumps(recipe.get('optimizer', {}))}, schedule {json.dumps(recipe.get('schedule', {}))}"


def _time_rows(rows: list[dict], recipe: dict, hardware: str, all_seconds: float | None = None) -> list[str]:
    """The steps and training-time rows of a card's table (``hardware``: threads, CPU and what shared it;
    ``all_seconds``: the time of every stage of a model trained in stages)."""
    seconds = _training_seconds(rows, recipe)
    stages = f" in this stage ({all_seconds / 3600:.2f} h in all stages, below)" if all_seconds else ""
    return [f"| steps | {rows[-1]['step'] if rows else '?'} |",
            f"| training time | {seconds / 3600:.2f} h of optimisation steps (validation excluded){stages}, "
            f"{hardware} |"]


def _training_seconds(rows: list[dict], recipe: dict) -> float:
    """Time spent in optimisation steps, from each log row's step count and patches/s (patches of
    the recipe's batch size per step)."""
    batch = int(recipe["data"].get("batch", 16))
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
    p.add_argument("--sharing", default=SHARING, help="what the CPU was shared with during training")
    p.add_argument("--threads", type=int, default=1, help="torch threads the (last) run trained with")
    p.add_argument("--benchmark", default=BENCHMARK, help="the command that makes this model's benchmark "
                   "tables or figures (Markdown)")
    p.add_argument("--weights", default="model.safetensors", help="weight file of the run to ship")
    p.add_argument("--notes", type=Path, help="Markdown file appended to the card")
    a = p.parse_args()
    print(ship(a.run, a.name, a.method, a.summary, a.priority, a.recipe, a.sharing, a.benchmark, a.weights,
               a.notes, a.threads))


if __name__ == "__main__":
    main()
