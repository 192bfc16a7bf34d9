"""ONNX export and the onnxruntime backend (restora.zoo.onnx): every exportable shipped model gives
torch's output within 1e-4 on real photos in tiles of odd sizes; the exported graph takes any batch
and size; srcnn is refused; a missing extra is a one-line error."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from test_cli import assert_one_line_error

from restora.degrade import blur, gaussian_noise, jpeg, kernel_from_spec
from restora.errors import RestoraError
from restora.methods import get_method
from restora.methods.learned import restorer_for_net
from restora.zoo import load_shipped, shipped_models, zoo_root
from restora.zoo.onnx import EXPORTED_TASKS, onnx_file, require

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

AGREEMENT = 1e-4  # max abs difference on [0, 1] outputs
RESTORATION_MODELS = [e for e in shipped_models() if e["task"] in EXPORTED_TASKS]


@pytest.fixture(scope="module", autouse=True)
def onnx_cache(tmp_path_factory):
    """A fresh RESTORA_CACHE for this module: every model is exported once, here."""
    with pytest.MonkeyPatch.context() as patch:
        path = tmp_path_factory.mktemp("cache")
        patch.setenv("RESTORA_CACHE", str(path))
        yield path


def photo(entry, camera, astronaut) -> tuple[torch.Tensor, dict]:
    """A real crop of 93x75 pixels for the model, and its task inputs and run options (tiles of
    68x68; an inpainter's working size of 68, so its 75x75 hole surroundings are shrunk)."""
    clean = camera if entry["channels"] == 1 else astronaut
    tiles = {"tile": 68, "overlap": 8}
    if entry["task"] == "denoise":
        return gaussian_noise(clean[:, :93, :75], 25, seed=0), {"sigma": 25, **tiles}
    if entry["task"] == "dejpeg":
        return jpeg(clean[:, :93, :75], 20), {"quality": 20, **tiles}
    if entry["task"] == "deblur":
        return blur(clean[:, :93, :75], kernel_from_spec("gaussian:1.5"))[0], tiles
    if entry["task"] == "inpaint":
        mask = torch.zeros(1, 93, 75)
        mask[:, 30:61, 20:50] = 1
        return clean[:, :93, :75], {"mask": mask, "work": 68}
    return astronaut[:, :93, :75], {"scale": entry["scale"], **tiles}


@pytest.mark.parametrize("entry", RESTORATION_MODELS, ids=lambda e: e["name"])
def test_onnxruntime_gives_torchs_output_in_tiles_of_odd_sizes(entry, camera, astronaut):
    """93x75 in four 68x68 tiles: image and tile sides are not multiples of 8 (an inpainter: its
    hole's surroundings shrunk to 68 pixels, also not a multiple of 8)."""
    restorer = get_method(entry["task"], entry["method"])
    x, inputs = photo(entry, camera, astronaut)
    if entry["arch"] == "srcnn":  # MATLAB bicubic weights built from the input size in Python
        with pytest.raises(RestoraError, match="does not export with dynamic sizes"):
            restorer.restore(x, **inputs, backend="onnxruntime")
        return
    want = restorer.restore(x, **inputs, backend="torch")
    got = restorer.restore(x, **inputs, backend="onnxruntime")
    assert got.shape == want.shape
    assert (got - want).abs().max() <= AGREEMENT


def test_export_command_writes_the_graph(cli_inline, tmp_path):
    result = cli_inline("export", "espcn-x2")
    assert result.returncode == 0, result.stderr
    session = ort.InferenceSession(str(tmp_path / "espcn-x2.onnx"), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"] and [o.name for o in session.get_outputs()] == ["y"]


@pytest.mark.parametrize("name", ["unet-denoiser-gray", "espcn-x3"])
def test_exported_graph_takes_any_batch_and_size(name):
    net = load_shipped(name)
    session = ort.InferenceSession(str(onnx_file(name)), providers=["CPUExecutionProvider"])
    for batch, h, w in ((2, 45, 61), (1, 64, 32)):
        x = torch.rand(batch, net.channels, h, w, generator=torch.Generator().manual_seed(h))
        inputs = (x, torch.linspace(0.05, 0.2, batch)) if name.startswith("unet") else (x,)
        (got,) = session.run(None, {k: t.numpy() for k, t in zip(("x", "sigma"), inputs)})
        with torch.no_grad():
            want = net(*inputs).numpy()
        assert got.shape == want.shape == (batch, net.channels, h * getattr(net, "scale", 1), w * getattr(net, "scale", 1))
        assert np.abs(got - want).max() <= AGREEMENT


def test_export_refusals_are_one_line_errors(cli_inline, tmp_path):
    assert_one_line_error(cli_inline("export", "srcnn-915-x2"), "srcnn-915-x2", "dynamic sizes")
    assert_one_line_error(cli_inline("export", "dae-mnist"), "dae-mnist")
    assert_one_line_error(cli_inline("export", "espcn-x2", "--format", "tflite"), "tflite")
    assert list(tmp_path.iterdir()) == []


def test_a_missing_extra_is_a_one_line_error_telling_how_to_install(cli_inline, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert_one_line_error(cli_inline("export", "espcn-x2"), "pip install 'restora[onnx]'")
    with pytest.raises(RestoraError, match=r"onnxruntime is not installed \(pip install 'restora\[onnx\]'\)"):
        require("onnxruntime")


def test_graphs_are_cached_by_weights_outside_the_package(onnx_cache):
    first = onnx_file("espcn-x2")
    stamp = first.stat().st_mtime_ns
    assert first.parent == onnx_cache / "onnx" and first.name.startswith("espcn-x2-")
    assert onnx_file("espcn-x2").stat().st_mtime_ns == stamp  # reused, not exported again
    assert not list(zoo_root().rglob("*.onnx"))


def test_auto_backend_takes_onnxruntime_for_the_faster_methods_when_installed(astronaut, monkeypatch):
    x = astronaut[:, :40, :40]
    faster, other = get_method("upscale", "compact-sr"), get_method("upscale", "espcn")
    assert torch.equal(faster.restore(x, backend="auto"), faster.restore(x, backend="onnxruntime"))
    assert torch.equal(other.restore(x, backend="auto"), other.restore(x, backend="torch"))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert torch.equal(faster.restore(x, backend="auto"), faster.restore(x, backend="torch"))


def test_backend_is_a_listed_checked_option_of_zoo_models_only(camera):
    restorer = get_method("denoise", "unet-denoiser")
    backend = next(o for o in restorer.describe()["options"] if o["name"] == "backend")
    assert backend["default"] == "auto"
    with pytest.raises(RestoraError, match="backend=tensorrt is not one of auto, torch, onnxruntime"):
        restorer.restore(camera, sigma=25, backend="tensorrt")
    in_training = restorer_for_net("denoise", load_shipped("unet-denoiser-gray"), channels=1)
    with pytest.raises(RestoraError, match="zoo models only"):
        in_training.restore(camera, sigma=25, backend="onnxruntime")


def test_int8_backend_runs_the_quantised_graph_close_to_float(astronaut, onnx_cache):
    """compact-sr x2 as int8 (first and last convs in float): within 0.1 dB-level error of the float
    graph on a real photo, not equal to it, and the quantised graph cached beside the float one."""
    restorer = get_method("upscale", "compact-sr")
    x = astronaut[:, :64, :80]
    want = restorer.restore(x, scale=2, backend="onnxruntime")
    got = restorer.restore(x, scale=2, backend="int8")
    assert got.shape == want.shape and not torch.equal(got, want)
    mse = (got - want).pow(2).mean().item()
    assert 10 * np.log10(1 / mse) > 40  # int8 error far below the restoration's own (about 30 dB)
    assert [p.name for p in (onnx_cache / "onnx").glob("compact-sr-x2-*-int8.onnx")]


def test_int8_is_refused_in_one_line_for_a_model_without_an_int8_graph(cli_inline, tmp_path, astronaut):
    with pytest.raises(RestoraError, match="espcn-x2 has no int8 graph .* there is one for: compact-sr-x2"):
        get_method("upscale", "espcn").restore(astronaut[:, :32, :32], scale=2, backend="int8")
