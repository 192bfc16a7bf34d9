"""A JPEG file's quality, read back from its quantisation tables (what the IJG encoder made of it)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage

from restora.errors import RestoraError

# The IJG standard luminance table (JPEG Annex K, natural order): quality q scales it (see ijg_table).
LUMA_TABLE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])


def check_quality(quality: float) -> int:
    """``quality`` as an int in 1..100, or RestoraError."""
    if not (float(quality).is_integer() and 1 <= quality <= 100):
        raise RestoraError(f"JPEG quality {quality} must be an integer from 1 to 100")
    return int(quality)


def ijg_table(quality: int) -> np.ndarray:
    """The luminance quantisation table (64, natural order) the IJG encoder uses at ``quality``."""
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((LUMA_TABLE * scale + 50) // 100, 1, 255)


def quality_from_table(table: list[int] | np.ndarray) -> int:
    """The IJG quality (1-100) whose luminance table is nearest (mean absolute difference) to
    ``table`` (64 values, natural order): exact for files the IJG encoder (libjpeg, Pillow, OpenCV,
    most software) wrote; for a camera's own tables, the IJG quality of about the same coarseness."""
    table = np.asarray(table, dtype=np.int64)
    if table.size != 64:
        raise RestoraError(f"a JPEG quantisation table has 64 entries, not {table.size}")
    return min(range(1, 101), key=lambda q: (np.abs(ijg_table(q) - table).mean(), -q))


def jpeg_quality(path: str | Path) -> int | None:
    """The quality a JPEG file was saved with (see quality_from_table); None for other files."""
    try:
        with PILImage.open(path) as pil:
            tables = getattr(pil, "quantization", None) if pil.format == "JPEG" else None
    except (OSError, SyntaxError, ValueError):
        return None
    return quality_from_table(tables[0]) if tables else None
