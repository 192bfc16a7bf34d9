"""The public Python API (``import restora``) and the offline demo."""
from __future__ import annotations

import json

import pytest
import torch

import restora
from restora.degrade import gaussian_noise
from restora.demo import run as run_demo
from restora.metrics import psnr


def test_tasks_take_and_return_tensors(camera):
    noisy = gaussian_noise(camera, 25, seed=0)
    clean = restora.denoise(noisy, sigma=25, method="nlm", factor=1.0)
    assert isinstance(clean, torch.Tensor) and psnr(clean, camera) > psnr(noisy, camera) + 3
    assert restora.upscale(camera, scale=2).shape == (1, 192, 192)
    assert restora.inpaint(camera, mask="center").shape == camera.shape
    assert restora.deblur(camera, kernel="gaussian:1").shape == camera.shape
    mask = torch.zeros(1, 96, 96)
    mask[:, 40:50, 40:50] = 1
    assert restora.inpaint(camera, mask=mask, method="navier-stokes").shape == camera.shape


def test_tasks_take_and_return_images(tmp_path, astronaut):
    path = restora.write_image(restora.Image(data=astronaut), tmp_path / "a.png")
    image = restora.read_image(path)
    out = restora.upscale(image, scale=2, method="lanczos")
    assert isinstance(out, restora.Image) and out.size == (192, 192)
    assert isinstance(restora.denoise(image, method="nlm"), restora.Image)  # sigma estimated


def test_api_lists_methods_and_reports_errors(camera):
    assert {"task", "name", "kind", "default"} <= set(restora.list_methods("denoise")[0])
    assert restora.get_method("upscale").name == "compact-sr"  # the best shipped SR model
    with pytest.raises(restora.RestoraError, match="magic"):
        restora.denoise(camera, 10, method="magic")
    with pytest.raises(restora.RestoraError, match="kernel"):
        restora.deblur(camera, kernel="blurry")


def test_demo_writes_its_files(tmp_path):
    results = run_demo(tmp_path, size=64, sigma=25)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comparison.png", "degraded.png", "input.png",
                                                          "metrics.json", "restored.png"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == results
    assert results["restored"]["psnr"] > results["degraded"]["psnr"] + 3
    comparison = restora.read_image(tmp_path / "comparison.png")
    assert comparison.size[1] > 3 * 64 and comparison.size[0] > 64
    run_demo(tmp_path, size=64)  # the demo folder is rewritten


def test_sample_from_a_shipped_generator_is_seeded_and_in_range():
    faces = restora.sample("dcgan-faces", n=4, seed=3)
    assert faces.shape == (4, 3, 64, 64)
    assert 0 <= faces.min() and faces.max() <= 1
    assert torch.equal(faces, restora.sample("dcgan-faces", n=4, seed=3))
    assert restora.interpolate("vae-fashion", rows=2, steps=5).shape == (10, 1, 28, 28)
