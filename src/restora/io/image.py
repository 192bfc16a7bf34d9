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

from restora import reporting
from restora.errors import RestoraError
from restora.io.jpeg import quality_from_table
from restora.io.atomic import atomic_path

DEFAULT_MAX_PIXELS = 100_000_000
SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF",
                 ".webp": "WEBP", ".bmp": "BMP"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N", "I"}
_SIXTEEN_BIT_FORMATS = ("PNG", "TIFF")
_ALPHA_FORMATS = ("PNG", "TIFF", "WEBP")
TIFF_MAGIC = (b"II*\0", b"MM\0*")
QUANTISE_VALUES = 1 << 22  # samples converted to integers at a time when writing (bounds float copies)
SAMPLE_TYPES = {8: torch.uint8, 16: torch.uint16}  # the integer samples of each bit depth


@dataclass
class Image:
    """A decoded image.

    data: float32 tensor (C, H, W) in [0, 1], C = 1 (gray) or 3 (RGB); or, for a result too large
        for floats, its samples as the integers written (uint8 or uint16; see Upscaler.__call__).
    alpha: float32 tensor (1, H, W) in [0, 1] (integers with integer data), or None.
    bits: 8 or 16, the bit depth written back.
    icc: the ICC profile bytes of the source, or None.
    jpeg_quality: for a JPEG source, the quality read from its quantisation tables, else None.
    """

    data: torch.Tensor
    alpha: torch.Tensor | None = None
    bits: int = 8
    icc: bytes | None = None
    source: str | None = None
    jpeg_quality: int | None = None  # the quality a JPEG source was saved with (restora.io.jpeg)

    @property
    def channels(self) -> int:
        return self.data.shape[0]

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return tuple(self.data.shape[1:])

    def with_data(self, data: torch.Tensor, alpha: torch.Tensor | None = None) -> "Image":
        """Same metadata, new pixels (clipped to [0, 1]; not copied when within it already); alpha is kept
        when it still fits, else replaced by ``alpha``."""
        if alpha is None and self.alpha is not None and self.alpha.shape[1:] == data.shape[1:]:
            alpha = self.alpha
        low, high = torch.aminmax(data)
        return replace(self, data=data if low >= 0 and high <= 1 else data.clamp(0, 1), alpha=alpha)

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


def peek_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from the file's header without decoding it; None when Pillow cannot open it."""
    try:
        with PILImage.open(path) as pil:
            return pil.size
    except (OSError, SyntaxError, ValueError, PILImage.DecompressionBombError):
        return None


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Image:
    """Decode ``path`` into an :class:`Image`, applying EXIF orientation.

    Accepts gray, gray+alpha, RGB, RGBA, palette, CMYK, 16-bit and floating-point files (floats
    outside [0, 1] are scaled into it, with a note; they are written back as 16 bits). Raises
    RestoraError (one line, naming the file) for missing, unreadable, truncated, empty or too large
    images, and for TIFFs of an unsupported type (saying which).
    """
    path = Path(path)
    if not path.is_file():
        raise RestoraError(f"{path}: no such file")
    quality = None
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
            if pil.format == "JPEG" and getattr(pil, "quantization", None):
                quality = quality_from_table(pil.quantization[0])
            pil = ImageOps.exif_transpose(pil)
            array = _read_16bit_colour(path) if sixteen_bit_colour else _to_array(pil)
    except RestoraError:
        raise
    except PILImage.DecompressionBombError as exc:
        raise RestoraError(f"{path}: too many pixels ({exc})") from None
    except UnidentifiedImageError:
        if not _is_tiff(path):
            raise RestoraError(f"{path}: not an image file Pillow can read") from None
        array, icc = _read_tiff(path, max_pixels), None
    except (OSError, SyntaxError, ValueError) as exc:
        raise RestoraError(f"{path}: cannot decode image ({exc})") from None
    floating = array.dtype.kind == "f"
    image = Image.from_array(_to_unit_range(array, path) if floating else array, source=str(path))
    image.icc, image.jpeg_quality = icc, quality
    if floating:  # more than 8 bits of precision: written back as 16 bits
        image.bits = 16
    return image


def _is_tiff(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) in TIFF_MAGIC


