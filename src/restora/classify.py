"""Image classification with a trained classifier (restora.nets.classify): a shipped model or a
weight file, its class names, probabilities, top-k, and every metric on a labelled set.

A classifier's weight file holds ``task: classify`` and its class names (``classes``, JSON) in its
metadata beside the architecture; its network has ``channels`` and ``size`` (the square side it
was trained on): images are converted to those channels (gray: the mean of R, G, B) and resized
to size x size (bilinear, antialiased, aspect not kept) first, as 8-bit levels. A classifier
trained on left-right flipped images may state ``flip_average: true`` in its metadata (recipe key
``classify.flip_average``): its probabilities are then the mean over each image and its mirror image.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from restora.errors import RestoraError
from restora.io.labelled import LabelledImages, resize_square, to_channels
from restora.metrics.classification import ECE_BINS, classification_report
from restora.zoo import load_net, read_metadata, shipped_models, zoo_root

CHUNK = 500  # images per forward pass


@dataclass
class Classifier:
    """A classifier network (eval mode) with its class names (K = len(classes)); with
    ``flip_average``, probabilities are averaged over each image and its left-right mirror."""
    net: torch.nn.Module
    classes: list[str]
    flip_average: bool = False

    @property
    def channels(self) -> int:
        return self.net.channels

    @property
    def size(self) -> int:
        return self.net.size

    def prepare(self, image: torch.Tensor) -> torch.Tensor:
        """An image (C, H, W) float in [0, 1] -> uint8 (channels, size, size), as the network takes it."""
        x = (image.clamp(0, 1) * 255).round().to(torch.uint8)[None]
        return resize_square(to_channels(x, self.channels), self.size)[0]

    @torch.no_grad()
    def probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, channels, size, size) -> class probabilities float32 (N, K)."""
        device = next(self.net.parameters()).device
        was_training = self.net.training
        self.net.eval()
        out = []
        for chunk in images.split(CHUNK):
            x = chunk.to(device).float() / 255
            probs = torch.softmax(self.net(x), 1)
            if self.flip_average:
                probs = (probs + torch.softmax(self.net(x.flip(-1)), 1)) / 2
            out.append(probs.cpu())
        self.net.train(was_training)
        return torch.cat(out) if out else torch.empty(0, len(self.classes))

    def top(self, probs: torch.Tensor, k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` most probable classes of each row of probs (N, K): [(name, probability), ...]."""
        values, index = probs.topk(min(k, probs.shape[1]), dim=1)
        return [[(self.classes[i], float(v)) for v, i in zip(vs, idx)] for vs, idx in zip(values, index.tolist())]

    def labels_of(self, data: LabelledImages) -> torch.Tensor:
        """A labelled set's labels as indices into this classifier's classes: by name where the set
        names its classes (class folders, CIFAR meta), else as they are."""
        if data.classes is None:
            if len(data) and int(data.labels.max()) >= len(self.classes):
                raise RestoraError(f"label {int(data.labels.max())} in the test set, the model has "
                                   f"{len(self.classes)} classes")
            return data.labels
        unknown = [name for name in data.classes if name not in self.classes]
        if unknown:
            raise RestoraError(f"test classes {', '.join(unknown)} are not among the model's: {', '.join(self.classes)}")
        return torch.tensor([self.classes.index(name) for name in data.classes])[data.labels]

    def evaluate(self, data: LabelledImages, bins: int = ECE_BINS) -> dict[str, Any]:
        """Every metric of restora.metrics.classification.classification_report on a labelled set
        read with this classifier's channels and size."""
        return classification_report(self.probabilities(data.images), self.labels_of(data), self.classes, bins)


def class_names(meta: dict[str, str], count: int) -> list[str]:
    """The class names of a weight file's metadata, else "0", "1", ... (``count`` of them)."""
    names = json.loads(meta["classes"]) if "classes" in meta else [str(i) for i in range(count)]
    if len(names) != count:
        raise RestoraError(f"{len(names)} class names for a network of {count} classes")
    return names


def load_classifier(model: str) -> Classifier:
    """A classifier by shipped model name (see ``restora models``) or weight file (``.safetensors``)."""
    path = Path(model)
    if path.suffix != ".safetensors":
        entry = next((e for e in shipped_models() if e["name"] == model), None)
        if entry is None:
            raise RestoraError(f"unknown model '{model}' (see `restora models`, or give a .safetensors file)")
        path = zoo_root() / "weights" / entry["file"]
    net = load_net(path)
    meta = read_metadata(path)
    if meta.get("task") != "classify" or not hasattr(net, "classes"):
        raise RestoraError(f"{model}: not a classifier (its task is {meta.get('task') or 'not stated'})")
    return Classifier(net, class_names(meta, net.classes), meta.get("flip_average") == "true")
