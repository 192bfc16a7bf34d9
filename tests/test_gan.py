"""DCGAN: networks, adversarial steps, exact resume, sampling CLI, and GAN-prior inpainting with the
shipped face generator."""
from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from skimage import data as skdata

from conftest import shared_data
from restora.bench import run_bench
from restora.degrade import apply_mask, make_mask
from restora.generate import image_grid, slerp
from restora.io import read_image
from restora.methods import get_method
from restora.faces import face_box
from restora.methods.gan_prior import blend_band, context_weights, grow
from restora.metrics import psnr
from restora.reporting import RestoraWarning
from restora.nets import build_net
from restora.train import Trainer, apply_overrides, parse_recipe
from restora.train.objectives.gan import GANObjective
from restora.train.optim import optimizer_step
from restora.zoo import shipped_models

FACES = 48
TINY = {
    "task": "generate", "objective": "gan", "seed": 5,
    "net": {"args": {"z_dim": 16, "width": 8}},
    "data": {"holdout": 8, "batch": 8},
    "gan": {"d_steps": 1, "g_steps": 2},
    "schedule": {"name": "constant"},
    "train": {"steps": 10, "log_every": 2, "checkpoint_every": 5},
}


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    """48 aligned CelebA faces (89x109) from the shared data, or, without it, 48 synthetic faces of
    that size: a skin-coloured ellipse with two dark eyes on a random background."""
    folder = tmp_path_factory.mktemp("faces")
    source = shared_data() / "faces" / "celeba-train"
    rng = np.random.default_rng(0)
    for i in range(FACES):
        if source.is_dir():
            (folder / f"{i:03d}.jpg").symlink_to(source / f"{i + 1:06d}.jpg")
            continue
        yy, xx = np.mgrid[:109, :89]
        face = ((xx - 44) / 26) ** 2 + ((yy - 56) / 34) ** 2 < 1
        image = np.broadcast_to(rng.integers(0, 256, 3, dtype=np.uint8), (109, 89, 3)).copy()
        image[face] = rng.integers(150, 230), rng.integers(100, 170), rng.integers(80, 140)
        for cx in (33, 55):
            image[((xx - cx) / 5) ** 2 + ((yy - 48) / 3) ** 2 < 1] = 30
        PILImage.fromarray(image).save(folder / f"{i:03d}.png")
    return folder


def read_log(run: Path) -> list[dict]:
    with (run / "log.csv").open() as f:
        return list(csv.DictReader(f))


def tiny(faces: Path, **overrides) -> dict:
    return apply_overrides(TINY, [f"data.train={faces}", *(f"{k}={v}" for k, v in overrides.items())])


def test_generator_maps_z_to_images_in_range_and_discriminator_to_logits():
    generator = build_net("dcgan-generator", z_dim=100, width=8)
    images = generator(torch.randn(5, 100) * 3)
    assert images.shape == (5, 3, 64, 64) and images.min() >= -1 and images.max() <= 1
    assert build_net("dcgan-discriminator", width=8)(images).shape == (5,)


def test_adversarial_steps_move_each_loss_the_right_way(faces):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    gan = GANObjective(parse_recipe(tiny(faces)), torch.device("cpu"), gen)
    assert len(gan.faces) == FACES - 8 and gan.faces.shape[1:] == (3, 64, 64)
    real, z = gan.real_batch(gen), gan.latent(gen)
    before = gan.discriminator_loss(real, z)[0].item()
    for _ in range(5):
        optimizer_step(gan.optimizers["discriminator"], gan.discriminator_loss(real, z)[0])
    assert gan.discriminator_loss(real, z)[0].item() < before
    before = gan.generator_loss(z).item()
    for _ in range(5):
        optimizer_step(gan.optimizers["generator"], gan.generator_loss(z))
    assert gan.generator_loss(z).item() < before


def test_training_writes_samples_per_epoch_and_resumes_bit_exactly(faces, tmp_path):
    Trainer(tiny(faces), tmp_path / "whole", progress=False).run()
    Trainer(tiny(faces, **{"train.steps": 5}), tmp_path / "split", progress=False).run()
    Trainer(tiny(faces), tmp_path / "split", resume=True, progress=False).run()
    whole, split = (torch.load(tmp_path / run / "last.pt", weights_only=True) for run in ("whole", "split"))
    for module in ("generator", "discriminator"):
        for name, tensor in whole["modules"][module].items():
            assert torch.equal(tensor, split["modules"][module][name]), (module, name)
    last = [{k: read_log(tmp_path / run)[-1][k] for k in ("step", "loss_d", "loss_g")} for run in ("whole", "split")]
    assert last[0] == last[1]
    # 40 training faces / batch 8 = 5 steps per epoch: 10 steps, two fixed-z grids of 8x8 faces
    assert sorted(p.name for p in (tmp_path / "whole" / "samples").iterdir()) == ["epoch_001.png", "epoch_002.png"]
    assert read_image(tmp_path / "whole" / "samples" / "epoch_002.png").size == (8 * 66 + 2,) * 2
    assert {"discriminator.safetensors", "model.safetensors", "curves.png"} <= {
        p.name for p in (tmp_path / "whole").iterdir()}


