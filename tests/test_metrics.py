"""restora.metrics: PSNR / SSIM definitions, the Y channel, and the published Set5 bicubic figures."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from skimage.metrics import structural_similarity

from restora.degrade import gaussian_noise, imresize
from restora.errors import RestoraError
from restora.io import read_image
from restora.metrics import psnr, ssim, to_y


def test_psnr_definition(camera):
    assert psnr(camera, camera) == math.inf
    shifted = camera.clone()
    shifted[:, ::2] = (shifted[:, ::2] * 255 + 4).clamp(max=255) / 255  # 4 gray levels on half the rows
    mse = ((shifted - camera) * 255).round().pow(2).mean().item()
    assert psnr(shifted, camera) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-6)


def test_ssim_matches_scikit_image(astronaut):
    noisy = gaussian_noise(astronaut, 20, seed=0)
    a = np.round(noisy.numpy() * 255)
    b = np.round(astronaut.numpy() * 255)
    expected = structural_similarity(a, b, channel_axis=0, data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim(noisy, astronaut) == pytest.approx(expected, abs=1e-6)
    assert ssim(astronaut, astronaut) == pytest.approx(1.0)


def test_separable_ssim_equals_the_two_dimensional_window(astronaut):
    """The two 11-tap passes give the 11x11 window's SSIM (float64 2-D convolution, the definition)."""
    noisy = gaussian_noise(astronaut, 15, seed=1)
    a, b = ((t.double().clamp(0, 1) * 255).round()[:, None] for t in (noisy, astronaut))
    r = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-r**2 / 4.5)
    window = (g[:, None] * g[None]).div(g.sum() ** 2)[None, None]
    mu_a, mu_b = F.conv2d(a, window), F.conv2d(b, window)
    var_a, var_b = F.conv2d(a * a, window) - mu_a**2, F.conv2d(b * b, window) - mu_b**2
    cov = F.conv2d(a * b, window) - mu_a * mu_b
    c1, c2 = 6.5025, 58.5225
    expected = ((2 * mu_a * mu_b + c1) * (2 * cov + c2) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))).mean()
    assert ssim(noisy, astronaut) == pytest.approx(expected.item(), abs=1e-12)


def test_metrics_fall_with_more_noise(camera):
    light, heavy = gaussian_noise(camera, 10, seed=0), gaussian_noise(camera, 40, seed=0)
    assert psnr(light, camera) > psnr(heavy, camera) + 8
    assert ssim(light, camera) > ssim(heavy, camera) + 0.2


def test_y_channel_and_crop(astronaut):
    white, black = torch.ones(3, 4, 4), torch.zeros(3, 4, 4)
    assert torch.allclose(to_y(white).float(), torch.full((1, 4, 4), 235 / 255), atol=1e-3)
    assert torch.allclose(to_y(black).float(), torch.full((1, 4, 4), 16 / 255))
    damaged = astronaut.clone()
    damaged[:, :3] = 0  # damage only within a 3-pixel border
    assert psnr(damaged, astronaut, crop=3) == math.inf
    assert psnr(damaged, astronaut, y=True) != psnr(damaged, astronaut)


def test_metric_errors(camera):
    with pytest.raises(RestoraError, match="differ in size"):
        psnr(camera, camera[:, :10])
    with pytest.raises(RestoraError, match="crop"):
        psnr(camera, camera, crop=48)
    with pytest.raises(RestoraError, match="11x11"):
        ssim(camera[:, :8, :8], camera[:, :8, :8])


@pytest.mark.parametrize("scale, published_psnr, published_ssim", [(2, 33.66, 0.9299), (3, 30.39, 0.8682),
                                                                  (4, 28.42, 0.8104)])
def test_set5_bicubic_reproduces_published_figures(set5, scale, published_psnr, published_ssim):
    """LR by restora's bicubic, upscaled by restora's bicubic, Y channel, border crop = scale."""
    scores = []
    for path in sorted((set5 / f"image_SRF_{scale}").glob("*_HR.png")):
        hr = read_image(path).data
        lr = (imresize(hr, 1 / scale).clamp(0, 1) * 255).round() / 255
        sr = imresize(lr, scale).clamp(0, 1)
        scores.append((psnr(sr, hr, y=True, crop=scale), ssim(sr, hr, y=True, crop=scale)))
    assert len(scores) == 5
    mean_psnr, mean_ssim = np.mean(scores, axis=0)
    assert abs(mean_psnr - published_psnr) < 0.05
    assert abs(mean_ssim - published_ssim) < 0.003
