"""Augmentation: every operation keeps shape, channels and range and draws only from its
generator; ``restora augment`` is deterministic per seed and image, writes a preview, and rejects
bad input with one line."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image as PILImage

from restora.augment import OPS, augment, crop, flip, image_seed, parse_ops, rotate, scale
from restora.errors import RestoraError


def batch(channels: int, seed: int = 0) -> torch.Tensor:
    """(4, channels, 20, 28) in [0, 1]: smooth shapes plus texture (not square, to catch H/W mix-ups)."""
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(4, channels, 5, 7, generator=g), size=(20, 28), mode="bilinear") * 0.8 + \
        0.2 * torch.rand(4, channels, 20, 28, generator=g)


@pytest.mark.parametrize("name", list(OPS))
@pytest.mark.parametrize("channels", [1, 3])
def test_every_op_keeps_shape_channels_and_range_and_is_seeded(name, channels):
    x = batch(channels)
    before = x.clone()
    strongest = OPS[name].low if name == "jpeg" else OPS[name].high  # jpeg's strength is its lowest quality
    ops = parse_ops([f"{name}={strongest}"])
    out = augment(x, ops, torch.Generator().manual_seed(5))
    assert torch.equal(x, before)  # the input is left alone
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    assert torch.equal(out, augment(x, ops, torch.Generator().manual_seed(5)))
    if name != "flip":  # a strong flip may mirror the same images under two seeds
        assert not torch.equal(out, augment(x, ops, torch.Generator().manual_seed(6)))


def test_ops_at_no_strength_change_nothing():
    x, g = batch(3), torch.Generator()
    assert torch.equal(flip(x, 0, g), x)
    assert torch.equal(crop(x, 0, g), x)
    assert torch.allclose(rotate(x, 0, g), x, atol=1e-6) and torch.allclose(scale(x, 0, g), x, atol=1e-6)
    assert torch.equal(flip(x, 1, g), x.flip(-1))


def test_crop_is_a_shift_with_zero_padding():
    x = batch(1)
    out = crop(x, 0.125, torch.Generator().manual_seed(0))  # pads 2 rows (of 20) and 4 columns (of 28)
    padded = F.pad(x, (4, 4, 2, 2))
    for image, source in zip(out, padded):
        shifts = [(dy, dx) for dy in range(5) for dx in range(9) if torch.equal(image, source[:, dy:dy + 20, dx:dx + 28])]
        assert shifts


def test_rotation_turns_the_image_about_its_centre():
    x = torch.zeros(1, 1, 21, 21)
    x[..., 10, 12:18] = 1  # a bar right of the centre
    turned = rotate(x, 0, torch.Generator())  # no rotation
    assert torch.equal(turned, x)
    from restora.augment import warp

    quarter = warp(x, torch.tensor([90.0]), torch.ones(1))[0, 0]
    assert quarter[10, 12:18].max() < 0.1 and quarter[:10, 10].sum() + quarter[11:, 10].sum() > 4


def test_names_strengths_and_order_are_checked():
    assert parse_ops("erase, flip,rotate=30") == [("flip", 0.5), ("rotate", 30.0), ("erase", 0.25)]
    assert parse_ops(["crop=0.1"]) == [("crop", 0.1)]
    for spec, message in (("flip,twirl", "unknown augmentation 'twirl' (use flip, rotate, scale, crop, color, "
                                         "blur, noise, jpeg, erase; NAME or NAME=STRENGTH)"),
                          ("rotate=much", "augmentation rotate=much: the strength must be a number"),
                          ("crop=0.9", "augmentation crop=0.9: the strength must be from 0 to 0.5"),
                          ("flip,flip", "augmentation 'flip' is given twice"),
                          (" , ", "no augmentation given")):
        with pytest.raises(RestoraError) as err:
            parse_ops(spec)
        assert str(err.value).startswith(message), err.value


def test_image_seeds_depend_on_seed_and_path_only():
    assert image_seed(0, "a/b.png") == image_seed(0, "a/b.png")
    assert len({image_seed(0, "a/b.png"), image_seed(1, "a/b.png"), image_seed(0, "a/c.png")}) == 3


# -- the command line ------------------------------------------------------------------------------
ALL = ",".join(OPS)


def read(path) -> np.ndarray:
    with PILImage.open(path) as im:
        return np.asarray(im).copy()


def test_augment_writes_n_variants_per_image_and_a_preview(cli_inline, image_dir, tmp_path):
    result = cli_inline("augment", image_dir, "-o", "out", "-n", "3", "--ops", ALL, "--seed", "0")
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    for rel, mode in (("astronaut", "RGB"), ("sub/camera", "L")):
        original = PILImage.open(image_dir / f"{rel}.png")
        for k in (1, 2, 3):
            with PILImage.open(out / f"{rel}_aug{k:02d}.png") as variant:
                assert variant.size == original.size and variant.mode == mode
    assert not (out / "astronaut_aug04.png").exists()
    with PILImage.open(out / "preview.png") as preview:
        assert preview.size == (4 * 130 + 2, 2 * 130 + 2)  # original + 3 variants, 2 images; 128-pixel cells


def test_augment_is_deterministic_per_seed_and_per_image(cli_inline, image_dir, tmp_path):
    def run(folder: str, seed: int, inputs=(image_dir,)) -> None:
        assert cli_inline("augment", *inputs, "-o", folder, "-n", "2", "--ops", ALL, "--seed", seed).returncode == 0

    run("a", 0)
    run("b", 0)
    run("c", 1)
    names = ["astronaut_aug01.png", "astronaut_aug02.png", "sub/camera_aug01.png"]
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)
    assert all(not np.array_equal(read(tmp_path / "a" / n), read(tmp_path / "c" / n)) for n in names)
    assert not np.array_equal(read(tmp_path / "a" / names[0]), read(tmp_path / "a" / names[1]))
    # an image's variants do not depend on the other images: the camera alone, at the same relative path
    (tmp_path / "alone" / "sub").mkdir(parents=True)
    (tmp_path / "alone" / "sub" / "camera.png").write_bytes((image_dir / "sub" / "camera.png").read_bytes())
    run("e", 0, (tmp_path / "alone",))
    assert (tmp_path / "e" / names[2]).read_bytes() == (tmp_path / "a" / names[2]).read_bytes()


def test_bad_input_is_a_one_line_error(cli_inline, image_dir, tmp_path):
    for args, message in ((("-n", "0"), "-n 0: give at least 1 variant per image"),
                          (("--ops", "flip,twirl"), "unknown augmentation 'twirl'"),
                          (("--ops", "noise=300"), "augmentation noise=300: the strength must be from 0 to 255")):
        result = cli_inline("augment", image_dir, "-o", "out", *args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert cli_inline("augment", image_dir, "-o", "out", "-n", "1").returncode == 0
    again = cli_inline("augment", image_dir, "-o", "out", "-n", "1")
    assert again.returncode == 2 and "exists already (pass --overwrite to replace it)" in again.stderr
    assert cli_inline("augment", image_dir, "-o", "out", "-n", "1", "--overwrite").returncode == 0
    missing = cli_inline("augment", tmp_path / "nowhere", "-o", "out")
    assert missing.returncode == 2 and "nowhere: no such file or folder" in missing.stderr
