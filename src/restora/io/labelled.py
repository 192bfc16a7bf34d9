"""Labelled image sets for classification: one reader for the formats image classifiers come in.

- an idx image file (MNIST, Fashion-MNIST; the labels file beside it, see restora.io.idx);
- a folder with one subfolder of images per class (class names: the subfolder names, sorted);
- CIFAR-10 batches, the python version (pickled dicts with b'data', uint8 (N, 3072) rows of 1024
  red, 1024 green then 1024 blue values, each 32x32 row-major, and b'labels'; class names from
  ``batches.meta`` beside it) or the binary version (``*.bin``: records of one label byte and the
  same 3072 pixel bytes; class names from ``batches.meta.txt``). A source names one batch file or
  several with a glob pattern (``cifar-10-batches-py/data_batch_*``).

Python batches are unpickled with only the few constructors such a file needs (numpy arrays, bytes),
so a file that tries to run anything else is an error, not code that runs.
"""
from __future__ import annotations

import glob
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restora.errors import RestoraError
from restora.io.files import list_images
from restora.io.idx import is_idx, read_digits
from restora.io.image import read_image

CIFAR_SIDE = 32
CIFAR_PIXELS = 3 * CIFAR_SIDE * CIFAR_SIDE


@dataclass
class LabelledImages:
    """images: uint8 (N, C, H, W) in 0-255; labels: int64 (N,), indices into ``classes``; classes:
    the class names, or None where the source has none (idx files, CIFAR batches without meta)."""
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str] | None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, part: slice) -> "LabelledImages":
        return LabelledImages(self.images[part], self.labels[part], self.classes)

    @staticmethod
    def join(parts: list["LabelledImages"], what: str = "the sources") -> "LabelledImages":
        """Several sets as one (their classes must agree; ``what`` names them in the error)."""
        if any(p.classes != parts[0].classes for p in parts):
            raise RestoraError(f"{what} name different classes")
        if any(p.images.shape[1:] != parts[0].images.shape[1:] for p in parts):
            raise RestoraError(f"{what} hold images of different shapes")
        return LabelledImages(torch.cat([p.images for p in parts]), torch.cat([p.labels for p in parts]),
                              parts[0].classes)


def to_channels(x: torch.Tensor, channels: int | None) -> torch.Tensor:
    """(N, C, H, W) with C 1 or 3 -> ``channels`` (gray: the mean of R, G, B; RGB: gray repeated)."""
    if channels is None or x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1)
    return x.float().mean(1, keepdim=True).round().to(x.dtype)


def resize_square(x: torch.Tensor, size: int | None) -> torch.Tensor:
    """uint8 (N, C, H, W) -> (N, C, size, size), bilinear with antialiasing; unchanged without size."""
    if size is None or x.shape[-2:] == (size, size):
        return x
    return torch.cat([F.interpolate(chunk.float(), size=(size, size), mode="bilinear", antialias=True,
                                    align_corners=False).round().clamp(0, 255).to(torch.uint8)
                      for chunk in x.split(1000)])


def read_labelled(source: str | Path, channels: int | None = None, size: int | None = None) -> LabelledImages:
    """The labelled images of a source (see the module docstring), with ``channels`` (1 or 3; None:
    as stored) and resized to ``size`` x ``size`` (None: as stored, then all images must share one
    size). RestoraError (one line) for a source that is none of these formats or is damaged."""
    text = str(source)
    path = Path(text)
    if is_idx(path):
        data = _read_idx(path)
    elif path.is_dir():
        data = _read_class_folders(path, channels, size)
    else:
        files = sorted(glob.glob(text)) if glob.has_magic(text) else [text] if path.is_file() else []
        if not files:
            raise RestoraError(f"{source}: no such file, folder or CIFAR batch")
        data = _read_cifar([Path(f) for f in files])
    return LabelledImages(resize_square(to_channels(data.images, channels), size), data.labels, data.classes)


def _read_idx(path: Path) -> LabelledImages:
    images, labels = read_digits(path)
    if labels is None:
        raise RestoraError(f"{path}: no labels file beside it (a *-labels-idx1-ubyte file)")
    return LabelledImages(torch.from_numpy(images)[:, None], torch.from_numpy(labels).long(), None)


def _read_class_folders(root: Path, channels: int | None, size: int | None) -> LabelledImages:
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise RestoraError(f"{root}: no class subfolders (expected one folder of images per class)")
    images, labels = [], []
    for label, name in enumerate(classes):
        for file, _ in list_images([root / name]):
            x = (read_image(file).data * 255).round().to(torch.uint8)[None]
            x = resize_square(to_channels(x, channels), size)[0]
            if images and x.shape != images[0].shape:
                raise RestoraError(f"{file}: (C, H, W) {tuple(x.shape)} differs from the first image's "
                                   f"{tuple(images[0].shape)} (every image of a class-folder tree needs the "
                                   "channels and size of the others, or the classifier's)")
            images.append(x)
            labels.append(label)
    return LabelledImages(torch.stack(images), torch.tensor(labels), classes)


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR python batches: numpy arrays, bytes and builtin containers, nothing else."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def _unpickle(path: Path) -> dict:
    try:
        batch = _BatchUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as exc:
        raise RestoraError(f"{path}: not a CIFAR python batch ({exc})") from None
    if not isinstance(batch, dict):
        raise RestoraError(f"{path}: not a CIFAR python batch (a {type(batch).__name__}, not a dict)")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _cifar_python(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    labels = batch.get("labels", batch.get("fine_labels"))
    if "data" not in batch or labels is None:
        raise RestoraError(f"{path}: a CIFAR python batch holds 'data' and 'labels', this one {sorted(batch)}")
    return np.asarray(batch["data"], dtype=np.uint8), np.asarray(labels, dtype=np.int64)


def _cifar_binary(path: Path) -> tuple[np.ndarray, np.ndarray]:
    raw = np.frombuffer(path.read_bytes(), np.uint8)
    if raw.size == 0 or raw.size % (CIFAR_PIXELS + 1):
        raise RestoraError(f"{path}: {raw.size} bytes is not a whole number of CIFAR-10 records "
                           f"({CIFAR_PIXELS + 1} bytes each)")
    records = raw.reshape(-1, CIFAR_PIXELS + 1)
    return records[:, 1:], records[:, 0].astype(np.int64)


def _cifar_classes(folder: Path) -> list[str] | None:
    """Class names from ``batches.meta`` (python) or ``batches.meta.txt`` (binary) in ``folder``."""
    if (folder / "batches.meta").is_file():
        names = _unpickle(folder / "batches.meta").get("label_names")
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names] if names else None
    if (folder / "batches.meta.txt").is_file():
        return [line.strip() for line in (folder / "batches.meta.txt").read_text().splitlines() if line.strip()] or None
    return None


def _read_cifar(files: list[Path]) -> LabelledImages:
    data, labels = [], []
    for f in files:
        pixels, targets = _cifar_binary(f) if f.suffix == ".bin" else _cifar_python(f)
        if pixels.ndim != 2 or pixels.shape[1] != CIFAR_PIXELS or len(pixels) != len(targets):
            raise RestoraError(f"{f}: CIFAR data must be (N, {CIFAR_PIXELS}) with N labels, not "
                               f"{pixels.shape} with {len(targets)}")
        data.append(pixels)
        labels.append(targets)
    images = torch.from_numpy(np.concatenate(data).reshape(-1, 3, CIFAR_SIDE, CIFAR_SIDE).copy())
    return LabelledImages(images, torch.from_numpy(np.concatenate(labels)), _cifar_classes(files[0].parent))
