"""``restora ship RUN_DIR``: put a finished training run into a model zoo: weights, index entry,
model card.

The card is a pure function of the run folder: the engine wrote there the recipe as run with every
default filled (``recipe.yaml``), its log (``log.csv``), and ``run.json`` (the recipe file, the
threads and machine it trained on, facts of the objective such as the GAN's training faces, and
every earlier stage of a model trained in stages: recipe file, recipe and log of each run in its
``init:`` chain). The card holds data, recipe, steps, training time, the commands that reproduce
it, the validation curve and best validation PSNR/SSIM (docs/protocols.md), each earlier stage's
recipe, time and curve; for a VAE (``objective: vae``) the held-out ELBO instead, for a GAN the
losses per epoch, for a classifier (``objective: classification``) the validation accuracy and the
test metrics the run wrote (``test.json``). Only what a person decides comes from the command line: the model's name,
method, summary and priority, what shared the machine during training, where its benchmark
tables are, and notes to append.
"""
from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from restora.nets.blocks import ResBlock
from restora.train.data import source_repeat
from restora.zoo import add_model, load_net, read_metadata

SHARING = "sharing it with one other training run"
BENCHMARK = "`make bench` (README)"
RUN_FACTS = "run.json"


@dataclass
class Run:
    """What a run folder holds: the resolved recipe, the log rows and the facts of ``run.json``."""

    folder: Path
    recipe: dict[str, Any]
    rows: list[dict[str, str]]
    facts: dict[str, Any]

    @classmethod
    def read(cls, folder: Path) -> "Run":
        facts_file = folder / RUN_FACTS
        return cls(folder, yaml.safe_load((folder / "recipe.yaml").read_text()), read_log(folder),
                   json.loads(facts_file.read_text()) if facts_file.is_file() else {})

    @property
    def recipe_file(self) -> str:
        return self.facts.get("recipe_file") or f"{self.folder}/recipe.yaml"

    @property
    def threads(self) -> int:
        return int(self.facts.get("threads", 1))

    @property
    def hardware(self) -> str:
        threads = "one torch thread" if self.threads == 1 else f"{self.threads} torch threads"
        return f"{threads} on a {self.facts.get('machine', 'CPU')}"

    def stages(self) -> list[tuple[str, dict, list[dict]]]:
        """Every stage of the model, first to this run, as (recipe file, recipe, log rows)."""
        earlier = [(s["recipe_file"], s["recipe"], s["log"]) for s in self.facts.get("stages", [])]
        return earlier + [(self.recipe_file, self.recipe, self.rows)]


def ship(run_dir: Path, name: str, method: str, summary: str, priority: int = 10, sharing: str = SHARING,
         benchmark: str = BENCHMARK, weights_file: str = "model.safetensors", notes: Sequence[Path] = (),
         zoo: Path | None = None) -> Path:
    """Copy the run's weights into the zoo (default: the active one) with an index entry and a card
    (``notes``, Markdown files, appended in order); returns the card's path."""
    run = Run.read(run_dir)
    weights = run_dir / weights_file
    net = load_net(weights)
    meta = read_metadata(weights)
    kwargs = json.loads(meta["kwargs"])
    entry = {"name": name, "task": meta.get("task") or run.recipe.get("task", "denoise"), "method": method,
             "file": f"{name}.safetensors", "card": f"{name}.md", "arch": meta["arch"],
             "channels": int(kwargs.get("channels", 1)),
             "params": sum(p.numel() for p in net.parameters()), "summary": summary, "priority": priority}
    if run.recipe.get("scale"):  # a super-resolver's (stated once in its recipe)
        entry["scale"] = int(run.recipe["scale"])
    write = {"vae": _vae_card, "gan": _gan_card, "classification": _classifier_card}.get(run.recipe.get("objective")) \
        or partial(_card, net=net)
    text = write(entry, run, f"{run.hardware}, {sharing}", benchmark, meta["kwargs"])
    return add_model(weights, entry, "\n".join([text] + [n.read_text() for n in notes]), zoo)


_PROTOCOLS = {"denoise": "denoising", "denoise-digits": "denoising", "upscale": "super-resolution",
              "inpaint": "inpainting", "deblur": "deblurring", "dejpeg": "JPEG artefact removal"}


