"""Reading and writing images as float32 tensors in [0, 1], shape (C, H, W).

An :class:`Image` remembers what the file was (mode, bit depth, alpha, ICC profile) so the
written result keeps the input's mode and bit depth and carries alpha and colour profile through.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import ImageOps, UnidentifiedImageError

from restora.errors import RestoraError
from restora.io.atomic import atomic_path

DEFAULT_MAX_PIXELS = 100_000_000
_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                 ".webp": "WEBP", ".bmp": "BMP"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}


@dataclass
class Image:
    """A decoded image.

    data: float32 tensor (C, H, W) in [0, 1], C = 1 (gray) or 3 (RGB).
    alpha: float32 tensor (1, H, W) in [0, 1], or None.
    bits: 8 or 16, the bit depth written back.
    icc: the ICC profile bytes of the source, or None.
    """

    data: torch.Tensor
    alpha: torch.Tensor | None = None
    bits: int = 8
    icc: bytes | None = None
    source: str | None = None

    @property
    def channels(self) -> int:
        return self.data.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return tuple(self.data.shape[1:])

    def with_data(self, data: torch.Tensor, alpha: torch.Tensor | None = None) -> "Image":
        """Same metadata, new pixels; alpha is kept when it still fits, else replaced by ``alpha``."""
        if alpha is None and self.alpha is not None and self.alpha.shape[1:] == data.shape[1:]:
            alpha = self.alpha
        return replace(self, data=data.clamp(0, 1), alpha=alpha)

    @classmethod
    def from_array(cls, array: np.ndarray, source: str | None = None) -> "Image":
        """From an (H, W) or (H, W, C) uint8/uint16/float array (floats taken as [0, 1])."""
        if array.ndim == 2:
            array = array[:, :, None]
        bits = 16 if array.dtype == np.uint16 else 8
        scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(array.dtype, 1.0)
        data = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32) / scale).permute(2, 0, 1)
        alpha = None
        if data.shape[0] in (2, 4):
            data, alpha = data[:-1], data[-1:]
        return cls(data=data.contiguous(), alpha=alpha, bits=bits, source=source)


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Decode ``path`` into an :class:`Image`, applying EXIF orientation.

    Accepts gray, gray+alpha, RGB, RGBA, palette, CMYK and 16-bit files. Raises RestoraError
    (one line, naming the file) for missing, unreadable, truncated, empty or too large images.
    """
    path = Path(path)
    if not path.is_file():
        raise RestoraError(f"{path}: no such file")
    try:
        with PILImage.open(path) as pil:
            width, height = pil.size
            if width == 0 or height == 0:
                raise RestoraError(f"{path}: image has zero size")
            if max_pixels and width * height > max_pixels:
                raise RestoraError(f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
                                   f"over the limit of {max_pixels / 1e6:.0f} (raise it with --max-pixels)")
            sixteen_bit_colour = pil.mode in ("RGB", "RGBA") and ";16" in str(pil.tile[0].args if pil.tile else "")
            pil.load()
            icc = pil.info.get("icc_profile")
            pil = ImageOps.exif_transpose(pil)
            array = _read_16bit_colour(path) if sixteen_bit_colour else _to_array(pil)
    except RestoraError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise RestoraError(f"{path}: too many pixels ({exc})") from None
    except UnidentifiedImageError:
        raise RestoraError(f"{path}: not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise RestoraError(f"{path}: cannot decode image ({exc})") from None
    image = Image.from_array(array, source=str(path))
    image.icc = icc
    return image


def _read_16bit_colour(path: Path) -> np.ndarray:
    """Pillow decodes 16-bit RGB(A) to 8 bits; OpenCV keeps all 16 (BGR order, reversed here)."""
    import cv2

    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None or array.ndim != 3:
        raise RestoraError(f"{path}: cannot decode 16-bit colour image")
    order = [2, 1, 0] + ([3] if array.shape[2] == 4 else [])
    return np.ascontiguousarray(array[:, :, order])


def _to_array(pil: PILImage.Image) -> np.ndarray:
    """Pillow image to an (H, W[, C]) uint8 or uint16 array with gray, gray+alpha, RGB or RGBA."""
    if pil.mode in _SIXTEEN_BIT_MODES:
        array = np.asarray(pil).astype(np.int64)
        if pil.mode == "I" and array.max(initial=0) <= 255:
            return array.astype(np.uint8)
        return np.clip(array, 0, 65535).astype(np.uint16)
    if pil.mode in ("F",):
        return np.clip(np.asarray(pil), 0, 255).astype(np.uint8)
    if pil.mode == "1":
        pil = pil.convert("L")
    elif pil.mode == "P":
        pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
    elif pil.mode == "PA":
        pil = pil.convert("RGBA")
    elif pil.mode not in ("L", "LA", "RGB", "RGBA"):
        pil = pil.convert("RGBA" if "A" in pil.mode else "RGB")
    return np.asarray(pil)


def to_pil(image: Image) -> PILImage.Image:
    """The Pillow image to save: 8-bit L/LA/RGB/RGBA, or 16-bit gray as 'I;16'.

    16-bit colour is written through OpenCV-free numpy packing by :func:`write_image`.
    """
    data = image.data if image.alpha is None else torch.cat([image.data, image.alpha])
    array = data.clamp(0, 1).permute(1, 2, 0).numpy()
    if image.bits == 16 and image.alpha is None and image.channels == 1:
        return PILImage.fromarray(np.round(array[:, :, 0] * 65535).astype(np.uint16))
    array8 = np.round(array * 255).astype(np.uint8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array8.shape[2]]
    return PILImage.fromarray(array8[:, :, 0] if mode == "L" else array8, mode)


def write_image(image: Image, path: str | os.PathLike, overwrite: bool = False, quality: int = 95) -> Path:
    """Write ``image`` to ``path`` atomically (temporary file in the same folder, then rename).

    Refuses to replace an existing file unless ``overwrite``, and never writes over the image's
    own source file. 16-bit input is written as 16-bit PNG/TIFF; other formats get 8 bits.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SAVE_FORMATS:
        raise RestoraError(f"{path}: unsupported output format '{suffix or '(none)'}' "
                           f"(use one of {', '.join(sorted(_SAVE_FORMATS))})")
    if image.source and path.exists() and path.resolve() == Path(image.source).resolve():
        raise RestoraError(f"{path}: refusing to write over the input file")
    if path.exists() and not overwrite:
        raise RestoraError(f"{path}: exists already (pass --overwrite to replace it)")
    fmt = _SAVE_FORMATS[suffix]
    with atomic_path(path) as tmp:
        if image.bits == 16 and fmt in ("PNG", "TIFF") and not (image.channels == 1 and image.alpha is None):
            _write_16bit_colour(image, tmp, fmt)
        else:
            pil = to_pil(image)
            kwargs = {"icc_profile": image.icc} if image.icc else {}
            if fmt == "JPEG":
                pil = pil.convert("RGB" if image.channels == 3 else "L")
                kwargs["quality"] = quality
            elif fmt == "WEBP":
                kwargs["quality"] = quality
            pil.save(tmp, format=fmt, **kwargs)
    return path


def _write_16bit_colour(image: Image, tmp: Path, fmt: str) -> None:
    """16-bit RGB(A)/gray+alpha: Pillow cannot write these, OpenCV can (BGR order)."""
    import cv2

    data = image.data if image.alpha is None else torch.cat([image.data, image.alpha])
    array = np.round(data.clamp(0, 1).permute(1, 2, 0).numpy() * 65535).astype(np.uint16)
    if array.shape[2] == 2:  # gray + alpha has no 16-bit form: widen to RGBA
        array = np.concatenate([array[:, :, :1]] * 3 + [array[:, :, 1:]], axis=2)
    array = array[:, :, [2, 1, 0] + ([3] if array.shape[2] == 4 else [])]
    ext = ".png" if fmt == "PNG" else ".tif"
    ok, buf = cv2.imencode(ext, array)
    if not ok:
        raise RestoraError(f"{tmp}: OpenCV could not encode a 16-bit {fmt}")
    tmp.write_bytes(buf.tobytes())
