"""Shipped learned models: load from the installed package, restore real images, tile without seams."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage import data as skdata

from restora.degrade import gaussian_noise
from restora.methods import get_method, list_methods
from restora.methods.tiling import run_tiled
from restora.metrics import psnr
from restora.zoo import card_path, load_shipped, shipped_models

MODELS = shipped_models()
needs_models = pytest.mark.skipif(not MODELS, reason="no model is shipped in restora/zoo/models.json")


def photo(colour: bool, side: int = 192) -> torch.Tensor:
    img = torch.from_numpy(skdata.astronaut()[100:100 + side, 150:150 + side].astype(np.float32) / 255)
    img = img.permute(2, 0, 1).contiguous()
    return img if colour else img.mean(0, keepdim=True)


@pytest.mark.parametrize("entry", MODELS, ids=[m["name"] for m in MODELS])
def test_every_shipped_model_loads_and_has_a_card(entry):
    net = load_shipped(entry["name"])
    assert sum(p.numel() for p in net.parameters()) == entry["params"]
    assert card_path(entry).is_file()


@pytest.mark.parametrize("entry", [m for m in MODELS if m["task"] == "denoise"], ids=lambda m: m["name"])
@pytest.mark.parametrize("sigma", [15, 50])
def test_shipped_denoisers_improve_on_the_noisy_photo_and_beat_nlm(entry, sigma):
    clean = photo(entry["channels"] == 3)
    noisy = gaussian_noise(clean, sigma, seed=1, clip=False)
    out = get_method("denoise", entry["method"]).restore(noisy, sigma=sigma)
    nlm = get_method("denoise", "nlm").restore(noisy, sigma=sigma)
    assert psnr(out, clean) > psnr(noisy, clean) + 5
    assert psnr(out, clean) > psnr(nlm, clean)


@needs_models
def test_the_default_denoiser_is_learned_and_serves_gray_and_colour():
    default = [m for m in list_methods("denoise") if m["default"]][0]
    assert default["kind"] == "learned"
    for colour in (False, True):
        clean = photo(colour, 96)
        noisy = gaussian_noise(clean, 25, seed=2)
        out = get_method("denoise").restore(noisy)  # sigma estimated
        assert out.shape == clean.shape and psnr(out, clean) > psnr(noisy, clean) + 4


@needs_models
def test_tiles_match_one_pass_and_leave_no_seam():
    method = get_method("denoise")
    clean = photo(True, 256)
    noisy = gaussian_noise(clean, 25, seed=3)
    whole = method.restore(noisy, sigma=25, tile=512)
    # an image that fits one tile takes the one-pass path exactly
    assert (method.restore(noisy, sigma=25, tile=256) - whole).abs().max() < 1e-4
    tiled = method.restore(noisy, sigma=25, tile=128, overlap=16)
    diff = (tiled - whole).abs()
    assert diff.mean() < 2e-3, diff.mean()
    # no seam: the difference along the tile boundaries is no larger than elsewhere on average
    seam_cols = diff[..., :, 90:100].mean()
    assert seam_cols < 4 * diff.mean() + 1e-3
    assert psnr(tiled, clean) > psnr(whole, clean) - 0.05


@needs_models
def test_ensemble_is_at_least_as_good():
    method = get_method("denoise")
    clean = photo(False, 128)
    noisy = gaussian_noise(clean, 25, seed=4, clip=False)
    plain = psnr(method.restore(noisy, sigma=25), clean)
    assert psnr(method.restore(noisy, sigma=25, ensemble=True), clean) > plain - 0.05


def test_run_tiled_is_exact_for_a_local_operator():
    x = torch.rand(1, 3, 300, 260)
    def fn(t):
        return torch.nn.functional.avg_pool2d(t, 5, stride=1, padding=2, count_include_pad=False)
    assert (run_tiled(fn, x, 1, 100, 8) - fn(x)).abs().max() < 1e-5
    def up(t):
        return torch.nn.functional.interpolate(t, scale_factor=3, mode="nearest")
    assert (run_tiled(up, x, 3, 100, 8) - up(x)).abs().max() < 1e-6
