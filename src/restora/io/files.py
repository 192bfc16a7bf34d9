"""Finding input images and planning where each result goes."""
from __future__ import annotations

from pathlib import Path

from restora.errors import RestoraError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"}


def list_images(inputs: list[str | Path]) -> list[tuple[Path, Path]]:
    """Expand files and folders (recursively) into (image path, path relative to its root) pairs.

    Folders contribute only files with an image suffix, sorted; files are taken as given.
    """
    found: list[tuple[Path, Path]] = []
    for item in map(Path, inputs):
        if item.is_dir():
            files = sorted(p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not p.name.startswith("."))
            found += [(p, p.relative_to(item)) for p in files]
        elif item.is_file():
            found.append((item, Path(item.name)))
        else:
            raise RestoraError(f"{item}: no such file or folder")
    if not found:
        raise RestoraError(f"no images found in {', '.join(map(str, inputs))}")
    return found


LOSSY_SUFFIXES = {".jpg", ".jpeg"}


def plan_outputs(inputs: list[str | Path], out: str | Path, suffix: str | None = None,
                 lossless: bool = False) -> list[tuple[Path, Path]]:
    """Pair every input image with its output path.

    One input file and an ``out`` with an image suffix: ``out`` is that file. Otherwise ``out`` is a
    folder and the input tree is mirrored under it; for one input file, an ``out`` with another
    suffix that is not a folder already is an error (a mistyped format, not a folder to create).
    ``suffix`` (e.g. ".png") replaces the extension; ``lossless``: a JPEG input's output in a folder is
    a PNG (a named output file keeps the format its name asks for). No output may be an input.
    """
    images = list_images(inputs)
    out = Path(out)
    one_file = len(inputs) == 1 and Path(inputs[0]).is_file()
    if one_file and out.suffix and out.suffix.lower() not in IMAGE_SUFFIXES and not out.is_dir():
        raise RestoraError(f"{out}: unknown image format '{out.suffix}' (use one of "
                           f"{', '.join(sorted(IMAGE_SUFFIXES))}, or an existing folder)")
    single_file = len(images) == 1 and out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir()
    if len(images) > 1 and out.suffix.lower() in IMAGE_SUFFIXES and not out.is_dir():
        raise RestoraError(f"{out}: {len(images)} inputs need an output folder, not a file name")
    plan = []
    for src, rel in images:
        dst = out if single_file else out / rel
        if suffix and not single_file:
            dst = dst.with_suffix(suffix)
        elif lossless and not single_file and dst.suffix.lower() in LOSSY_SUFFIXES:
            dst = dst.with_suffix(".png")
        if dst.resolve() == src.resolve():
            raise RestoraError(f"{dst}: output would overwrite the input")
        plan.append((src, dst))
    return plan
