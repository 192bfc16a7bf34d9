"""Image classification (``objective: classification`` in a recipe): images and integer labels,
cross-entropy with optional label smoothing, validation accuracy.

Each step draws ``data.batch`` training images at random (with replacement, from the data
generator, so a resumed run draws the same ones), applies the recipe's augmentations
(``classify.augment``, restora.augment) and takes one step on the cross-entropy of the network's
logits. Validation (``data.val``) reports ``accuracy`` (the fraction right, which picks the best
checkpoint) and ``val_loss`` (cross-entropy without smoothing); ``train_accuracy`` is that of the
augmented training batches. With ``classify.test``, the exported weights are evaluated on that
source at the end (restora.classify): ``test.json`` (every metric of
restora.metrics.classification) and ``confusion.png`` in the run folder, for the model card.

Recipe keys: ``net`` (a classifier of restora.nets.classify: ``classes``, ``channels``, ``size``,
...), ``data: {train, val, limit, val_limit, batch (default 128)}`` where sources are those of
restora.io.labelled (idx file, class folders, CIFAR batches) with an optional ``[start:stop]``
range (restora.train.data.split_range), ``classify: {label_smoothing, names, augment,
flip_average, test}``, ``optimizer``, ``schedule``, ``train``. The patch keys of ``data`` (patch,
flips, rescale, saturation) are not used: a classifier sees whole images.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from restora.augment import augment, parse_ops
from restora.classify import Classifier
from restora.errors import RestoraError
from restora.io import write_text_atomic
from restora.io.labelled import LabelledImages, read_labelled
from restora.metrics.classification import plot_confusion
from restora.nets import build_net
from restora.train.data import source_repeat, split_range
from restora.train.objectives.registry import register_objective
from restora.train.optim import make_optimizer, optimizer_step
from restora.zoo import save_weights

if TYPE_CHECKING:  # the recipe module needs the objectives' defaults: no import at run time
    from restora.train.recipe import Recipe


def read_split(source: str | list, channels: int, size: int, limit: int | None = None) -> LabelledImages:
    """The labelled images of a recipe source: one source (with an optional ``[start:stop]`` range)
    or a list of them (see source_repeat), each cut to its first ``limit``; the classes of a list's
    sources must agree."""
    parts: list[LabelledImages] = []
    for one in source if isinstance(source, list) else [source]:
        path, repeat = source_repeat(one)
        resolved, part = split_range(path)
        parts += [read_labelled(resolved, channels, size).subset(part).subset(slice(limit))] * repeat
    return LabelledImages.join(parts, f"recipe: the sources of {source}")


@register_objective("classification")
class ClassificationObjective:
    """One classifier, one optimiser; whole images (``patches`` counts images)."""

    defaults = {"task": "classify", "classify": {}, "data": {"batch": 128}}
    requires = ()
    score = "accuracy"  # the engine keeps the checkpoint of the best validation accuracy

    def __init__(self, recipe: Recipe, device: torch.device, gen: torch.Generator):
        self.net = build_net(recipe.net.name, **recipe.net.args).to(device).to(memory_format=torch.channels_last)
        if not hasattr(self.net, "classes"):
            raise RestoraError(f"recipe: {recipe.net.name} is not a classifier (see restora.nets.classify)")
        data, spec = recipe.data, recipe.classify
        if data.rescale or data.saturation:
            raise RestoraError("recipe: data.rescale and data.saturation are patch augmentations; a classifier's "
                               "are classify.augment")
        read = dict(channels=self.net.channels, size=self.net.size)
        self.train_set = read_split(data.train, limit=data.limit, **read)
        self.names = spec.names or self.train_set.classes or [str(i) for i in range(self.net.classes)]
        self.classifier = Classifier(self.net, self.names, spec.flip_average)
        if len(self.names) != self.net.classes:
            raise RestoraError(f"recipe: {len(self.names)} class names for a network of {self.net.classes} classes")
        self.train_labels = self.classifier.labels_of(self.train_set)
        self.val_set = read_split(data.val, limit=data.val_limit, **read) if data.val else None
        self.val_labels = self.classifier.labels_of(self.val_set) if self.val_set else None
        self.test, self.read = spec.test, read
        self.ops = parse_ops(spec.augment) if spec.augment else []
        self.smoothing, self.batch, self.device = spec.label_smoothing, data.batch, device
        self.modules = {"net": self.net}
        self.optimizers = {"net": make_optimizer(self.net.parameters(), recipe.optimizer)}
        self.train_module = self.net  # replaced by the DDP wrapper when distributed
        self.scores: dict[str, float] = {}

    def facts(self) -> dict[str, object]:
        """For run.json: the number of training and validation images and the class names."""
        return {"train_images": len(self.train_set), "val_images": len(self.val_set) if self.val_set else 0,
                "classes": self.names}

    def train_step(self, gen: torch.Generator) -> dict[str, float]:
        index = torch.randint(len(self.train_set), (self.batch,), generator=gen)
        x = self.train_set.images[index].float() / 255
        if self.ops:
            x = augment(x, self.ops, gen)
        target = self.train_labels[index].to(self.device)
        logits = self.train_module(x.to(self.device).contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits, target, label_smoothing=self.smoothing)
        optimizer_step(self.optimizers["net"], loss)
        right = (logits.argmax(1) == target).float().mean()
        return {"loss": loss.item(), "train_accuracy": right.item(), "patches": self.batch}

    def validate(self) -> dict[str, float]:
        if self.val_set is None:
            return {}
        probs = self.classifier.probabilities(self.val_set.images)
        nll = F.nll_loss(probs.clamp(min=1e-12).log(), self.val_labels)
        self.scores = {"accuracy": float((probs.argmax(1) == self.val_labels).float().mean()), "val_loss": float(nll)}
        return self.scores

    def export(self, path: Path, recipe: Recipe, extra: dict[str, str]) -> None:
        """The weights with the task, class names and step count (and the best validation accuracy)
        in the metadata; with ``classify.test``, test.json and confusion.png beside them."""
        meta = {"task": recipe.task, "classes": json.dumps(self.names), "steps": extra["steps"]}
        if self.classifier.flip_average:
            meta["flip_average"] = "true"
        if self.val_set is not None:
            meta["best_accuracy"] = extra["best_accuracy"]
        save_weights(self.net, path, recipe.net.name, recipe.net.args, meta)
        if self.test:
            report = self.classifier.evaluate(read_split(self.test, **self.read))
            write_text_atomic(path.parent / "test.json", json.dumps({"source": self.test, **report}, indent=1) + "\n")
            plot_confusion(report["confusion"], self.names, path.parent / "confusion.png",
                           f"{self.test}: accuracy {100 * report['accuracy']:.2f} %")
