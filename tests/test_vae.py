"""Digits: the idx reader, VAE training (the ELBO falls, figures are written), the denoising
autoencoder (beats the noisy input after a few dozen steps) and the shipped VAE/DAE weights."""
from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from skimage import data as skdata
from skimage.transform import resize

from conftest import interrupt_then_resume
from restora.errors import RestoraError
from restora.generate import sample
from restora.io.idx import read_digits, read_idx
from restora.metrics import psnr
from restora.train import Trainer
from restora.train.data import ImageCache
from restora.zoo import load_shipped, shipped_models

MNIST = Path(os.environ.get("RESTORA_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / \
    "digits" / "mnist-test" / "t10k-images-idx3-ubyte.gz"


def write_idx(path: Path, array: np.ndarray) -> Path:
    """An unsigned-byte idx file (gzip-compressed when the name ends in .gz)."""
    raw = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes() + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> Path:
    """The MNIST test digits when the shared data is there, else 28x28 thumbnails of real photos
    (scikit-image's, 3,000 random crops) in the same idx format, with labels."""
    if MNIST.is_file():
        return MNIST
    folder = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(0)
    photos = [skdata.camera(), skdata.coins(), skdata.moon(), skdata.page()]
    crops, labels = [], []
    for _ in range(3000):
        k = int(rng.integers(len(photos)))
        img = photos[k]
        top, left = rng.integers(0, img.shape[0] - 112), rng.integers(0, img.shape[1] - 112)
        crops.append(resize(img[top:top + 112, left:left + 112], (28, 28), anti_aliasing=True) * 255)
        labels.append(k)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.array(labels))
    return write_idx(folder / "train-images-idx3-ubyte.gz", np.stack(crops).round())


def read_log(run: Path) -> list[dict]:
    with (run / "log.csv").open() as f:
        return list(csv.DictReader(f))


def noisy_psnr(clean: list[torch.Tensor], sigma: float, denoise=None) -> float:
    """Mean PSNR of the digits with Gaussian noise (seed = index), optionally denoised."""
    scores = []
    for i, c in enumerate(clean):
        noisy = c + torch.randn(c.shape, generator=torch.Generator().manual_seed(i)) * sigma / 255
        scores.append(psnr(noisy if denoise is None else denoise(noisy), c))
    return sum(scores) / len(scores)


def test_idx_reader_reads_the_real_mnist_file():
    if not MNIST.is_file():
        pytest.skip(f"{MNIST} absent (set RESTORA_DATA)")
    images, labels = read_digits(MNIST)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and list(labels[:5]) == [7, 2, 1, 0, 4]  # the well-known first test digits
    assert images.max() == 255 and images.min() == 0


def test_idx_reader_round_trips_and_rejects_damaged_files(tmp_path, digits):
    array = read_idx(digits)[:50]
    assert np.array_equal(read_idx(write_idx(tmp_path / "a-images-idx3-ubyte", array)), array)
    whole = gzip.compress(bytes([0, 0, 8, 3]) + np.array(array.shape, ">u4").tobytes() + array.tobytes())
    damaged = {
        "cut-images-idx3-ubyte.gz": whole[: len(whole) // 2],  # truncated gzip stream
        "short-images-idx3-ubyte": (bytes([0, 0, 8, 3]) + np.array(array.shape, ">u4").tobytes()
                                    + array.tobytes()[:-10]),  # header promises more bytes than follow
        "text-images-idx3-ubyte": b"not an idx file at all",
    }
    for name, raw in damaged.items():
        path = tmp_path / name
        path.write_bytes(raw)
        with pytest.raises(RestoraError) as err:
            read_idx(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_ranges_of_an_idx_source_keep_their_labels(digits):
    images, labels = read_digits(digits)
    cache = ImageCache(f"{digits}[10:20]", "gray")
    assert len(cache) == 10 and torch.equal(cache.labels, torch.from_numpy(labels[10:20]).long())
    assert torch.equal(cache.images[3][0], torch.from_numpy(images[13]))


def test_vae_training_lowers_the_elbo_and_draws_its_figures(digits, tmp_path):
    recipe = {
        "task": "generate", "objective": "vae", "seed": 0,
        "net": {"name": "conv-vae", "args": {"latent": 2, "width": 16}},
        "data": {"train": f"{digits}[:2000]", "val": f"{digits}[2000:2400]", "batch": 64},
        "optimizer": {"name": "adam", "lr": 0.002}, "schedule": {"name": "constant"},
        "train": {"steps": 80, "log_every": 10, "val_every": 40, "checkpoint_every": 40},
    }
    run = tmp_path / "vae"
    Trainer(recipe, run, progress=False).run()
    rows = read_log(run)
    assert {"loss", "recon", "kl", "val_loss", "val_recon", "val_kl"} <= set(rows[0])
    # -ELBO in nats per image (gray levels have a cross-entropy floor: compare the fall, not a ratio)
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"]) - 10
    for r in rows:  # the logged loss is the sum of its two terms
        assert float(r["loss"]) == pytest.approx(float(r["recon"]) + float(r["kl"]), rel=1e-4)
    val = [float(r["val_loss"]) for r in rows if r["val_loss"]]
    assert len(val) == 2 and val[1] < val[0]
    for name in ("samples.png", "reconstructions.png", "interpolation.png", "latent.png", "curves.png",
                 "model.safetensors"):
        assert (run / name).is_file(), name


def test_vae_resume_after_interrupt_is_bit_exact(digits, tmp_path):
    recipe = {"objective": "vae", "seed": 1, "net": {"name": "conv-vae", "args": {"latent": 4, "width": 8}},
              "data": {"train": f"{digits}[:500]", "val": f"{digits}[500:600]", "batch": 16},
              "train": {"steps": 30, "log_every": 10, "val_every": 10, "checkpoint_every": 10}}
    Trainer(recipe, tmp_path / "straight", progress=False).run()
    interrupt_then_resume(recipe, tmp_path / "resumed", at_step=15).run()
    a, b = (load_file(str(tmp_path / run / "model.safetensors")) for run in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_denoising_autoencoder_beats_the_noisy_input_after_a_few_dozen_steps(digits, tmp_path):
    recipe = {
        "task": "denoise-digits", "seed": 0,
        "net": {"name": "conv-dae", "args": {"width": 16}},
        "data": {"train": f"{digits}[:2000]", "val": f"{digits}[2000:]", "val_limit": 100, "patch": 28,
                 "batch": 32, "flips": False},
        "degradation": {"kind": "noise", "sigma": [0, 100], "val_sigmas": [50]},
        "loss": "l2", "optimizer": {"name": "adam", "lr": 0.003}, "schedule": {"name": "constant"},
        "train": {"steps": 100, "log_every": 20, "val_every": 100},
    }
    run = tmp_path / "dae"
    Trainer(recipe, run, progress=False).run()
    denoised = float(read_log(run)[-1]["psnr_sigma50"])
    # the same held-out digits and noise (seed = index) without denoising
    clean = [img.float() / 255 for img in ImageCache(f"{digits}[2000:2100]", "gray").images]
    assert denoised > noisy_psnr(clean, 50) + 2


SHIPPED = ("vae-mnist", "vae-mnist-2d", "vae-fashion", "dae-mnist")


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_digit_models_load_from_the_package(name):
    if name not in {e["name"] for e in shipped_models()}:
        pytest.skip(f"{name} is not shipped")
    net = load_shipped(name)
    if name.startswith("vae"):
        images = net.generate(torch.randn(4, net.latent))
        assert images.shape == (4, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
        assert sample(name, 3).shape == (3, 1, 28, 28)  # what `restora generate --model NAME` draws
    else:
        x = torch.rand(2, 1, 28, 30)
        assert net(x, torch.tensor([0.2, 0.2])).shape == x.shape


@torch.no_grad()
def test_shipped_dae_clearly_beats_the_noisy_input_on_held_out_digits():
    if "dae-mnist" not in {e["name"] for e in shipped_models()}:
        pytest.skip("dae-mnist is not shipped")
    if not MNIST.is_file():
        pytest.skip(f"{MNIST} absent (set RESTORA_DATA)")
    net = load_shipped("dae-mnist")
    clean = [img.float() / 255 for img in ImageCache(f"{MNIST}[8000:8100]", "gray").images]
    assert noisy_psnr(clean, 50, lambda x: net(x[None])[0].clamp(0, 1)) > noisy_psnr(clean, 50) + 6
