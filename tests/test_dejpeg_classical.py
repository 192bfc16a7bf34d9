"""The classical JPEG artefact remover (restora.methods.dejpeg, method bm3d-deblock): it beats the
JPEG input by the dejpeg protocol on real Classic5 crops, known quality or blind, gray and colour,
keeps the shape, and its parts (quality estimation, quantisation-constraint projection) do what
they say."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from restora.degrade import jpeg
from restora.io.jpeg import ijg_table
from restora.methods import get_method, list_methods
from restora.methods.dejpeg import block_dct, estimate_quality, qcs_projection, sigma_for
from restora.protocols import protocol, read_reference

METHOD = "bm3d-deblock"


@pytest.fixture(scope="module")
def barbara(data_dir: Path) -> torch.Tensor:
    """A 128x128 crop of Classic5's barbara (gray; textures and edges, where JPEG hurts most)."""
    path = data_dir / "jpeg" / "classic5" / "barbara.bmp"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    return read_reference(path)[:, 256:384, 192:320]


def gain(clean: torch.Tensor, setting: int, **inputs) -> tuple[float, float]:
    """(PSNR of the JPEG input, PSNR of bm3d-deblock's result) by the dejpeg protocol at quality
    ``setting``; ``inputs`` replace the protocol's (quality=None: blind)."""
    case = protocol("dejpeg").case(clean, setting, 0)
    out = get_method("dejpeg", METHOD).restore(case.degraded, **{**case.inputs, **inputs})
    assert out.shape == clean.shape and out.dtype == torch.float32
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    return case.score(case.degraded)[0], case.score(out)[0]


def test_registered_as_a_low_priority_classical_method():
    row = next(m for m in list_methods("dejpeg") if m["name"] == METHOD)
    assert row["kind"] == "classical"
    assert get_method("dejpeg", METHOD).priority == 0  # a shipped learned model becomes the default


@pytest.mark.parametrize("quality", [10, 30])
def test_beats_the_jpeg_input_on_classic5(barbara, quality):
    before, after = gain(barbara, quality)
    assert after > before + 0.2, (before, after)


def test_blind_estimates_the_quality_and_beats_the_input(barbara):
    degraded = jpeg(barbara, 20)
    assert estimate_quality(np.round(degraded[0].double().numpy() * 255)) in (19, 20)
    before, after = gain(barbara, 20, quality=None)
    assert after > before + 0.2, (before, after)


def test_colour_beats_the_input_and_keeps_the_shape(astronaut):
    before, after = gain(astronaut, 20)
    assert after > before, (before, after)


@pytest.mark.parametrize("channels", [1, 3])
def test_odd_and_small_sizes_keep_their_shape(astronaut, channels):
    x = astronaut[:channels, :37, :50] if channels == 3 else astronaut.mean(0, keepdim=True)[:, :37, :50]
    restorer = get_method("dejpeg", METHOD)
    for image in (x, x[:, :20, :13]):  # the second is edge-padded to 32x32 by the task and cropped back
        for quality in (15, None):
            out = restorer.restore(jpeg(image, 15), quality=quality)
            assert out.shape == image.shape


def test_options(astronaut):
    gray = jpeg(astronaut.mean(0, keepdim=True), 30)
    restorer = get_method("dejpeg", METHOD)
    unprojected = restorer.restore(gray, quality=30, project=False)
    assert not torch.equal(unprojected, restorer.restore(gray, quality=30))
    assert torch.allclose(restorer.restore(gray, quality=30, sigma=0, project=False), gray)


def test_sigma_grows_with_the_compression():
    levels = [sigma_for(q) for q in (5, 10, 20, 30, 40, 50, 70, 90, 95, 100)]
    assert all(a >= b for a, b in zip(levels, levels[1:])) and levels[-1] > 0
    assert all(sigma_for(q, chroma=True) > 0 for q in (5, 50, 95))


def test_quality_estimate_on_jpeg_and_on_other_images(astronaut):
    gray = astronaut.mean(0, keepdim=True)
    for quality in (10, 30, 50, 75):
        decoded = np.round(jpeg(gray, quality)[0].double().numpy() * 255)
        assert abs(estimate_quality(decoded) - quality) <= 1
    assert estimate_quality(np.round(gray[0].double().numpy() * 255)) is None  # never a JPEG
    shifted = np.round(jpeg(gray, 10)[0, 3:, 5:].double().numpy() * 255)  # off the JPEG grid
    assert estimate_quality(shifted) is None


def test_projection_onto_the_quantisation_constraint_set(astronaut):
    gray = astronaut.mean(0, keepdim=True)
    decoded = jpeg(gray, 20)[0].double() * 255
    table = ijg_table(20).reshape(8, 8)
    assert np.allclose(qcs_projection(decoded, decoded, table), decoded)  # the decoded image is in the set
    estimate = decoded + torch.from_numpy(np.random.default_rng(0).normal(0, 20, decoded.shape))
    projected = qcs_projection(estimate, decoded, table)
    k = np.round(block_dct(decoded).numpy() / table)
    c = block_dct(projected).numpy()
    assert np.all(np.abs(c - k * table) <= table / 2 + 1e-6)
    assert (projected - decoded).abs().mean() < (estimate - decoded).abs().mean()