def _card(entry: dict, run: Run, hardware: str, benchmark: str, kwargs: str, net) -> str:
    recipe, rows, recipe_file = run.recipe, run.rows, run.recipe_file
    val_rows = _val_rows(rows)
    best = max(val_rows, key=lambda r: float(r["psnr"])) if val_rows else {}
    settings = _settings(best)
    stages = run.stages()
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
        *_head(entry, kwargs),
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
        f"## Validation during training (restora's engine, the {_PROTOCOLS[entry['task']]} protocol of "
        "docs/protocols.md)", "",
        "| setting | PSNR (dB) | SSIM |", "|---|---|---|",
        *[f"| {s} | {float(best['psnr_' + s]):.2f} | {float(best['ssim_' + s]):.4f} |" for s in settings], "",
        "## Validation curve", "", *_curve(val_rows, settings), "",
    ]
    if len(stages) > 1:
        lines += _stage_lines(stages)
    return "\n".join(lines)


_STAGE_FOLDERS = " (each into its default folder runs/<recipe name>, where the next stage's `init:` finds it)"


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
    """The validation settings (sigma15, x3, center, ...) of a log row, in the order validation ran them."""
    return [k[5:] for k in row if k.startswith("psnr_")]


def _val_rows(rows: list[dict]) -> list[dict]:
    """The log rows that carry validation results."""
    return [r for r in rows if r.get("psnr")]


def _curve(val_rows: list[dict], settings: list[str]) -> list[str]:
    """Markdown table of validation PSNR per step and setting."""
    return ["| step | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings),
            *[f"| {r['step']} | " + " | ".join(f"{float(r['psnr_' + s]):.2f}" for s in settings) + " |"
              for r in val_rows]]


def read_log(folder: Path) -> list[dict]:
    """The rows of a run's log.csv (values as text)."""
    with (folder / "log.csv").open() as f:
        return list(csv.DictReader(f))


