"""Real-world degradations: the kernel families and their specs, Poisson-Gaussian noise, (double)
JPEG and the quality read back from a file, the Real-ESRGAN pipeline, and ``restora degrade``'s
--jpeg, --realistic and new --blur specs."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from conftest import read_u8
from test_cli import assert_one_line_error

from restora.degrade import (double_jpeg, jpeg, kernel_from_spec, motion_kernel, noise_from_spec,
                             poisson_gaussian)
from restora.degrade import kernels
from restora.degrade.realistic import realistic
from restora.errors import RestoraError
from restora.io import Image, read_image, write_image
from restora.methods.tasks import KERNEL_SPEC

SHAPED = ["aniso:2,1,30", "aniso:1.5,1.5", "generalized:2,1,30,0.7", "generalized:1,2,100,3",
          "plateau:2,1,30,1.5", "plateau:0.5,3,-20,0.6"]
SINC = ["sinc:1.2", "sinc:3.1,11", "sinc:0.6,3"]
RANDOM = ["random:0", "random:1", "random:123"]


def assert_kernel(k: torch.Tensor, signed: bool = False) -> None:
    """Square, odd side, sums to 1, non-negative unless ``signed`` (sinc's lobes)."""
    assert k.dim() == 2 and k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1, k.shape
    assert abs(k.sum().item() - 1) < 1e-5
    assert signed or k.min() >= 0


@pytest.mark.parametrize("spec", SHAPED + SINC + RANDOM)
def test_kernel_specs_are_normalised_odd_and_deterministic(spec):
    k = kernel_from_spec(spec)
    assert_kernel(k, signed=spec.startswith(("sinc", "random")))
    assert torch.equal(k, kernel_from_spec(spec))


def test_kernel_sizes_and_angles():
    assert kernel_from_spec("aniso:2,1,30").shape == (13, 13)  # 2 ceil(3 * 2) + 1
    assert kernel_from_spec("aniso:0.1,0.1").shape == (3, 3) and kernel_from_spec("aniso:40,1").shape == (101, 101)
    assert kernel_from_spec("sinc:1.2").shape == (21, 21) and kernel_from_spec("sinc:3.1,11").shape == (11, 11)
    assert kernel_from_spec("sinc:1.2").min() < 0  # ringing lobes
    # ANGLE is counter-clockwise from +x, as motion's: 45 degrees lies along the anti-diagonal
    for k in (kernel_from_spec("aniso:4,1,45"), kernel_from_spec("plateau:4,1,45,2"), motion_kernel(9, 45)):
        assert k.flip(1).diagonal().sum() > 3 * k.diagonal().sum()
    assert torch.allclose(kernel_from_spec("aniso:3,1,90"), kernel_from_spec("aniso:3,1,0").T, atol=1e-6)
    assert torch.allclose(kernel_from_spec("generalized:2,2,0,1"), kernel_from_spec("aniso:2,2"), atol=1e-6)


def test_random_kernel_seeds():
    assert not torch.equal(kernel_from_spec("random:3"), kernel_from_spec("random:4"))
    assert torch.equal(kernel_from_spec("random:3"), kernels.random_kernel(torch.Generator().manual_seed(3)))


def test_random_kernel_hits_every_family(monkeypatch):
    drawn = []
    for name in ("anisotropic_gaussian", "generalized_gaussian", "plateau", "sinc"):
        def record(size, *args, _name=name, _make=getattr(kernels, name)):
            isotropic = _name != "sinc" and args[0] == args[1]
            drawn.append(("iso " if isotropic else "") + _name)
            return _make(size, *args)
        monkeypatch.setattr(kernels, name, record)
    for seed in range(200):
        k = kernels.random_kernel(torch.Generator().manual_seed(seed))
        assert_kernel(k, signed=drawn[-1] == "sinc")
        assert 7 <= k.shape[0] <= 21
    assert len(drawn) == 200
    assert set(drawn) == {"iso anisotropic_gaussian", "anisotropic_gaussian", "iso generalized_gaussian",
                          "generalized_gaussian", "iso plateau", "plateau", "sinc"}


@pytest.mark.parametrize("bad", ["aniso:1", "aniso:0,1", "aniso:1,2,3,4", "aniso:nan,1", "generalized:1,1,0",
                                 "generalized:1,1,0,9", "plateau:1,1,0,0.1", "plateau:60,1,0,1", "sinc:4",
                                 "sinc:0", "sinc:1,20", "sinc:1,21.5", "sinc:1,103", "random:1.5", "random:-1",
                                 "random:", "random:x", "random:1,2"])
def test_bad_kernel_specs_give_one_line(bad):
    with pytest.raises(RestoraError) as error:
        kernel_from_spec(bad)
    assert "\n" not in str(error.value)


def test_kernel_file_that_is_no_image(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a kernel\n")
    with pytest.raises(RestoraError, match=r"notes\.txt: not an image file") as error:
        kernel_from_spec(str(text))
    assert "\n" not in str(error.value) and "gaussian:SIGMA" in str(error.value)


def test_server_accepts_the_new_kernel_specs_but_no_paths():
    for spec in SHAPED + SINC + RANDOM:
        assert KERNEL_SPEC.match(spec), spec
    for spec in ("random:../etc/passwd", "notes.txt", "box:3"):
        assert not KERNEL_SPEC.match(spec), spec


def test_poisson_gaussian_noise_grows_with_the_signal():
    peak, sigma = 30.0, 5.0
    stds = []
    for level in (0.05, 0.8):
        x = torch.full((1, 200, 200), level)
        noise = poisson_gaussian(x, peak, sigma, seed=1, clip=False) - x
        expected = math.sqrt(level / peak + (sigma / 255) ** 2)
        assert abs(noise.mean().item()) < 0.01
        assert abs(noise.std().item() / expected - 1) < 0.05, level
        stds.append(noise.std().item())
    assert stds[1] > 3 * stds[0]


def test_poisson_gaussian_gray_mode_and_seeds(astronaut):
    colour = poisson_gaussian(astronaut, 20, 5, seed=2, clip=False) - astronaut
    gray = poisson_gaussian(astronaut, 20, 5, seed=2, gray=True, clip=False) - astronaut
    assert torch.allclose(gray[0], gray[1], atol=1e-6) and torch.allclose(gray[0], gray[2], atol=1e-6)
    assert (colour[0] - colour[1]).abs().mean() > 0.01
    assert torch.equal(poisson_gaussian(astronaut, 20, 5, seed=2), poisson_gaussian(astronaut, 20, 5, seed=2))
    assert not torch.equal(poisson_gaussian(astronaut, 20, 5, seed=2), poisson_gaussian(astronaut, 20, 5, seed=3))
    clipped = poisson_gaussian(astronaut, 2, 30, seed=0)
    assert clipped.min() >= 0 and clipped.max() <= 1 and astronaut.min() >= 0
    pair = torch.stack([astronaut, astronaut])
    batch = poisson_gaussian(pair, 20, 5, gray=True, clip=False) - pair
    assert batch.shape == pair.shape and torch.allclose(batch[:, 0], batch[:, 2], atol=1e-6)
    assert not torch.equal(batch[0], batch[1])


def test_poisson_gaussian_specs(astronaut):
    assert torch.equal(noise_from_spec("pg:20,5")(astronaut, 4), poisson_gaussian(astronaut, 20, 5, 4))
    assert torch.equal(noise_from_spec("pg:20,5,gray")(astronaut, 4), poisson_gaussian(astronaut, 20, 5, 4, gray=True))
    for bad in ("pg:20", "pg:20,5,6", "pg:a,5", "pg:20,5,grey", "pg:"):
        with pytest.raises(RestoraError, match="bad noise"):
            noise_from_spec(bad)
    for bad in ("pg:0,5", "pg:20,300"):
        with pytest.raises(RestoraError):
            noise_from_spec(bad)(astronaut, 0)


def test_double_jpeg_deterministic_per_shift(astronaut):
    twice = double_jpeg(astronaut, 30, 80, (3, 5))
    assert twice.shape == astronaut.shape and torch.equal(twice, double_jpeg(astronaut, 30, 80, (3, 5)))
    assert not torch.equal(twice, double_jpeg(astronaut, 30, 80, (0, 0)))
    assert not torch.equal(twice, jpeg(astronaut, 80)) and not torch.equal(twice, jpeg(astronaut, 30))
    assert (twice - jpeg(astronaut, 80)).abs().mean() > 1 / 255
    with pytest.raises(RestoraError):
        double_jpeg(astronaut, 30, 80, (8, 0))


def test_realistic_deterministic_per_seed(astronaut):
    x = astronaut[:, :95, :90]
    for scale in (1, 2, 4):
        y = realistic(x, scale, torch.Generator().manual_seed(7))
        assert y.shape == (3, 95 // scale, 90 // scale) and 0 <= y.min() and y.max() <= 1
        assert torch.equal(y, realistic(x, scale, torch.Generator().manual_seed(7)))
        assert not torch.equal(y, realistic(x, scale, torch.Generator().manual_seed(8)))
    assert torch.equal(x, astronaut[:, :95, :90])


def test_realistic_output_is_at_8bit_levels(astronaut):
    for seed in range(8):
        y = realistic(astronaut, 4, torch.Generator().manual_seed(seed)) * 255
        assert (y - y.round()).abs().max() < 1e-3, seed


def test_jpeg_quality_read_back_from_the_file(tmp_path, astronaut, camera):
    for q in range(10, 96):
        for name, x in (("colour", astronaut), ("gray", camera)):
            path = write_image(Image(data=x), tmp_path / f"{name}{q}.jpg", quality=q)
            assert read_image(path).jpeg_quality == q, (name, q)
    png = write_image(Image(data=astronaut), tmp_path / "lossless.png")
    assert read_image(png).jpeg_quality is None


@pytest.fixture
def photo(data_dir: Path) -> Path:
    """A colour 256x256 PNG of the shared data (Set3C's butterfly)."""
    path = data_dir / "deblur" / "set3c" / "butterfly.png"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    return path


def test_degrade_jpeg(cli_inline, photo, tmp_path):
    result = cli_inline("degrade", photo, "-o", "q10.png", "--jpeg", "10")
    assert result.returncode == 0, result.stderr
    original, damaged = read_u8(photo).astype(int), read_u8(tmp_path / "q10.png").astype(int)
    assert damaged.shape == original.shape and abs(damaged - original).mean() > 2
    assert (damaged == (jpeg(read_image(photo).data, 10) * 255).round().numpy().transpose(1, 2, 0)).all()
    assert cli_inline("degrade", photo, "-o", "double.png", "--jpeg", "10,90", "--seed", "1").returncode == 0
    assert (read_u8(tmp_path / "double.png") != damaged).any()


def test_degrade_jpeg_folder_writes_png(cli_inline, photo, tmp_path):
    (tmp_path / "in").mkdir()
    write_image(read_image(photo), tmp_path / "in" / "photo.jpg", quality=95)
    assert cli_inline("degrade", "in", "-o", "out", "--jpeg", "20").returncode == 0
    damaged = read_image(tmp_path / "out" / "photo.png").data  # the q20 damage, not re-encoded
    assert torch.allclose(damaged, jpeg(read_image(tmp_path / "in" / "photo.jpg").data, 20), atol=1e-6)
    assert not (tmp_path / "out" / "photo.jpg").exists()


@pytest.mark.parametrize("quality", ["0", "101", "10,0", "10,20,30", "ten"])
def test_degrade_bad_jpeg_quality(cli_inline, photo, tmp_path, quality):
    assert_one_line_error(cli_inline("degrade", photo, "-o", "out.png", "--jpeg", quality))
    assert not (tmp_path / "out.png").exists()


def test_degrade_bad_quality_through_the_console_script(cli, photo):
    assert_one_line_error(cli("degrade", photo, "-o", "out.png", "--jpeg", "101"), "101")


def test_degrade_realistic(cli_inline, photo, tmp_path):
    result = cli_inline("degrade", photo, "-o", "lr.png", "--realistic", "4", "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert read_u8(tmp_path / "lr.png").shape == (64, 64, 3)
    assert cli_inline("degrade", photo, "-o", "again.png", "--realistic", "4", "--seed", "3").returncode == 0
    assert (read_u8(tmp_path / "again.png") == read_u8(tmp_path / "lr.png")).all()
    assert_one_line_error(cli_inline("degrade", photo, "-o", "x.png", "--realistic", "4", "--noise", "gaussian:5"),
                          "--realistic")
    assert_one_line_error(cli_inline("degrade", photo, "-o", "x.png", "--realistic", "9"), "--realistic")


def test_degrade_new_blur_and_noise_specs(cli_inline, photo, tmp_path):
    result = cli_inline("degrade", photo, "-o", "aniso.png", "--blur", "aniso:2,1,30", "--noise", "pg:30,2")
    assert result.returncode == 0, result.stderr
    assert read_u8(tmp_path / "aniso.png").shape == read_u8(photo).shape
    assert read_u8(tmp_path / "aniso_kernel.png").shape == (13, 13)
    (tmp_path / "notafile.txt").write_text("hello\n")
    assert_one_line_error(cli_inline("degrade", photo, "-o", "x.png", "--blur", "notafile.txt"), "notafile.txt")