def _read_tiff(path: Path, max_pixels: int | None) -> np.ndarray:
    """A TIFF Pillow cannot decode (floating-point colour, 64-bit samples, ...), read with tifffile:
    (H, W[, C]) with C <= 4, uint8, uint16 or floating point; RestoraError naming what is
    unsupported otherwise."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            sizes = dict(zip(series.axes, series.shape))
            width, height = sizes.get("X", 0), sizes.get("Y", 0)
            if max_pixels and width * height > max_pixels:
                raise RestoraError(f"{path}: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
                                   f"over the limit of {max_pixels / 1e6:.0f} (raise it with --max-pixels)")
            array = series.asarray()
    except (OSError, ValueError) as exc:  # tifffile.TiffFileError is a ValueError
        raise RestoraError(f"{path}: a TIFF that cannot be decoded ({exc})") from None
    if series.axes in ("SYX", "CYX"):  # planar samples first
        array = np.moveaxis(array, 0, -1)
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] <= 4)):
        raise RestoraError(f"{path}: a TIFF of shape {array.shape} (axes {series.axes}) is not a single gray, "
                           "gray+alpha, RGB or RGBA image: unsupported")
    if array.dtype.kind != "f" and array.dtype not in (np.uint8, np.uint16):
        raise RestoraError(f"{path}: a TIFF of {array.dtype} samples: unsupported type (8- or 16-bit unsigned "
                           "integer or floating-point samples are read)")
    return array


def _to_unit_range(array: np.ndarray, path: Path) -> np.ndarray:
    """Floating-point samples as float32 in [0, 1]: as they are when within [0, 1], else divided by
    their maximum; non-finite and negative values become 0. Each change is noted."""
    array = array.astype(np.float32)
    finite = np.isfinite(array)
    if not finite.all():
        reporting.note(f"{path}: {int((~finite).sum())} non-finite samples set to 0")
        array = np.where(finite, array, np.float32(0))
    low, high = float(array.min(initial=0)), float(array.max(initial=0))
    if low < 0:
        reporting.note(f"{path}: floating-point samples down to {low:.4g}: negative values set to 0")
    if high > 1:
        reporting.note(f"{path}: floating-point samples up to {high:.4g}: divided by {high:.4g} into [0, 1]")
        array = array / np.float32(high)
    return np.clip(array, 0, 1)


def _read_16bit_colour(path: Path) -> np.ndarray:
    """Pillow decodes 16-bit RGB(A) to 8 bits; OpenCV keeps all 16 (BGR order, reversed here)."""
    import cv2

    array = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if array is None or array.ndim != 3:
        raise RestoraError(f"{path}: cannot decode 16-bit colour image")
    order = [2, 1, 0] + ([3] if array.shape[2] == 4 else [])
    return np.ascontiguousarray(array[:, :, order])


def _to_array(pil: PILImage.Image) -> np.ndarray:
    """Pillow image to an (H, W[, C]) uint8, uint16 or (mode 'F') float32 array with gray, gray+alpha,
    RGB or RGBA."""
    if pil.mode in _SIXTEEN_BIT_MODES:
        array = np.asarray(pil).astype(np.int64)
        if pil.mode == "I" and array.max(initial=0) <= 255:
            return array.astype(np.uint8)
        return np.clip(array, 0, 65535).astype(np.uint16)
    if pil.mode == "F":
        return np.asarray(pil)
    if pil.mode == "1":
        pil = pil.convert("L")
    elif pil.mode == "P":
        pil = pil.convert("RGBA" if "transparency" in pil.info else "RGB")
    elif pil.mode == "PA":
        pil = pil.convert("RGBA")
    elif pil.mode not in ("L", "LA", "RGB", "RGBA"):
        pil = pil.convert("RGBA" if "A" in pil.mode else "RGB")
    return np.asarray(pil)


def quantise_into(out: np.ndarray, x: torch.Tensor) -> None:
    """Write x (C, H, W), floats in [0, 1] (clipped) or integer samples, into ``out`` (H, W, C), uint8 or
    uint16, as its integers (rounded to nearest, ties to even), a few rows at a time so no full-size
    float copy is made."""
    levels = np.iinfo(out.dtype).max
    rows = max(1, QUANTISE_VALUES // max(1, x.shape[0] * x.shape[2]))
    for top in range(0, x.shape[1], rows):
        block = x[:, top:top + rows].permute(1, 2, 0)
        if not block.is_floating_point():
            block = block.float() / torch.iinfo(block.dtype).max
        out[top:top + rows] = block.clamp(0, 1).mul_(levels).round_().numpy()


def _quantised(image: Image, bits: int) -> np.ndarray:
    """Data and alpha as an (H, W, C) uint8 or uint16 array (see :func:`quantise_into`); integer data of
    that depth without alpha, made channels-last (Upscaler's quantised results), as it is."""
    hwc = image.data.permute(1, 2, 0)
    if image.alpha is None and hwc.dtype == SAMPLE_TYPES[bits] and hwc.is_contiguous():
        return hwc.numpy()
    planes = [image.data] + ([image.alpha] if image.alpha is not None else [])
    out = np.empty((*image.size, sum(plane.shape[0] for plane in planes)), np.uint8 if bits == 8 else np.uint16)
    start = 0
    for plane in planes:
        quantise_into(out[:, :, start:start + plane.shape[0]], plane)
        start += plane.shape[0]
    return out


def to_pil(image: Image, bits: int | None = None) -> PILImage.Image:
    """The Pillow image to save: 8-bit L/LA/RGB/RGBA, or 16-bit gray as 'I;16' when ``bits`` (default:
    the image's) is 16 and the image is one gray channel.

    16-bit colour is written through OpenCV by :func:`write_image`.
    """
    if (image.bits if bits is None else bits) == 16 and image.alpha is None and image.channels == 1:
        return PILImage.fromarray(_quantised(image, 16)[:, :, 0])
    array8 = _quantised(image, 8)
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[array8.shape[2]]
    return PILImage.fromarray(array8[:, :, 0] if mode == "L" else array8, mode)


def write_image(image: Image, path: str | os.PathLike, overwrite: bool = False, quality: int = 95) -> Path:
    """Write ``image`` to ``path`` atomically (temporary file in the same folder, then rename).

    Refuses to replace an existing file unless ``overwrite``, and never writes over the image's
    own source file. 16-bit input is written as 16-bit PNG/TIFF; other formats get 8 bits, and JPEG
    and BMP drop alpha (each loss is noted). RestoraError naming the path when it cannot be written.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SAVE_FORMATS:
        raise RestoraError(f"{path}: unsupported output format '{suffix or '(none)'}' "
                           f"(use one of {', '.join(sorted(SAVE_FORMATS))})")
    if image.source and path.exists() and path.resolve() == Path(image.source).resolve():
        raise RestoraError(f"{path}: refusing to write over the input file")
    if path.exists() and not overwrite:
        raise RestoraError(f"{path}: exists already (pass --overwrite to replace it)")
    fmt = SAVE_FORMATS[suffix]
    lost = [what for what, dropped in (("its alpha channel", image.alpha is not None and fmt not in _ALPHA_FORMATS),
                                       ("16 bits per sample", image.bits == 16 and fmt not in _SIXTEEN_BIT_FORMATS))
            if dropped]
    if lost:
        reporting.note(f"{path}: {fmt} cannot store {' or '.join(lost)}; "
                       f"written without {'them' if lost[1:] else 'it'}")
    with atomic_path(path) as tmp:
        if image.bits == 16 and fmt in _SIXTEEN_BIT_FORMATS and not (image.channels == 1 and image.alpha is None):
            _write_16bit_colour(image, tmp, fmt)
        else:
            pil = to_pil(image, image.bits if fmt in _SIXTEEN_BIT_FORMATS else 8)
            if image.alpha is not None and fmt not in _ALPHA_FORMATS:
                pil = pil.convert("RGB" if image.channels == 3 else "L")
            kwargs = {"icc_profile": image.icc} if image.icc else {}
            if fmt in ("JPEG", "WEBP"):
                kwargs["quality"] = quality
            pil.save(tmp, format=fmt, **kwargs)
    return path


def _write_16bit_colour(image: Image, tmp: Path, fmt: str) -> None:
    """16-bit RGB(A)/gray+alpha: Pillow cannot write these, OpenCV can (BGR order)."""
    import cv2

    array = _quantised(image, 16)
    if array.shape[2] == 2:  # gray + alpha has no 16-bit form: widen to RGBA
        array = np.concatenate([array[:, :, :1]] * 3 + [array[:, :, 1:]], axis=2)
    array = array[:, :, [2, 1, 0] + ([3] if array.shape[2] == 4 else [])]
    ext = ".png" if fmt == "PNG" else ".tif"
    ok, buf = cv2.imencode(ext, array)
    if not ok:
        raise OSError(f"OpenCV could not encode a 16-bit {fmt}")  # atomic_path names the file
    tmp.write_bytes(buf.tobytes())
