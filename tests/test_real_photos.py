"""Real photos: the dejpeg task (quality from the file, lossless outputs), `restora restore`, the
strength option, and a tiny dejpeg recipe that learns."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from skimage import data as skdata

from conftest import read_u8
from restora import restore
from restora.degrade import imresize, jpeg
from restora.io import Image, plan_outputs, read_image, write_image
from restora.methods import get_method, list_methods
from restora.methods.photo import BLOCKY, blockiness
from restora.metrics import psnr
from restora.protocols import evaluate, quantise
from restora.train import Trainer
from restora.train.data import read_source

LEARNED_DEJPEG = [m["name"] for m in list_methods("dejpeg") if m["kind"] == "learned"]
needs_model = pytest.mark.skipif(not LEARNED_DEJPEG, reason="no learned dejpeg model in the zoo")


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """Colour (3, 128, 160) crop of scikit-image's coffee photo."""
    return torch.from_numpy(skdata.coffee()[100:228, 200:360]).permute(2, 0, 1).float() / 255


def test_blockiness_tells_a_jpeg_from_a_photo(photo):
    assert blockiness(photo) < BLOCKY
    assert blockiness(jpeg(photo, 20)) > BLOCKY
    assert blockiness(jpeg(photo, 20)[:, 3:, 5:]) > BLOCKY  # a cropped JPEG: its grid moved


def test_a_folder_of_jpegs_is_planned_as_png_when_lossless(tmp_path):
    (tmp_path / "in").mkdir()
    for name in ("a.jpg", "b.png"):
        PILImage.new("RGB", (8, 8)).save(tmp_path / "in" / name)
    plan = plan_outputs([tmp_path / "in"], tmp_path / "out", lossless=True)
    assert sorted(dst.name for _, dst in plan) == ["a.png", "b.png"]
    assert plan_outputs([tmp_path / "in" / "a.jpg"], tmp_path / "x.jpg", lossless=True)[0][1].name == "x.jpg"
    assert plan_outputs([tmp_path / "in"], tmp_path / "out")[0][1].name == "a.jpg"


