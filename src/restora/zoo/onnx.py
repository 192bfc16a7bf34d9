"""The zoo's restoration models as ONNX graphs, run by ONNX Runtime (the extra ``restora[onnx]``).

A graph takes ``x`` (N, C, H, W) float32 in [0, 1] and, for a denoiser or a blind deblurrer,
``sigma`` (N,) on the 0-1 scale (a JPEG artefact remover's level, the quality / 100, under the same
name), for an inpainter ``mask`` (N, 1, H, W), 1 in the hole, and gives ``y`` (N, C, H*scale,
W*scale) float32, unclamped: batch, height and width are dynamic. It is made by torch's TorchScript exporter (``dynamo=False``) from a trace of the net's
contract example (``net.example()``, sides that are not multiples of 8), so the reflect padding of a
net that needs sides in multiples of 8 is in the graph, computed from the input's shape. (The
dynamo exporter of torch 2.13 refuses that padding with dynamic sides.) Every export is checked
against torch at a second size; a net whose forward builds tensors from the input size in Python
(srcnn: the MATLAB bicubic weights of restora.degrade.imresize) is frozen at the traced size and
refused with a RestoraError.

int8: a model whose zoo entry lists ``int8_float`` (the name prefixes of the convolutions kept in
float) also runs as an int8 graph (backend ``int8``): ONNX Runtime's static QDQ quantisation of its
float graph, int8 weights per output channel and uint8 activations calibrated by min/max on
CALIBRATION_CROPS crops of scikit-image's bundled sample photos, degraded as the task does. Only the
models for which benchmarks/onnx_speed.py measured at most 0.05 dB lost and at least 1.3x gained
list it; the graph is made on first use and cached beside the float one.

Graphs are cached in ``$RESTORA_CACHE/onnx`` (default ``~/.cache/restora/onnx``), one file per
weight file content, torch version and opset, ``NAME-<sha256 prefix>.onnx``, written on first use
(after changing a network's code but not its weights, delete the folder). Sessions use
``torch.get_num_threads()`` threads, so ``OMP_NUM_THREADS`` (or ``torch.set_num_threads``) sets
the threads of both backends.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from functools import lru_cache
from importlib import import_module
from pathlib import Path
from typing import Any, Callable

import torch

from restora.errors import RestoraError
from restora.io import atomic_path
from restora.zoo import load_shipped, shipped_models, zoo_root

EXPORTED_TASKS = ("denoise", "upscale", "dejpeg", "deblur", "inpaint")
OPSET = 17
TOLERANCE = 1e-4  # max abs difference from torch on [0, 1] values that an export must keep
# scikit-image sample photos bundled with the package (no download), the int8 calibration images;
# CALIBRATION_CROPS crops of CALIBRATION_SIDE network-input pixels, a few from each
CALIBRATION_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "brick", "grass", "gravel")
CALIBRATION_CROPS, CALIBRATION_SIDE = 24, 48


def require(module: str) -> Any:
    """Import ``module`` (onnx or onnxruntime); RestoraError telling how to install it when missing."""
    try:
        return import_module(module)
    except ImportError:
        raise RestoraError(f"{module} is not installed (pip install 'restora[onnx]')") from None


def available() -> bool:
    """Whether onnx and onnxruntime are installed."""
    try:
        require("onnx"), require("onnxruntime")
    except RestoraError:
        return False
    return True


def restoration_entry(name: str) -> dict[str, Any]:
    """The active zoo's entry of the restoration model ``name`` (a task of EXPORTED_TASKS)."""
    for entry in shipped_models():
        if entry["name"] == name and entry["task"] in EXPORTED_TASKS:
            return entry
    raise RestoraError(f"no {', '.join(EXPORTED_TASKS)} model '{name}' to export (see `restora models`)")


def weight_file(name: str) -> Path:
    return zoo_root() / "weights" / restoration_entry(name)["file"]


def cache_dir() -> Path:
    """Where exported graphs are kept: ``$RESTORA_CACHE/onnx``, default ``~/.cache/restora/onnx``."""
    return Path(os.environ.get("RESTORA_CACHE") or Path.home() / ".cache" / "restora") / "onnx"


