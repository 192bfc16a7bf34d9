"""Plug-and-play deblurring (restora.methods.pnp): the FFT data step, the solver, kernel checks."""
from __future__ import annotations

import pytest
import torch
from PIL import Image as PILImage

from restora.degrade import blur, gaussian_noise, kernel_from_spec
from restora.errors import RestoraError
from restora.methods import get_method
from restora.methods.pnp import convolve, data_step, hqs_deblur, kernel_spectrum, masked_data_step
from restora.metrics import psnr
from restora.protocols import protocol, read_reference


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