def test_a_tiny_dejpeg_recipe_learns_and_beats_the_jpeg(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("camera", "astronaut", "coffee", "chelsea"):
        PILImage.fromarray(getattr(skdata, name)()).resize((160, 128)).save(folder / f"{name}.png")
    recipe = {"task": "dejpeg", "seed": 3, "net": {"name": "unet-dejpeg", "args": {"channels": 1, "width": 8, "blocks": 1}},
              "data": {"patch": 64, "batch": 8, "train": str(folder), "val": str(folder), "val_limit": 2},
              "degradation": {"kind": "jpeg", "quality": [10, 30], "double": 0.3, "blind": 0.2, "val_qualities": [10]},
              "loss": "l1", "optimizer": {"name": "adam", "lr": 0.002}, "schedule": {"name": "cosine", "warmup": 10},
              "train": {"steps": 120, "log_every": 20, "val_every": 60}}
    Trainer(recipe, tmp_path / "run", progress=False).run()
    with (tmp_path / "run" / "log.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    images = [quantise(x) for x in read_source(folder, "gray", 2)[0]]
    jpeg_psnr, _ = evaluate(lambda x, **inputs: x, "dejpeg", images, 10)
    assert float(rows[-1]["psnr_q10"]) > jpeg_psnr + 0.1


@needs_model
def test_learned_dejpeg_beats_the_jpeg_on_a_real_photo_gray_and_colour(photo):
    restorer = get_method("dejpeg", LEARNED_DEJPEG[0])
    for clean in (photo, photo.mean(0, keepdim=True)):
        compressed = jpeg(clean, 20)
        assert psnr(restorer.restore(compressed, quality=20), clean) > psnr(compressed, clean) + 0.5
        assert psnr(restorer.restore(compressed), clean) > psnr(compressed, clean) + 0.3  # blind


@needs_model
def test_the_learned_result_is_made_consistent_with_the_jpeg_data(photo):
    """With the quality known, the network's result is projected onto the quantisation constraint
    set, which holds the clean photo: for gray that cannot move it away from the clean photo, and the
    result compresses back to the same JPEG coefficients. Off the JPEG's 8x8 lattice (a cropped
    JPEG) the projection is skipped."""
    from restora.io.jpeg import ijg_table
    from restora.methods.dejpeg import block_dct, jpeg_consistent, on_lattice

    restorer = get_method("dejpeg", LEARNED_DEJPEG[0])
    clean = photo.mean(0, keepdim=True)
    compressed = jpeg(clean, 30)
    plain = restorer.restore(compressed, quality=30, project=False)
    projected = restorer.restore(compressed, quality=30)
    assert not torch.equal(plain, projected)
    assert psnr(projected, clean) >= psnr(plain, clean)
    table = ijg_table(30).reshape(8, 8)
    k = np.round(block_dct(compressed[0].double() * 255).numpy() / table)
    c = block_dct(projected[0].double() * 255).numpy()
    assert np.all(np.abs(c - k * table) <= table / 2 + 1e-3)
    cropped = compressed[:, 3:, 5:]
    assert not on_lattice(np.round(cropped[0].double().numpy() * 255), 30)
    assert torch.equal(jpeg_consistent(plain[:, 3:, 5:], cropped, 30), plain[:, 3:, 5:])
    assert on_lattice(np.round(compressed[0].double().numpy() * 255), 30)


@pytest.mark.parametrize("task, inputs", [("denoise", {"sigma": 25}), ("upscale", {"scale": 2}),
                                          ("dejpeg", {"quality": 20})])
def test_strength_zero_gives_the_input_and_one_the_full_restoration(photo, task, inputs):
    learned = [m["name"] for m in list_methods(task) if any(o["name"] == "strength" for o in m["options"])]
    if not learned:
        pytest.skip(f"no {task} method with a strength option")
    restorer = get_method(task, learned[0])
    x = jpeg(photo, 20) if task == "dejpeg" else photo
    full = restorer.restore(x, **inputs)
    assert torch.equal(restorer.restore(x, **inputs, strength=1), full)
    none = restorer.restore(x, **inputs, strength=0)
    baseline = imresize(x, size=tuple(full.shape[1:])).clamp(0, 1) if task == "upscale" else x
    assert (none - baseline).abs().max() < 2e-3  # the upscaler mixes in luma: rounding of the colour transform
    half = restorer.restore(x, **inputs, strength=0.5)
    assert (half - (none + full) / 2).abs().mean() < 1e-3  # linear, but for clipping at 0 and 1


def test_a_strength_outside_0_1_is_a_one_line_error(cli_inline, image_dir):
    result = cli_inline("denoise", image_dir / "astronaut.png", "-o", "out.png", "--strength", "1.5")
    assert result.returncode != 0 and "strength" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("quality", ["0", "101"])
def test_a_quality_outside_1_100_is_a_one_line_error(cli_inline, image_dir, quality):
    result = cli_inline("dejpeg", image_dir / "astronaut.png", "-o", "out.png", "--quality", quality)
    assert result.returncode != 0 and "quality" in result.stderr.lower()
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@needs_model
def test_restore_explains_a_jpeg_and_writes_png_in_a_folder(cli_inline, tmp_path, photo):
    (tmp_path / "in").mkdir()
    write_image(Image(photo), tmp_path / "in" / "photo.jpg", quality=30)
    result = cli_inline("restore", tmp_path / "in", "-o", tmp_path / "out", "--explain")
    assert result.returncode == 0, result.stderr
    assert "JPEG quality 30" in result.stderr
    assert (tmp_path / "out" / "photo.png").is_file() and not (tmp_path / "out" / "photo.jpg").exists()
    restored = read_image(tmp_path / "out" / "photo.png").data
    compressed = read_image(tmp_path / "in" / "photo.jpg").data
    assert psnr(restored, photo) > psnr(compressed, photo)


@needs_model
def test_restore_finds_jpeg_damage_without_tables_and_upscales(tmp_path, photo):
    compressed = jpeg(photo, 15)
    out = restore(Image(compressed), scale=2, explain=True)
    assert out.size == (256, 320)
    repaired = restore(Image(compressed))
    assert psnr(repaired.data, photo) > psnr(compressed, photo)


def test_restore_leaves_a_clean_photo_nearly_alone(photo):
    out = restore(photo)
    assert psnr(out, photo) > 38


def test_dejpeg_reads_the_quality_from_the_file(cli_inline, tmp_path, photo):
    if not list_methods("dejpeg"):
        pytest.skip("no dejpeg method")
    write_image(Image(photo), tmp_path / "photo.jpg", quality=35)
    result = cli_inline("dejpeg", tmp_path / "photo.jpg", "-o", tmp_path / "fixed")
    assert result.returncode == 0, result.stderr
    assert "quality 35 read from the file" in result.stderr
    assert read_u8(tmp_path / "fixed" / "photo.png").shape == (128, 160, 3)


def test_the_web_page_offers_restore_first_and_reads_an_uploaded_jpegs_quality(tmp_path, photo):
    import io
    import warnings

    with warnings.catch_warnings():  # starlette's note about its test client
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient
    from test_web import run_job

    from restora.web import Settings, create_app

    upload = io.BytesIO()
    PILImage.fromarray((photo.permute(1, 2, 0) * 255).round().byte().numpy()).save(upload, "JPEG", quality=30)
    with TestClient(create_app(Settings(result_dir=str(tmp_path / "results")))) as client:
        assert client.get("/api/methods").json()["tasks"][0]["name"] == "restore"
        status, _ = run_job(client, upload.getvalue(), "restore", options={"explain": True}, name="photo.jpg")
    assert any("quality 30 read from the file" in w for w in status["warnings"]), status["warnings"]
    assert any("JPEG quality 30: artefacts removed" in w for w in status["warnings"]), status["warnings"]
