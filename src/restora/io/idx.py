"""MNIST-style idx files (``*-idx3-ubyte`` images, ``*-idx1-ubyte`` labels), optionally gzip-compressed.

An idx file is a 4-byte magic (two zero bytes, a type code, the number of dimensions), one
big-endian uint32 per dimension, then the values in C order. Only unsigned bytes (type 0x08), the
type of MNIST and Fashion-MNIST, are read.
"""
from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import numpy as np

from restora.errors import RestoraError

UBYTE = 0x08
_NAME = re.compile(r"idx\d-ubyte(\.gz)?$")


def is_idx(path: str | Path) -> bool:
    """Whether a file name is an idx file's (``...idx3-ubyte`` or ``...idx1-ubyte.gz``)."""
    return bool(_NAME.search(Path(path).name))


def read_idx(path: str | Path) -> np.ndarray:
    """The uint8 array of an idx file, shaped by its header: (N, 28, 28) images, (N,) labels."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise RestoraError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise RestoraError(f"{path}: unreadable gzip data ({exc})") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != UBYTE or raw[3] == 0:
        raise RestoraError(f"{path}: not an unsigned-byte idx file (bad header)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise RestoraError(f"{path}: truncated idx header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, 4))
    size = int(np.prod(shape))
    if len(raw) - header != size:
        raise RestoraError(f"{path}: idx data holds {len(raw) - header} bytes, its header {shape} needs {size}")
    return np.frombuffer(raw, np.uint8, size, header).reshape(shape).copy()  # writable


def read_digits(path: str | Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (N, H, W) uint8 in 0-255 of an idx3 file and their class labels (N,) uint8 from the
    sibling labels file (``*-images-idx3-ubyte*`` -> ``*-labels-idx1-ubyte*``), or None without one."""
    path = Path(path)
    images = read_idx(path)
    if images.ndim != 3:
        raise RestoraError(f"{path}: an idx image file has 3 dimensions (N, H, W), this one {images.ndim}")
    labels_path = path.with_name(path.name.replace("images-idx3", "labels-idx1"))
    if labels_path == path or not labels_path.is_file():
        return images, None
    labels = read_idx(labels_path)
    if labels.shape != images.shape[:1]:
        raise RestoraError(f"{labels_path}: {labels.shape} labels for {len(images)} images")
    return images, labels
