"""Deblurring: plug-and-play (restora.methods.pnp: the FFT data step, the solver, kernel checks),
the camera blur a blind deblurrer trains on, a tiny blind recipe, and the default method with and
without a kernel."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from skimage import data as skdata

from restora.degrade import blur, camera_blur_kernel, gaussian_noise, kernel_from_spec
from restora.errors import RestoraError
from restora.methods import default_method, get_method, list_methods
from restora.methods.pnp import convolve, data_step, hqs_deblur, kernel_spectrum, masked_data_step
from restora.metrics import psnr
from restora.protocols import protocol, read_reference
from restora.train import Trainer


def test_the_kernel_spectrum_is_circular_convolution(camera):
    kernel = kernel_from_spec("motion:9,30")
    spectrum = kernel_spectrum(kernel, tuple(camera.shape[-2:]))
    assert torch.allclose(convolve(camera, spectrum).float(), blur(camera, kernel, boundary="circular")[0], atol=1e-6)


def test_the_fft_data_step_solves_its_normal_equations_exactly(camera):
    """x = argmin ||y - k (*) x||^2 + rho ||x - z||^2  <=>  K^T (K x - y) + rho (x - z) = 0."""
    kernel = kernel_from_spec("gaussian:1.5")
    y = blur(camera, kernel, boundary="circular")[0].double()
    z = torch.rand(camera.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    rho = 0.05
    spectrum = kernel_spectrum(kernel, tuple(camera.shape[-2:]))
    x = data_step(torch.fft.rfft2(y), spectrum, z, rho)
    residual = convolve(convolve(x, spectrum) - y, spectrum.conj()) + rho * (x - z)
    assert residual.abs().max() < 1e-10
    everywhere = torch.ones(camera.shape[-2:], dtype=torch.bool)
    assert torch.allclose(masked_data_step(y, everywhere, spectrum, z, rho), x, atol=1e-6)


def test_an_identity_kernel_without_noise_gives_the_input_back(astronaut):
    identity = torch.ones(1, 1)
    out = get_method("deblur", "pnp").restore(astronaut, kernel=identity, noise=0)
    assert psnr(out, astronaut) > 40


def test_pnp_beats_the_blurred_input_and_richardson_lucy_on_a_real_photo(camera):
    kernel = kernel_from_spec("motion:11,30")
    blurred = gaussian_noise(blur(camera, kernel)[0], 2.55, seed=0, clip=False)  # reflected borders: a photo
    pnp = get_method("deblur", "pnp").restore(blurred, kernel=kernel)
    rl = get_method("deblur", "richardson-lucy").restore(blurred, kernel=kernel)
    assert psnr(pnp, camera) > psnr(blurred, camera) + 4
    assert psnr(pnp, camera) > psnr(rl, camera) + 2
    assert get_method("deblur").name == "pnp"  # the default deblurrer


def test_the_solver_is_generic_in_its_prior(camera):
    """With the identity as the prior, HQS reduces to Tikhonov-regularised deconvolution: finite, sized."""
    kernel = kernel_from_spec("disk:2")
    y = blur(camera, kernel, boundary="circular")[0]
    out = hqs_deblur(y, kernel, 2.55, lambda x, sigma: x, iterations=3)
    assert out.shape == camera.shape and torch.isfinite(out).all()


def test_bad_kernels_are_one_line_errors(camera, cli_inline, tmp_path):
    with pytest.raises(RestoraError, match="sums to 2"):
        get_method("deblur", "pnp").restore(camera, kernel=torch.ones(3, 3) * 2 / 9)
    with pytest.raises(RestoraError, match="does not fit"):
        get_method("deblur", "pnp").restore(camera[:, :8, :8], kernel=kernel_from_spec("gaussian:3"))
    PILImage.fromarray((camera[0, :20, :20].numpy() * 255).astype("uint8")).save(tmp_path / "small.png")
    PILImage.fromarray((torch.rand(31, 31).numpy() * 255).astype("uint8")).save(tmp_path / "big-kernel.png")
    result = cli_inline("deblur", "small.png", "-o", "out.png", "--kernel", "big-kernel.png")
    assert result.returncode == 2 and "does not fit" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_tiles_score_within_a_tenth_of_a_db_of_the_whole_photo(data_dir):
    """pnp in tiles of 256 (bounded memory) against one piece, on a 512x512 photo (Set3C's butterfly
    and its mirror images) degraded by the deblur protocol (gaussian:2): within 0.1 dB PSNR."""
    path = data_dir / "deblur" / "set3c" / "butterfly.png"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    half = read_reference(path)
    row = torch.cat([half, half.flip(-1)], -1)
    case = protocol("deblur").case(torch.cat([row, row.flip(-2)], -2), "gaussian:2", 0)
    pnp = get_method("deblur", "pnp")
    whole = pnp.restore(case.degraded, **case.inputs, tile=512)
    tiled = pnp.restore(case.degraded, **case.inputs, tile=256)
    assert case.score(whole)[0] > case.score(case.degraded)[0] + 5
    assert abs(case.score(tiled)[0] - case.score(whole)[0]) < 0.1


def test_camera_blur_kernels_are_normalised_repeat_per_seed_and_span_their_families():
    shapes = set()
    for seed in range(40):
        k = camera_blur_kernel(torch.Generator().manual_seed(seed))
        assert torch.equal(k, camera_blur_kernel(torch.Generator().manual_seed(seed)))
        assert k.min() >= 0 and abs(float(k.sum()) - 1) < 1e-5
        assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1 and k.shape[0] <= 21
        shapes.add(k.shape[0])
    assert len(shapes) > 3  # lens kernels of 7-21 px, disks of 3-9, motion of 3-15


def test_a_tiny_blind_deblurring_recipe_learns(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut", "coffee", "chelsea"):
        PILImage.fromarray(getattr(skdata, name)()).resize((128, 96)).save(folder / f"{name}.png")
    recipe = {"task": "deblur", "seed": 0, "net": {"name": "unet-denoiser", "args": {"channels": 3, "width": 8, "blocks": 1}},
              "data": {"train": str(folder), "val": str(folder), "val_limit": 1, "patch": 48, "batch": 8},
              "degradation": {"kind": "blur", "sigma": [0, 5], "val_kernels": ["disk:2"]},
              "optimizer": {"lr": 0.003}, "train": {"steps": 40, "log_every": 10, "val_every": 40}}
    last = Trainer(recipe, tmp_path / "run", progress=False).run()
    with (tmp_path / "run" / "log.csv").open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[-1] < losses[0], losses
    assert float(last["psnr_disk:2"]) > 15  # validated by the deblur protocol


def test_the_default_deblurrer_is_pnp_with_a_kernel_and_a_blind_one_without(camera):
    blind = [m["name"] for m in list_methods("deblur") if get_method("deblur", m["name"]).blind]
    assert default_method("deblur", {"kernel": "gaussian:2"}) == "pnp"
    if blind:
        assert default_method("deblur", {"kernel": None}) in blind
    with pytest.raises(RestoraError, match="pnp needs the blur kernel"):
        get_method("deblur", "pnp").restore(camera)


def test_blind_deblurring_through_the_cli_sharpens_a_real_photo(cli_inline, tmp_path):
    clean = torch.from_numpy(skdata.astronaut()[:192, 160:352]).permute(2, 0, 1).float() / 255
    blurred = gaussian_noise(blur(clean, kernel_from_spec("disk:2"))[0], 2.0, seed=0)
    PILImage.fromarray((blurred.permute(1, 2, 0).numpy() * 255).round().astype("uint8")).save(tmp_path / "soft.png")
    result = cli_inline("deblur", "soft.png", "-o", "sharp.png")
    assert result.returncode == 0, result.stderr
    sharp = torch.from_numpy(np.asarray(PILImage.open(tmp_path / "sharp.png"))).permute(2, 0, 1).float() / 255
    assert psnr(sharp, clean) > psnr(blurred, clean) + 1.5
    result = cli_inline("deblur", "soft.png", "-o", "pnp.png", "--method", "pnp")
    assert result.returncode == 2 and "pnp needs the blur kernel" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
