"""restora.degrade: seeded noise, kernels, blur, masks, and the MATLAB-compatible bicubic."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from restora.degrade import (apply_mask, blur, disk_kernel, gaussian_kernel, gaussian_noise, imresize,
                             kernel_from_spec, make_mask, motion_kernel, noise_from_spec, poisson_noise,
                             salt_and_pepper)
from restora.errors import RestoraError
from restora.io import Image, read_image, write_image


@pytest.mark.parametrize("noise", [lambda x, s: gaussian_noise(x, 25, s), lambda x, s: poisson_noise(x, 20, s),
                                   lambda x, s: salt_and_pepper(x, 0.1, s)], ids=["gaussian", "poisson", "sp"])
def test_noise_is_deterministic_by_seed(astronaut, noise):
    a, b, c = noise(astronaut, 3), noise(astronaut, 3), noise(astronaut, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a, astronaut)
    assert astronaut.min() >= 0  # input untouched


def test_unclipped_gaussian_noise_statistics():
    x = torch.full((1, 256, 256), 0.02)
    noisy = gaussian_noise(x, 25, seed=0, clip=False)
    residual = (noisy - x) * 255
    assert abs(residual.mean().item()) < 0.3
    assert abs(residual.std().item() - 25) < 0.3
    assert noisy.min() < 0  # the benchmark protocol keeps values outside [0, 1]
    clipped = gaussian_noise(x, 25, seed=0)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_white_pixels_count(camera):
    black = torch.zeros(3, 120, 100)
    noisy = salt_and_pepper(black, white_pixels=3000, seed=1)
    white = (noisy == 1).all(0)
    assert white.sum().item() == 3000 and ((noisy == 1).any(0) == white).all()
    with pytest.raises(RestoraError):
        salt_and_pepper(camera, white_pixels=10**6)


def test_salt_and_pepper_amount(camera):
    noisy = salt_and_pepper(camera, amount=0.2, seed=0)
    changed = (noisy == 1) | (noisy == 0)
    assert abs(changed.float().mean().item() - 0.2) < 0.03


def test_poisson_noise_level():
    x = torch.full((1, 200, 200), 0.5)
    noisy = poisson_noise(x, peak=30, seed=0)
    assert abs(noisy.mean().item() - 0.5) < 0.01
    assert abs(noisy.std().item() - math.sqrt(0.5 * 30) / 30) < 0.01


def test_noise_specs():
    x = torch.full((3, 40, 50), 0.5)
    assert torch.equal(noise_from_spec("gaussian:25")(x, 7), gaussian_noise(x, 25, 7))
    assert (noise_from_spec("white:300")(x, 0) == 1).all(0).sum() == 300
    for bad in ("gauss:3", "gaussian", "white:2.5", "sp:x"):
        with pytest.raises(RestoraError, match="noise"):
            noise_from_spec(bad)


@pytest.mark.parametrize("kernel, size", [(gaussian_kernel(2.0), 13), (motion_kernel(9, 30), 9),
                                          (motion_kernel(10.5, 0), 11), (disk_kernel(3), 7)])
def test_kernels_sum_to_one_with_odd_square_size(kernel, size):
    assert kernel.shape == (size, size)
    assert abs(kernel.sum().item() - 1) < 1e-5 and kernel.min() >= 0


def test_kernel_shapes():
    horizontal = motion_kernel(9, 0)
    assert horizontal[4].sum() > 0.99  # all weight on the middle row
    assert torch.allclose(motion_kernel(9, 90), horizontal.T, atol=1e-6)
    disk = disk_kernel(3)
    assert torch.allclose(disk, disk.T) and torch.allclose(disk, disk.flip(0))
    assert disk[3, 3] > 0 and disk[0, 0] == 0
    g = gaussian_kernel(1.5)
    assert torch.allclose(g, g.T) and g.argmax() == g.numel() // 2


def test_kernel_specs(tmp_path):
    assert torch.equal(kernel_from_spec("gaussian:2"), gaussian_kernel(2))
    assert torch.equal(kernel_from_spec("motion:15,45"), motion_kernel(15, 45))
    assert torch.equal(kernel_from_spec("disk:4"), disk_kernel(4))
    k = motion_kernel(11, 20)
    path = write_image(Image(data=(k / k.max())[None]), tmp_path / "k.png")
    from_image = kernel_from_spec(str(path))
    assert from_image.shape == k.shape and abs(from_image.sum().item() - 1) < 1e-5
    assert (from_image - k).abs().max() < 0.01
    for bad in ("gaussian:", "gaussian:0", "gaussian:1,2", "box:3", "motion:1,2,3", str(tmp_path / "none.png")):
        with pytest.raises(RestoraError):
            kernel_from_spec(bad)


def test_blur_keeps_constants_and_returns_kernel(camera):
    flat = torch.full((3, 40, 40), 0.3)
    blurred, k = blur(flat, motion_kernel(9, 45))
    assert torch.allclose(blurred, flat, atol=1e-6) and k.shape == (9, 9)
    soft, _ = blur(camera, gaussian_kernel(2))
    assert soft.shape == camera.shape
    assert soft.diff(dim=-1).abs().mean() < 0.6 * camera.diff(dim=-1).abs().mean()


def test_masks_areas_and_seeds():
    center = make_mask("center", 100, 120)
    assert abs(center.mean().item() - 0.25) < 0.01 and center.shape == (1, 100, 120)
    assert center[0, 50, 60] == 1 and center[0, 0, 0] == 0
    assert make_mask("left", 10, 20)[0, :, :10].all() and make_mask("right", 10, 20)[0, :, :10].sum() == 0
    for kind in ("boxes", "strokes", "pixels"):
        a, b, c = (make_mask(kind, 96, 128, seed=s) for s in (1, 1, 2))
        assert torch.equal(a, b) and not torch.equal(a, c)
        assert 0.02 < a.mean().item() < 0.8 and set(a.unique().tolist()) <= {0.0, 1.0}
    assert abs(make_mask("pixels", 200, 200, fraction=0.3).mean().item() - 0.3) < 0.01
    with pytest.raises(RestoraError, match="unknown mask"):
        make_mask("circle", 10, 10)


def test_mask_from_file(tmp_path, camera):
    drawn = np.zeros((96, 96), np.uint8)
    drawn[20:40, 10:70] = 255
    PILImage.fromarray(drawn).save(tmp_path / "mask.png")
    mask = make_mask(str(tmp_path / "mask.png"), 96, 96)
    assert torch.equal(mask[0], torch.from_numpy(drawn > 127).float())
    damaged = apply_mask(camera, mask)
    assert (damaged[:, 20:40, 10:70] == 1).all() and torch.equal(damaged[:, 50:], camera[:, 50:])
    with pytest.raises(RestoraError, match="mask is 96x96, image is 80x96"):
        make_mask(str(tmp_path / "mask.png"), 96, 80)


def test_imresize_sizes_and_constants():
    x = torch.full((3, 31, 45), 0.7)
    assert imresize(x, 0.5).shape == (3, 16, 23)
    assert imresize(x, 3).shape == (3, 93, 135)
    assert imresize(x, size=(10, 12)).shape == (3, 10, 12)
    assert torch.allclose(imresize(x, 1 / 3), torch.full((3, 11, 15), 0.7), atol=1e-6)


def _dense_imresize(x: torch.Tensor, scale: float) -> torch.Tensor:
    """The reference: MATLAB's contributions as dense (out, in) float64 matrices, H first (equal scales)."""
    from restora.degrade.resize import _contributions, scaled_size

    out = x.double()
    for dim, (n_in, n_out) in enumerate(zip(x.shape[-2:], scaled_size(tuple(x.shape[-2:]), scale))):
        idx, w = _contributions(n_in, range(n_out), scale, True)
        matrix = torch.zeros(n_out, n_in, dtype=torch.float64).scatter_add_(1, idx, w)
        out = torch.einsum("oi,...ij->...oj", matrix, out) if dim == 0 else torch.einsum("oi,...ji->...jo", matrix, out)
    return out


