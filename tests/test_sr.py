"""Super-resolution: the networks, the learned upscaler (luma + bicubic chroma, any scale, tiles),
a tiny recipe that learns, and the shipped models against bicubic."""
from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shared_data, tiny_sr_entries, to_tensor
from PIL import Image as PILImage
from skimage import data as skdata

from restora.bench import run_bench
from restora.color import rgb_to_ycbcr, ycbcr_to_rgb
from restora.degrade import imresize
from restora.io import Image, read_image, write_image
from restora.methods import default_method, get_method
from restora.methods.learned import model_passes
from restora.metrics import psnr, to_y
from restora.nets import build_net
from restora.train import Trainer
from restora.zoo import load_net, load_shipped, shipped_models

SR_MODELS = [m for m in shipped_models() if m["task"] == "upscale"]
needs_sr_models = pytest.mark.skipif(not SR_MODELS, reason="no upscale model is shipped in restora/zoo/models.json")


def lr_of(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The protocol's LR: MATLAB bicubic downscale, quantised to 8 bits."""
    return (imresize(hr, 1 / scale).clamp(0, 1) * 255).round() / 255


def test_ycbcr_round_trip_and_metrics_share_it(astronaut, camera):
    ycbcr = rgb_to_ycbcr(astronaut.double())
    assert (ycbcr_to_rgb(ycbcr) - astronaut).abs().max() < 1e-12
    assert torch.equal(to_y(astronaut), ycbcr[:1])
    gray = rgb_to_ycbcr(camera.expand(3, -1, -1))
    assert torch.allclose(gray[1:], torch.full_like(gray[1:], 128 / 255), atol=1e-6)  # gray: neutral chroma
    assert 16 / 255 - 1e-6 <= gray[0].min() and gray[0].max() <= 235 / 255 + 1e-6


@pytest.mark.parametrize("arch, kwargs", [("srcnn", {"mid_kernel": 5}), ("srcnn", {"mid_kernel": 1}),
                                          ("fsrcnn", {}), ("espcn", {}), ("compact-sr", {"width": 16, "blocks": 2})])
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_every_architecture_upscales_by_its_scale(arch, kwargs, scale):
    net = build_net(arch, scale=scale, channels=1, **kwargs).eval()
    with torch.no_grad():
        for shape in ((2, 1, 16, 16), (1, 1, 17, 23)):
            assert net(torch.rand(shape)).shape == (shape[0], 1, shape[2] * scale, shape[3] * scale)


@pytest.mark.parametrize("scale, available, passes", [
    (1, [2, 3, 4], ()), (2, [2, 3, 4], (2,)), (3, [2, 3, 4], (3,)), (4, [2, 3, 4], (4,)), (1.5, [2, 3, 4], (2,)),
    (2.5, [2, 3, 4], (3,)), (3.2, [2, 3, 4], (4,)), (5, [2, 3, 4], (2, 3)), (6, [2, 3, 4], (2, 3)),
    (8, [2, 3, 4], (2, 4)), (9, [2, 3, 4], (3, 3)), (16, [2, 3, 4], (4, 4)), (3, [2], (2, 2)), (2, [4, 3], (3,))])
def test_scale_policy(scale, available, passes):
    assert model_passes(scale, available) == passes


def test_learned_upscaler_super_resolves_luma_and_resizes_chroma(tiny_sr, astronaut, camera):
    method = get_method("upscale", tiny_sr)
    out = method.restore(astronaut, scale=2)
    assert out.shape == (3, 192, 192) and 0 <= out.min() and out.max() <= 1
    net = load_shipped("tiny-sr-x2")
    with torch.no_grad():
        luma = net(rgb_to_ycbcr(astronaut, luma_only=True)[None])[0]
    inside = (out > 0.01).all(0) & (out < 0.99).all(0)  # away from clipping the conversion is exact
    ycbcr = rgb_to_ycbcr(out)
    assert (ycbcr[:1] - luma).abs()[:, inside].max() < 1e-5
    assert (ycbcr[1:] - imresize(rgb_to_ycbcr(astronaut)[1:], 2)).abs()[:, inside].max() < 1e-5

    gray = method.restore(camera, scale=3)
    assert gray.shape == (1, 288, 288)
    assert (gray - method.restore(camera.expand(3, -1, -1), scale=3)).abs().max() < 1e-5  # gray = R = G = B


@pytest.mark.parametrize("scale, size, steps", [(1.5, 144, (2,)), (2.5, 240, (3,)), (5, 480, (2, 3)),
                                               (8, 768, (2, 4))])
def test_scales_without_a_model_chain_models_then_resize(tiny_sr, camera, scale, size, steps):
    method = get_method("upscale", tiny_sr)
    out = method.restore(camera, scale=scale)
    assert out.shape == (1, size, size)
    chained = camera
    for step in steps:
        chained = method.restore(chained, scale=step)
    if chained.shape[-1] != size:
        chained = imresize(chained, size=(size, size))
    assert (out - chained).abs().mean() < 1e-3  # only pixels clipped between passes differ


@pytest.mark.parametrize("kind", ["rgb", "gray", "rgba", "gray16", "rgb16"])
def test_quantised_results_are_the_float_results_written(tiny_sr, kind, tmp_path, monkeypatch):
    """Upscaled with ``quantise`` (as the command line does: band by band straight into the integers
    written) an image writes the very file its float result writes: at a scale with a model (tiles
    of 72, bands of a few rows), one chaining two and one resizing, with strength."""
    from restora.methods import learned

    monkeypatch.setattr(learned, "BAND_VALUES", 3000)
    pixels = skdata.astronaut()[100:250, 150:280]  # 150x130
    array = {"rgb": pixels, "gray": pixels[:, :, 1], "rgba": np.dstack([pixels, pixels[:, :, :1]]),
             "gray16": pixels[:, :, 1].astype(np.uint16) * 257 + 3, "rgb16": pixels.astype(np.uint16) * 251}[kind]
    image = Image.from_array(array)
    method = get_method("upscale", tiny_sr)
    for scale, options in [(3, {}), (4, {"strength": 0.5}), (2.5, {})]:
        quantised = method(image, quantise=True, scale=scale, tile=72, overlap=16, **options)
        assert not quantised.data.is_floating_point()
        floats = method(image, scale=scale, tile=72, overlap=16, **options)
        written = [read_image(write_image(out, tmp_path / f"{name}.png", overwrite=True))
                   for name, out in (("q", quantised), ("f", floats))]
        assert torch.equal(written[0].data, written[1].data) and written[0].bits == written[1].bits
        assert (written[0].alpha is None) == (kind != "rgba")
        assert written[0].alpha is None or torch.equal(written[0].alpha, written[1].alpha)


def test_scale_one_is_the_identity(tiny_sr, astronaut):
    assert (get_method("upscale", tiny_sr).restore(astronaut, scale=1) - astronaut).abs().max() < 1e-5


def test_default_upscaler_is_the_highest_priority_model_else_bicubic(temp_zoo):
    temp_zoo(tiny_sr_entries("weak-sr", priority=5) + tiny_sr_entries("strong-sr", priority=20))
    assert default_method("upscale") == "strong-sr"


def test_bicubic_is_the_default_without_upscale_models(temp_zoo):
    temp_zoo([])
    assert default_method("upscale") == "bicubic"


@pytest.mark.parametrize("scale", [2, 3])
def test_tiles_match_one_pass(tiny_sr, scale):
    photo = to_tensor(skdata.astronaut()[100:250, 150:280])  # 150x130: several 72-pixel tiles
    method = get_method("upscale", tiny_sr)
    whole = method.restore(photo, scale=scale)
    tiled = method.restore(photo, scale=scale, tile=72, overlap=16)
    assert (tiled - whole).abs().max() < 1e-4
    ensemble = method.restore(photo, scale=scale, ensemble=True)  # 8 flips/rotations of a non-square image
    tiled_ensemble = method.restore(photo, scale=scale, tile=72, overlap=16, ensemble=True)
    assert ensemble.shape == whole.shape and (tiled_ensemble - ensemble).abs().max() < 1e-4


def test_nets_that_upsample_first_get_tiles_scaled_down(temp_zoo, monkeypatch):
    from restora.methods import learned

    kwargs = {"scale": 4, "channels": 1, "n1": 8, "n2": 4}
    temp_zoo([{"name": "tiny-srcnn-x4", "task": "upscale", "method": "tiny-srcnn", "file": "tiny-srcnn-x4.safetensors",
               "card": "tiny-srcnn-x4.md", "arch": "srcnn", "channels": 1, "scale": 4, "priority": 1,
               "summary": "tiny test model", "net": build_net("srcnn", **kwargs), "kwargs": kwargs}])
    sides = []
    real = learned.tiled_bands
    monkeypatch.setattr(learned, "tiled_bands", lambda fn, t, scale, tile, overlap: sides.append(tile) or
                        real(fn, t, scale, tile, overlap))
    photo = to_tensor(skdata.astronaut()[:300, :300])
    tiled = get_method("upscale", "tiny-srcnn").restore(photo, scale=4, tile=400, overlap=16)
    assert sides == [256]  # 400 input pixels would be 1600 output pixels of 64 channels per tile
    whole = get_method("upscale", "tiny-srcnn").restore(photo, scale=4, tile=512, overlap=16)
    assert (tiled - whole).abs().max() < 1e-4


@needs_sr_models
@pytest.mark.parametrize("entry", SR_MODELS, ids=lambda m: m["name"])
def test_shipped_model_tiles_match_one_pass(entry):
    photo = to_tensor(skdata.astronaut()[100:300, 150:350])
    method = get_method("upscale", entry["method"])
    whole = method.restore(photo, scale=entry["scale"])
    tiled = method.restore(photo, scale=entry["scale"], tile=160, overlap=32)
    assert (tiled - whole).abs().max() < 1e-4


@needs_sr_models
@pytest.mark.parametrize("entry", SR_MODELS, ids=lambda m: m["name"])
def test_shipped_model_loads_from_the_package_and_beats_bicubic_on_set5(entry, set5):
    assert (files("restora") / "zoo" / "weights" / entry["file"]).is_file()
    scale = entry["scale"]
    hr = read_image(set5 / f"image_SRF_{scale}" / f"img_003_SRF_{scale}_HR.png").data  # butterfly
    lr = lr_of(hr, scale)
    out = get_method("upscale", entry["method"]).restore(lr, scale=scale)
    bicubic = get_method("upscale", "bicubic").restore(lr, scale=scale)
    assert psnr(out, hr, y=True, crop=scale) > psnr(bicubic, hr, y=True, crop=scale) + 0.3


@needs_sr_models
def test_the_default_upscaler_is_learned():
    assert get_method("upscale").kind == "learned"


@pytest.fixture(scope="module")
def sr_photos(tmp_path_factory) -> Path:
    """T91 when the shared data is there (the recipe takes a few images), else real photos from
    scikit-image."""
    t91 = shared_data() / "sr" / "t91"
    if t91.is_dir():
        return t91
    folder = tmp_path_factory.mktemp("photos")
    for name in ("coffee", "chelsea", "rocket", "camera"):
        photo = PILImage.fromarray(getattr(skdata, name)())
        photo.reduce(2).save(folder / f"{name}.png")  # T91-like density of edges
    return folder


def test_tiny_recipe_learns_to_beat_bicubic(sr_photos, tmp_path):
    recipe = {
        "task": "upscale", "seed": 0,
        "net": {"name": "compact-sr", "args": {"scale": 2, "channels": 1, "width": 16, "blocks": 2}},
        "data": {"train": str(sr_photos), "color": "y", "patch": 48, "batch": 8, "limit": 12},
        "degradation": {"kind": "downscale", "scale": 2},
        "loss": "l1", "optimizer": {"name": "adam", "lr": 0.003}, "schedule": {"name": "constant"},
        "train": {"steps": 80, "log_every": 20, "val_every": 80, "checkpoint_every": 80},
    }
    Trainer(recipe, tmp_path / "run", progress=False).run()
    net = load_net(tmp_path / "run" / "model.safetensors")
    untrained = build_net("compact-sr", **recipe["net"]["args"]).eval()
    hr = to_y(to_tensor(skdata.astronaut()[20:148, 150:278])).float()  # face: not in the training set
    lr = lr_of(hr, 2)
    with torch.no_grad():
        trained, start = net(lr[None])[0], untrained(lr[None])[0]
    bicubic = imresize(lr, 2)
    score = psnr(trained, hr, crop=2)
    assert score > psnr(bicubic, hr, crop=2) + 0.25
    assert score > psnr(start, hr, crop=2) + 0.1  # it learned: the untrained net is PyTorch's bicubic


def test_bench_runs_learned_upscalers_on_a_set5_layout(tiny_sr, tmp_path):
    folder = tmp_path / "set5like" / "image_SRF_2"
    folder.mkdir(parents=True)
    PILImage.fromarray(skdata.astronaut()[::4, ::4]).save(folder / "img_001_SRF_2_HR.png")
    rows = run_bench("upscale", tmp_path / "set5like", [2], ["bicubic", tiny_sr])
    assert [(r["method"], r["setting"]) for r in rows] == [("bicubic", "x2"), (tiny_sr, "x2")]
    assert all(20 < r["psnr"] < 40 and r["images"] == 1 for r in rows)