def test_image_grid_and_slerp():
    images = torch.linspace(0, 1, 5 * 3 * 4 * 4).view(5, 3, 4, 4)
    grid = image_grid(images, columns=3, gap=1)
    assert grid.shape == (3, 2 * 5 + 1, 3 * 5 + 1)
    assert torch.equal(grid[:, 1:5, 1:5], images[0]) and grid[:, 6:, 11:].abs().max() == 0
    a, b = torch.randn(2, 100), torch.randn(2, 100)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    assert torch.allclose(path[:, 0], a, atol=1e-5) and torch.allclose(path[:, -1], b, atol=1e-5)


def test_context_weights_count_missing_neighbours_of_known_pixels():
    known = torch.ones(1, 1, 20, 20)
    known[..., 8:12, 8:12] = 0
    w = context_weights(known)
    assert w[..., 8:12, 8:12].abs().max() == 0 and w[..., 0, 0] == 0
    assert w[0, 0, 7, 7] == pytest.approx(9 / 49) and w[0, 0, 7, 10] > w[0, 0, 5, 10] > 0 == w[0, 0, 4, 10]


def test_bench_offset_selects_the_tail(image_dir):
    rows = run_bench("inpaint", image_dir, ["center"], ["telea"], offset=1)
    assert {r["images"] for r in rows} == {1}


shipped = pytest.mark.skipif("dcgan-faces" not in {e["name"] for e in shipped_models()},
                             reason="the dcgan-faces generator is not shipped yet")


@shipped
@pytest.mark.parametrize("kind", ["center", "boxes"])
def test_gan_prior_changes_only_pixels_near_the_hole_and_beats_the_masked_input(astronaut, kind):
    held_out = shared_data() / "faces" / "celeba-train" / "009000.jpg"
    face = read_image(held_out).data if held_out.is_file() else astronaut  # 89x109, or 96x96: a resized frame
    mask = make_mask(kind, *face.shape[1:], seed=3)
    damaged = apply_mask(face, mask)
    threads = torch.get_num_threads()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RestoraWarning)  # a face crop: no note
        out = get_method("inpaint", "gan-prior").restore(damaged, mask=mask, iterations=40, starts=4)
    assert torch.get_num_threads() == threads  # its one-thread search restores the count
    near = grow(mask, blend_band(face_box(*face.shape[1:])[2]))[0]
    assert torch.equal(out[:, ~near], damaged[:, ~near])
    hole = mask[0] > 0
    assert psnr(out[:, hole][:, None], face[:, hole][:, None]) > psnr(damaged[:, hole][:, None],
                                                                      face[:, hole][:, None]) + 3


@shipped
@pytest.mark.parametrize("channels", [3, 1])
def test_gan_prior_on_a_photo_that_is_no_face_crop_says_so_and_keeps_pixels_beyond_its_band(channels):
    """A 451x300 cat photo: a note that gan-prior is for aligned face crops; pixels farther than the
    stated band (5 frame pixels = ceil(5 x 300 / 64) = 24 image pixels) from the hole are the input's
    bit for bit, and the band is reached (the blend does change known pixels near the hole)."""
    photo = torch.from_numpy(skdata.chelsea()).permute(2, 0, 1).float().div(255)
    photo = photo if channels == 3 else photo.mean(0, keepdim=True)
    mask = make_mask("boxes", *photo.shape[1:], seed=1)
    with pytest.warns(RestoraWarning, match="aligned face crops .* 451x300 image is not shaped like one"):
        out = get_method("inpaint", "gan-prior").restore(photo, mask=mask, iterations=5, starts=2)
    band = blend_band(face_box(*photo.shape[1:])[2])
    assert band == 24 and out.shape == photo.shape
    assert torch.equal(out[:, ~grow(mask, band)[0]], photo[:, ~grow(mask, band)[0]])
    ring = grow(mask, band)[0] & ~grow(mask, band - 4)[0]
    assert (out[:, ring] != photo[:, ring]).any()


@shipped
def test_generate_cli_writes_grids_of_the_expected_size(cli_inline, tmp_path):
    result = cli_inline("generate", "--model", "dcgan-faces", "-n", "6", "--seed", "0", "-o", "grid.png")
    assert result.returncode == 0, result.stderr
    assert PILImage.open(tmp_path / "grid.png").size == (3 * 66 + 2, 2 * 66 + 2)
    result = cli_inline("generate", "--interpolate", "-n", "2", "--steps", "5", "-o", "strip.png")
    assert result.returncode == 0, result.stderr
    assert PILImage.open(tmp_path / "strip.png").size == (5 * 66 + 2, 2 * 66 + 2)
    again = cli_inline("generate", "-n", "6", "-o", "grid.png")
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "exists" in again.stderr