def export_onnx(name: str, path: str | Path) -> Path:
    """Export the zoo model ``name`` to ``path`` (atomically) and check it against torch at a second
    size; RestoraError if the graph does not follow the input size or differs by over TOLERANCE."""
    require("onnx")
    restoration_entry(name)
    net = load_shipped(name)
    example, _ = net.example()
    names = input_names(example)
    axes = {"x": {0: "batch", 2: "height", 3: "width"}, "sigma": {0: "batch"},
            "mask": {0: "batch", 2: "height", 3: "width"}, "y": {0: "batch", 2: "out_height", 3: "out_width"}}
    path = Path(path)
    with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter's notice
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # sizes read in Python: see the module doc
        warnings.filterwarnings("ignore", "Constant folding")  # strided slices (pixel shuffle) stay as they are
        torch.onnx.export(net, example, str(tmp), input_names=names, output_names=["y"], opset_version=OPSET,
                          dynamic_axes={k: v for k, v in axes.items() if k in names + ["y"]}, dynamo=False)
        _check(name, net, new_session(str(tmp), 1), example)
    return path


def input_names(example: tuple[torch.Tensor, ...]) -> list[str]:
    """The graph's input names for a net's contract example: x, then sigma (N,) or mask (N, 1, H, W)."""
    return ["x"] + [("mask" if t.dim() == 4 else "sigma") for t in example[1:]]


def _check(name: str, net: torch.nn.Module, session, example: tuple[torch.Tensor, ...]) -> None:
    """Compare the session with ``net`` on a (1, C, 33, 41) input, a size unlike the traced one (a
    mask: a 13x17 hole in it)."""
    x = torch.rand(1, example[0].shape[1], 33, 41, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, 1, 33, 41)
    mask[..., 10:23, 12:29] = 1
    inputs = (x, *(mask if t.dim() == 4 else t[:1] for t in example[1:]))
    want = net(*inputs)
    got = session.run(None, dict(zip(input_names(example), (t.numpy() for t in inputs))))[0]
    if got.shape != tuple(want.shape):
        raise RestoraError(f"{name} does not export with dynamic sizes: its graph is frozen at the traced size "
                           f"(gives {got.shape[-2]}x{got.shape[-1]} for 33x41, torch {want.shape[-2]}x{want.shape[-1]})"
                           " because its forward builds tensors from the input size in Python")
    error = (torch.from_numpy(got) - want).abs().max().item()
    if error > TOLERANCE:
        raise RestoraError(f"{name}: the ONNX graph differs from torch by {error:.2g} (over {TOLERANCE:g})")


def onnx_file(name: str) -> Path:
    """The cached ONNX graph of the zoo model ``name``, exported on first use."""
    weights = weight_file(name)
    path = cache_dir() / f"{name}-{_cache_key(weights, weights.stat().st_mtime_ns)}.onnx"
    return path if path.is_file() else export_onnx(name, path)


@lru_cache(maxsize=64)
def _cache_key(weights: Path, mtime_ns: int) -> str:
    """16 hex digits of the SHA-256 of the weight file, the torch version and the opset."""
    return hashlib.sha256(weights.read_bytes() + f"torch {torch.__version__} opset {OPSET}".encode()).hexdigest()[:16]


def int8_models() -> list[str]:
    """The zoo models offered as int8 graphs (their entries list ``int8_float``)."""
    return [e["name"] for e in shipped_models() if "int8_float" in e and e["task"] in EXPORTED_TASKS]


def int8_file(name: str) -> Path:
    """The cached int8 graph of the zoo model ``name`` (see the module doc), made on first use."""
    entry = restoration_entry(name)
    if "int8_float" not in entry:
        raise RestoraError(f"{name} has no int8 graph (int8 loses over 0.05 dB or gains under 1.3x on it; "
                           f"there is one for: {', '.join(int8_models()) or 'none'})")
    graph = onnx_file(name)
    path = graph.with_name(f"{graph.stem}-int8.onnx")
    return path if path.is_file() else quantize(graph, path, calibration_feeds(entry), tuple(entry["int8_float"]))