def _vae_card(entry: dict, run: Run, hardware: str, benchmark: str, kwargs: str) -> str:
    """A VAE's card: the held-out negative ELBO (reconstruction + KL, nats per image) at the last
    step, and its curve at every validation step."""
    recipe, rows, recipe_file = run.recipe, run.rows, run.recipe_file
    data = recipe["data"]
    val_rows = [r for r in rows if r.get("val_loss")]
    last = val_rows[-1] if val_rows else {}
    lines = [
        *_head(entry, kwargs),
        f"| training data | {_sources(data['train'])} (whole images, batch {data.get('batch', 128)}) |",
        f"| recipe | `{recipe_file}` (loss: negative ELBO = Bernoulli cross-entropy of the gray levels summed "
        f"over the pixels + KL to N(0, I); {_optimisation(recipe)}) |",
        *_time_rows(rows, recipe, hardware),
        f"| held out | `{data['val']}`, never trained on |",
        f"| reproduce | `OMP_NUM_THREADS={run.threads} restora train {recipe_file} --out runs/{entry['name']}`; the figures "
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


def _gan_card(entry: dict, run: Run, hardware: str, benchmark: str, kwargs: str) -> str:
    """A GAN's card (generator or discriminator of one run): data, schedule, time, losses per epoch."""
    recipe, rows, recipe_file = run.recipe, run.rows, run.recipe_file
    data, gan = recipe["data"], recipe.get("gan", {})
    holdout = int(data.get("holdout", 500))
    faces = int(run.facts["faces"])
    per_epoch = max(1, faces // (int(data.get("batch", 64)) * int(gan.get("d_steps", 1))))
    steps = int(rows[-1]["step"]) if rows else 0
    lines = [
        *_head(entry, kwargs),
        f"| training data | `{data['train']}` without its last {holdout} files (held out for evaluation): {faces} "
        f"faces, 64x64 face frame (centred square of 72% of the width, `restora.faces`), random left-right "
        f"flips, batch {data.get('batch', 64)} |",
        f"| recipe | `{recipe_file}` ({gan.get('d_steps', 1)} discriminator step : {gan.get('g_steps', 2)} generator "
        f"steps, BCE on logits, real label {gan.get('real_label', 0.9)}; {_optimisation(recipe)}) |",
        *_time_rows(rows, recipe, hardware),
        f"| epochs | {steps / per_epoch:.1f} ({per_epoch} steps of {data.get('batch', 64)} real faces each) |",
        f"| reproduce | `OMP_NUM_THREADS={run.threads} restora train {recipe_file} --out runs/{Path(recipe_file).stem}` "
        f"(model.safetensors: the generator, discriminator.safetensors, log.csv, curves.png, fixed-z grids in "
        f"samples/epoch_NNN.png); samples from the shipped model: {benchmark} |", "",
        "## Losses per epoch (means over the epoch's steps; D(x), D(G(z)): the discriminator's mean "
        "probabilities on real and generated faces)", "",
        "| epoch | loss D | loss G | D(x) | D(G(z)) |", "|---|---|---|---|---|",
        *[f"| {epoch} | " + " | ".join(f"{value:.3f}" for value in means) + " |"
          for epoch, means in epoch_means(rows, per_epoch, ("loss_d", "loss_g", "d_real", "d_fake"))], "",
    ]
    return "\n".join(lines)


def _classifier_card(entry: dict, run: Run, hardware: str, benchmark: str, kwargs: str) -> str:
    """A classifier's card: data, augmentation, recipe, time, the test metrics of ``test.json`` (the
    exported weights on the recipe's ``classify.test`` source) and the validation curve."""
    recipe, rows, recipe_file, facts = run.recipe, run.rows, run.recipe_file, run.facts
    data, spec = recipe["data"], recipe.get("classify", {})
    batch, train_images = int(data.get("batch", 128)), int(facts.get("train_images", 0))
    steps = int(rows[-1]["step"]) if rows else 0
    val_rows = [r for r in rows if r.get("accuracy")]
    best = max(val_rows, key=lambda r: float(r["accuracy"])) if val_rows else {}
    test_file = run.folder / "test.json"
    test = json.loads(test_file.read_text()) if test_file.is_file() else None
    epochs = f" ({steps * batch / train_images:.1f} epochs)" if train_images else ""
    lines = [
        *_head(entry, kwargs),
        f"| classes | {', '.join(facts.get('classes', []))} |",
        f"| training data | {_sources(data['train'])}: {train_images} images, whole, batch {batch}, augmentation: "
        f"{', '.join(spec.get('augment', [])) or 'none'} (restora.augment) |",
        *(["| flip averaging | the probabilities are the mean over each image and its left-right mirror image "
           "(in validation, test and use) |"] if spec.get("flip_average") else []),
        f"| recipe | `{recipe_file}` (cross-entropy, label smoothing {spec.get('label_smoothing', 0)}; "
        f"{_optimisation(recipe)}) |",
        f"| steps | {steps}{epochs} |",
        *_time_rows(rows, recipe, hardware)[1:],
        f"| validation | `{data.get('val')}`: {facts.get('val_images', '?')} images; the exported weights are the "
        f"best validation accuracy's, {100 * float(best['accuracy']):.2f} % at step {best['step']} |" if best else
        "| validation | none: the exported weights are the last step's |",
        f"| reproduce | `OMP_NUM_THREADS={run.threads} restora train {recipe_file} --out runs/{entry['name']}` (test.json and "
        f"confusion.png in that folder); `restora evaluate-classifier SOURCE --model {entry['name']}`; {benchmark} |",
        "",
    ]
    if test:
        lines += _test_lines(test)
    lines += ["## Validation curve", "",
              "| step | accuracy (%) | cross-entropy | training loss | training accuracy (%, augmented batches) |",
              "|---|---|---|---|---|",
              *[f"| {r['step']} | {100 * float(r['accuracy']):.2f} | {float(r['val_loss']):.4f} | "
                f"{float(r['loss']):.4f} | {100 * float(r['train_accuracy']):.2f} |" for r in val_rows], ""]
    return "\n".join(lines)


def _test_lines(test: dict) -> list[str]:
    """A card's test section: the metrics of restora.metrics.classification.classification_report."""
    names = [c["name"] for c in test["classes"]]
    return [
        f"## Test set: `{test['source']}` ({test['images']} images, never trained on or selected with)", "",
        "| accuracy (%) | macro precision | macro recall | macro F1 | ECE | cross-entropy |", "|---|---|---|---|---|---|",
        f"| {100 * test['accuracy']:.2f} | {test['macro_precision']:.4f} | {test['macro_recall']:.4f} | "
        f"{test['macro_f1']:.4f} | {test['ece']:.4f} | {test['loss']:.4f} |", "",
        "| class | precision | recall | F1 | images |", "|---|---|---|---|---|",
        *[f"| {c['name']} | {c['precision']:.4f} | {c['recall']:.4f} | {c['f1']:.4f} | {c['support']} |"
          for c in test["classes"]], "",
        "Confusion matrix (rows: true class, columns: predicted):", "",
        "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names),
        *[f"| {name} | " + " | ".join(map(str, row)) + " |" for name, row in zip(names, test["confusion"])], "",
    ]


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


def _head(entry: dict, kwargs: str) -> list[str]:
    """Title, summary and the architecture (with the weight file's build arguments, JSON) and task rows
    of a card's table."""
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
