"""restora.io: formats, modes and bit depths, alpha, EXIF, ICC, bad files, atomic never-overwrite writes."""
from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from PIL import ImageCms
from skimage import data as skdata

from restora.errors import RestoraError
from restora.io import Image, list_images, plan_outputs, read_image, write_image
from restora.methods import get_method

RGB = skdata.astronaut()[100:164, 180:260]  # (64, 80, 3) uint8
GRAY = skdata.camera()[100:164, 180:260]


@pytest.mark.parametrize("suffix, tolerance", [(".png", 0), (".tif", 0), (".bmp", 0), (".webp", 12), (".jpg", 12)])
def test_every_format_round_trips(tmp_path, suffix, tolerance):
    path = write_image(Image.from_array(RGB), tmp_path / f"x{suffix}")
    back = read_image(path)
    assert back.data.shape == (3, 64, 80) and back.bits == 8 and back.alpha is None
    error = np.abs(np.round(back.data.permute(1, 2, 0).numpy() * 255) - RGB)
    assert error.mean() <= tolerance / 4 and np.percentile(error, 99) <= tolerance * 3


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("array", [GRAY, RGB], ids=["gray", "rgb"])
@pytest.mark.parametrize("bits", [8, 16])
def test_mode_and_bit_depth_are_kept(tmp_path, suffix, array, bits):
    values = array.astype(np.uint16) * 257 + (np.arange(array.size).reshape(array.shape) % 200).astype(np.uint16) \
        if bits == 16 else array
    image = Image.from_array(values)
    assert image.bits == bits
    back = read_image(write_image(image, tmp_path / f"x{suffix}"))
    assert back.bits == bits and back.data.shape == image.data.shape
    scale = 65535 if bits == 16 else 255
    restored = np.round(back.data.permute(1, 2, 0).numpy() * scale).astype(np.int64)
    assert np.array_equal(restored.reshape(values.shape), values.astype(np.int64))


def test_rgba_alpha_is_carried_through_a_restorer(tmp_path):
    alpha = np.zeros(RGB.shape[:2], np.uint8)
    alpha[:, 40:] = 255
    src = tmp_path / "rgba.png"
    PILImage.fromarray(np.dstack([RGB, alpha]), "RGBA").save(src)
    image = read_image(src)
    assert image.channels == 3 and image.alpha is not None
    bigger = get_method("upscale", "bicubic")(image, scale=2)
    assert bigger.alpha.shape == (1, 128, 160)
    out = write_image(bigger, tmp_path / "out.png")
    with PILImage.open(out) as pil:
        assert pil.mode == "RGBA" and pil.size == (160, 128)
        a = np.asarray(pil)[:, :, 3]
    assert a[:, :70].max() == 0 and a[:, 90:].min() == 255


def test_palette_and_cmyk_are_converted(tmp_path):
    pil = PILImage.fromarray(RGB)
    pil.quantize(64).save(tmp_path / "palette.png")
    pil.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    palette = read_image(tmp_path / "palette.png")
    assert palette.channels == 3 and palette.alpha is None
    expected = np.asarray(PILImage.open(tmp_path / "palette.png").convert("RGB"))
    assert np.array_equal(np.round(palette.data.permute(1, 2, 0).numpy() * 255), expected)
    cmyk = read_image(tmp_path / "cmyk.jpg")
    assert cmyk.channels == 3
    assert np.abs(cmyk.data.permute(1, 2, 0).numpy() * 255 - RGB).mean() < 8


def test_palette_with_transparency_gets_alpha(tmp_path):
    pil = PILImage.fromarray(RGB).quantize(16)
    pil.info["transparency"] = 0
    pil.save(tmp_path / "t.png", transparency=0)
    assert read_image(tmp_path / "t.png").alpha is not None


def test_exif_orientation_is_applied(tmp_path):
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    PILImage.fromarray(RGB).save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    image = read_image(tmp_path / "rotated.jpg")
    assert image.data.shape == (3, 80, 64)
    upright = np.rot90(RGB, k=-1)
    assert np.abs(image.data.permute(1, 2, 0).numpy() * 255 - upright).mean() < 8


