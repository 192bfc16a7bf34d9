"""restora.methods: the registry, option checking, and every classical restorer improving a real image."""
from __future__ import annotations

import pytest
import torch

from restora.degrade import apply_mask, blur, gaussian_noise, imresize, kernel_from_spec, make_mask
from restora.errors import RestoraError
from restora.io import Image
from restora.methods import TASKS, estimate_sigma, get_method, list_methods
from restora.metrics import psnr


def test_registry_lists_every_task_with_one_default():
    rows = list_methods()
    for task in TASKS:
        mine = [r for r in rows if r["task"] == task]
        assert len(mine) >= (1 if task in ("dejpeg", "restore") else 2) and sum(r["default"] for r in mine) == 1
        assert {"name", "kind", "summary", "options"} <= set(mine[0])
    assert {r["name"] for r in rows} >= {"nlm", "bm3d", "bicubic", "lanczos", "telea", "navier-stokes", "wiener",
                                         "richardson-lucy"}
    with pytest.raises(RestoraError, match="unknown denoise method"):
        get_method("denoise", "magic")
    with pytest.raises(RestoraError, match="unknown task"):
        get_method("colourise")


def test_options_are_checked():
    nlm = get_method("denoise", "nlm")
    assert nlm.check_options({"factor": "1.5"}) == {"factor": 1.5}
    assert nlm.check_options({}) == {"factor": 0.9}
    with pytest.raises(RestoraError, match="no option"):
        nlm.check_options({"strength": "2"})
    with pytest.raises(RestoraError, match="outside"):
        nlm.check_options({"factor": "99"})


@pytest.mark.parametrize("name", ["nlm", "bm3d"])
@pytest.mark.parametrize("image", ["camera", "astronaut"])
def test_denoisers_beat_the_noisy_input(request, name, image):
    clean = request.getfixturevalue(image)
    noisy = gaussian_noise(clean, 25, seed=0)
    restored = get_method("denoise", name).restore(noisy, sigma=25)
    assert restored.shape == clean.shape
    assert psnr(restored, clean) > psnr(noisy, clean) + 3


def test_sigma_is_estimated(camera):
    noisy = gaussian_noise(camera, 20, seed=1, clip=False)
    assert abs(estimate_sigma(noisy) - 20) < 3
    assert get_method("denoise", "nlm").restore(noisy).shape == camera.shape  # sigma=None -> estimated


@pytest.mark.parametrize("name", ["bicubic", "lanczos"])
def test_upscalers(camera, astronaut, name):
    for hr in (camera, astronaut):
        lr = imresize(hr, 0.5)
        sr = get_method("upscale", name).restore(lr, scale=2)
        assert sr.shape == hr.shape and 0 <= sr.min() and sr.max() <= 1
        assert psnr(sr, hr) > 24
    assert get_method("upscale", name).restore(camera, scale=3).shape == (1, 288, 288)


@pytest.mark.parametrize("name", ["telea", "navier-stokes"])
def test_inpainters_beat_a_white_fill(astronaut, name):
    mask = make_mask("strokes", 96, 96, seed=2)
    damaged = apply_mask(astronaut, mask)
    filled = get_method("inpaint", name).restore(damaged, mask=mask)
    hole = mask.bool().expand_as(astronaut)
    assert torch.equal(filled[~hole], astronaut[~hole])  # known pixels untouched
    error_before = (damaged[hole] - astronaut[hole]).pow(2).mean()
    error_after = (filled[hole] - astronaut[hole]).pow(2).mean()
    assert error_after < error_before / 10


@pytest.mark.parametrize("name", ["wiener", "richardson-lucy"])
def test_deblurrers_beat_the_blurred_input(camera, name):
    kernel = kernel_from_spec("gaussian:1.5")
    blurred = gaussian_noise(blur(camera, kernel)[0], 1, seed=0)
    sharp = get_method("deblur", name).restore(blurred, kernel=kernel)
    assert sharp.shape == camera.shape
    assert psnr(sharp, camera) > psnr(blurred, camera) + 1


def test_restorer_keeps_image_metadata(astronaut):
    alpha = torch.linspace(0, 1, 96).expand(1, 96, 96).contiguous()
    image = Image(data=astronaut, alpha=alpha, bits=16, icc=b"profile")
    out = get_method("denoise", "nlm")(image, sigma=10)
    assert out.bits == 16 and out.icc == b"profile" and torch.equal(out.alpha, alpha)
    big = get_method("upscale", "bicubic")(image, scale=2)
    assert big.alpha.shape == (1, 192, 192)


def test_task_inputs_are_checked(camera):
    with pytest.raises(RestoraError, match="mask"):
        get_method("inpaint").restore(camera)
    with pytest.raises(RestoraError, match="kernel"):
        get_method("deblur").restore(camera)
    with pytest.raises(RestoraError, match="scale"):
        get_method("upscale").restore(camera, scale=0.5)