@pytest.mark.parametrize("shape, scale", [((3, 37, 45), 2), ((2, 1, 30, 23), 1 / 3), ((1, 1, 1), 4), ((3, 3, 50), 2.5),
                                          ((1, 50, 3), 0.5)])
def test_banded_tiled_imresize_equals_the_dense_matrices(monkeypatch, shape, scale):
    """Blocks of weights and output tiles (made tiny here, so every edge case is crossed) give the
    dense result within float64 rounding."""
    import restora.degrade.resize as resize

    x = torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = _dense_imresize(x, scale)
    assert (resize.imresize(x, scale) - expected).abs().max() < 1e-12
    monkeypatch.setattr(resize, "BLOCK", 3)
    monkeypatch.setattr(resize, "TILE_ELEMENTS", 40)
    monkeypatch.setattr(resize, "TILE_SIDE", 7)
    assert (resize.imresize(x, scale) - expected).abs().max() < 1e-12
    assert resize.imresize(x.float(), scale).dtype == torch.float32


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_matches_matlab_lr_files(set5, scale):
    """Within 1 gray level of MATLAB's imresize on >= 99% of pixels, for every Set5 image."""
    for hr_path in sorted((set5 / f"image_SRF_{scale}").glob("*_HR.png")):
        hr = read_image(hr_path).data
        lr = read_image(str(hr_path).replace("_HR.png", "_LR.png")).data
        ours = (imresize(hr, 1 / scale).clamp(0, 1) * 255).round()
        diff = (ours - (lr * 255).round()).abs()
        assert ours.shape == lr.shape
        assert (diff <= 1).float().mean().item() >= 0.99, hr_path.name