def test_icc_profile_is_passed_through(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    PILImage.fromarray(RGB).save(tmp_path / "icc.png", icc_profile=icc)
    image = read_image(tmp_path / "icc.png")
    assert image.icc == icc
    out = write_image(image.with_data(image.data * 0.5), tmp_path / "out.png")
    with PILImage.open(out) as pil:
        assert pil.info.get("icc_profile") == icc


def _one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> None:
    message = str(exc.value)
    assert str(path) in message and "\n" not in message


def test_truncated_file(tmp_path):
    full = write_image(Image.from_array(RGB), tmp_path / "full.png").read_bytes()
    path = tmp_path / "truncated.png"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(RestoraError) as exc:
        read_image(path)
    _one_line_naming(exc, path)


@pytest.mark.parametrize("content", [b"this is not an image\n", b""], ids=["text", "empty"])
def test_non_image_and_zero_size_files(tmp_path, content):
    path = tmp_path / "fake.png"
    path.write_bytes(content)
    with pytest.raises(RestoraError) as exc:
        read_image(path)
    _one_line_naming(exc, path)


def test_missing_file(tmp_path):
    with pytest.raises(RestoraError, match="no such file"):
        read_image(tmp_path / "missing.png")


def test_pixel_limit(tmp_path):
    path = write_image(Image.from_array(RGB), tmp_path / "x.png")
    with pytest.raises(RestoraError, match="limit") as exc:
        read_image(path, max_pixels=1000)
    _one_line_naming(exc, path)
    assert read_image(path, max_pixels=64 * 80).size == (64, 80)


def test_never_overwrites_and_writes_atomically(tmp_path, monkeypatch):
    path = write_image(Image.from_array(RGB), tmp_path / "x.png")
    before = path.read_bytes()
    with pytest.raises(RestoraError, match="exists"):
        write_image(Image.from_array(GRAY), path)
    assert path.read_bytes() == before

    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(PILImage.Image, "save", full_disk)
    with pytest.raises(RestoraError, match="No space left on device") as exc:
        write_image(Image.from_array(GRAY), path, overwrite=True)
    _one_line_naming(exc, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]  # no temporary file left behind


def test_output_is_never_the_input(tmp_path):
    path = write_image(Image.from_array(RGB), tmp_path / "x.png")
    image = read_image(path)
    with pytest.raises(RestoraError, match="input"):
        write_image(image, path, overwrite=True)
    with pytest.raises(RestoraError, match="input"):
        plan_outputs([path], path)
    with pytest.raises(RestoraError, match="input"):
        plan_outputs([tmp_path], tmp_path)


def test_unsupported_output_suffix(tmp_path):
    with pytest.raises(RestoraError, match="unsupported"):
        write_image(Image.from_array(RGB), tmp_path / "x.gif")


def test_folders_are_searched_recursively_and_mirrored(image_dir, tmp_path):
    (image_dir / "notes.txt").write_text("not an image")
    found = [rel.as_posix() for _, rel in list_images([image_dir])]
    assert found == ["astronaut.png", "sub/camera.png"]
    plan = plan_outputs([image_dir], tmp_path / "out", suffix=".tif")
    assert [dst.relative_to(tmp_path / "out").as_posix() for _, dst in plan] == ["astronaut.tif", "sub/camera.tif"]
    with pytest.raises(RestoraError, match="folder"):
        plan_outputs([image_dir], tmp_path / "one.png")


def test_image_tensor_contract():
    image = Image.from_array(RGB)
    assert image.data.dtype == torch.float32 and image.data.shape == (3, 64, 80)
    assert 0 <= image.data.min() and image.data.max() <= 1


def test_outputs_get_the_umask_permissions_not_private_ones(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = write_image(Image(torch.rand(3, 8, 8)), tmp_path / "out.png")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