def calibration_feeds(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """Graph inputs for calibrating ``entry``'s model: CALIBRATION_CROPS crops of CALIBRATION_PHOTOS
    (gray: channel mean), degraded as its task does: an upscaler's input is the luma (BT.601 Y, as
    the upscalers take it) of the MATLAB-bicubic downscaled photo; a denoiser's the crop with Gaussian noise of sigma 15, 25 and 50
    in turn (seeded). Other tasks are not quantised (RestoraError)."""
    import numpy as np
    from skimage import data

    from restora.color import rgb_to_ycbcr
    from restora.degrade import gaussian_noise, imresize

    if entry["task"] not in ("upscale", "denoise"):
        raise RestoraError(f"{entry['name']}: int8 calibration covers upscale and denoise models only")
    per_photo, side = -(-CALIBRATION_CROPS // len(CALIBRATION_PHOTOS)), CALIBRATION_SIDE
    feeds = []
    for name in CALIBRATION_PHOTOS:
        photo = torch.from_numpy(np.atleast_3d(getattr(data, name)()).astype(np.float32) / 255).permute(2, 0, 1)
        if entry["task"] == "upscale":
            photo = rgb_to_ycbcr(imresize(photo.expand(3, -1, -1), 1 / entry["scale"]).clamp(0, 1))[:1]
        elif entry["channels"] == 1 or photo.shape[0] == 1:
            photo = photo.mean(0, keepdim=True).expand(entry["channels"], -1, -1)
        h, w = photo.shape[1:]
        for k in range(per_photo):  # crops spread along the diagonal
            top, left = (h - side) * k // max(1, per_photo - 1), (w - side) * k // max(1, per_photo - 1)
            crop = photo[:, top:top + side, left:left + side]
            if entry["task"] == "denoise":
                sigma = (15, 25, 50)[len(feeds) % 3]
                feeds.append({"x": gaussian_noise(crop, sigma, seed=len(feeds))[None].numpy(),
                              "sigma": np.array([sigma / 255], np.float32)})
            else:
                feeds.append({"x": crop[None].contiguous().numpy()})
    return feeds[:CALIBRATION_CROPS]


def quantize(graph: Path, path: Path, feeds: list[dict[str, Any]], float_prefixes: tuple[str, ...]) -> Path:
    """Write (atomically) the float ONNX ``graph`` quantised statically to ``path``: ONNX Runtime QDQ,
    int8 weights per output channel, uint8 activations calibrated (min/max) on ``feeds`` (graph
    inputs), every Conv but those whose node name starts with one of ``float_prefixes``."""
    import tempfile

    require("onnx")
    require("onnxruntime")
    from onnx import load
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader:
        def __init__(self):
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    with tempfile.TemporaryDirectory() as folder, atomic_path(path) as tmp:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(graph), str(prepared), skip_symbolic_shape=True)
        kept = [n.name for n in load(str(prepared)).graph.node if n.op_type == "Conv" and n.name.startswith(float_prefixes)]
        quantize_static(str(prepared), str(tmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"],
                        nodes_to_exclude=kept)
    return path


def onnx_runner(name: str, int8: bool = False) -> Callable[..., torch.Tensor]:
    """The zoo model ``name`` on ONNX Runtime (``int8``: its int8 graph) as a function of CPU batches,
    like the torch module: (x (N, C, H, W) [, sigma (N,) or mask (N, 1, H, W)]) -> y float32
    (N, C, H*scale, W*scale)."""
    path = int8_file(name) if int8 else onnx_file(name)
    session = _session(str(path), path.stat().st_mtime_ns, torch.get_num_threads())
    names = [i.name for i in session.get_inputs()]

    def run(*tensors: torch.Tensor) -> torch.Tensor:
        feeds = {k: t.detach().float().contiguous().numpy() for k, t in zip(names, tensors)}
        return torch.from_numpy(session.run(None, feeds)[0])
    return run


@lru_cache(maxsize=16)
def _session(path: str, mtime_ns: int, threads: int):
    """The session of the graph at ``path`` as of ``mtime_ns`` (a replaced file gets a new one)."""
    return new_session(path, threads)


def new_session(path: str, threads: int):
    """An ONNX Runtime CPU session of the graph at ``path`` with ``threads`` intra-op threads."""
    ort = require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
