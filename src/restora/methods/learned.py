"""Learned restorers, made from the active model zoo (restora.zoo: models.json).

Each zoo entry names its ``method``; a method groups the weights that differ only in what input
they serve (gray or colour, a scale), and picks the right one per image. Inference runs in
overlapping tiles (bounded memory, no seams) and optionally as the x8 ensemble, on torch or on
ONNX Runtime (option ``backend``, restora.zoo.onnx: the same results within 1e-4; by default ONNX
Runtime for FASTER_ON_ONNXRUNTIME when it is installed). Upscalers are
luma models: see :class:`LearnedUpscaler` and SCALE_POLICY for scales without a model.
:func:`restorer_for_net` wraps a network in training the same way, so validation during training
runs exactly the inference that ``restora bench`` measures.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations_with_replacement, count
from math import prod
from typing import Any, Callable, Iterator

import torch

from restora.color import rgb_to_ycbcr, ycbcr_to_rgb
from restora.degrade import imresize
from restora.degrade.resize import scaled_size
from restora.errors import RestoraError
from restora.methods.base import STRENGTH, Option, Restorer, blend, register_provider
from restora.methods.dejpeg import jpeg_consistent
from restora.methods.tasks import SCALE_POLICY, DeJPEGer, Deblurrer, Denoiser, Upscaler, estimate_sigma
from restora.methods.tiling import Band, assemble, run_ensemble, run_tiled, tiled_bands
from restora.zoo import load_shipped, shipped_models
from restora.zoo import onnx


@dataclass(frozen=True)
class Choice(Option):
    """A text option that takes one of ``choices``."""

    choices: tuple[str, ...] = ()

    def check(self, value: Any) -> str:
        value = super().check(value)
        if value not in self.choices:
            raise RestoraError(f"option {self.name}={value} is not one of {', '.join(self.choices)}")
        return value


BACKEND = Choice("backend", str, "auto", "inference engine: torch, onnxruntime (pip install 'restora[onnx]'; the "
                 "same output within 1e-4), int8 (ONNX Runtime int8 graph, for the models that have one: faster, "
                 "within 0.05 dB), or auto: onnxruntime for the methods faster there, when installed",
                 choices=("auto", "torch", "onnxruntime", "int8"))
RUN_OPTIONS = (
    Option("tile", int, 512, "tile side in input pixels (bounds memory)", 64, 8192),
    Option("overlap", int, 32, "tile overlap margin in input pixels", 0, 256),
    Option("ensemble", bool, False, "average the 8 flips/rotations (slower, slightly better)"),
    BACKEND,
    STRENGTH,
)
# The methods that run faster on ONNX Runtime (benchmarks/results/onnx_speed.md; for the deblurrer
# and inpainters, the network alone in benchmarks/results/gflops.md): backend=auto runs them there
# when restora[onnx] is installed, every other on torch.
FASTER_ON_ONNXRUNTIME = frozenset({"compact-sr", "compact-sr-real", "unet-denoiser", "unet-dejpeg", "unet-deblur",
                                   "photo-inpainter", "face-inpainter"})
BAND_VALUES = 1 << 24  # samples of an upscaled RGB band made at a time (float copies of a large output)


LEARNED_BASES: dict[str, type[Restorer]] = {}


def learned_base(cls: type[Restorer]) -> type[Restorer]:
    """Class decorator: ``cls`` (a LearnedMixin and a task base) serves the zoo models of its task."""
    LEARNED_BASES[cls.task] = cls
    return cls


class LearnedMixin:
    """Shared by learned methods: their zoo entries and tiled (and ensembled) inference. An entry
    holding ``net`` (a module) is served by it instead of the zoo's weights."""

    kind = "learned"
    entries: tuple[dict[str, Any], ...] = ()

    @staticmethod
    def net(entry: dict[str, Any]) -> torch.nn.Module:
        return entry["net"] if "net" in entry else load_shipped(entry["name"])

    def entry_for(self, channels: int) -> dict[str, Any]:
        """The entry serving images of ``channels`` channels: the one of that many, else the first."""
        return next((e for e in self.entries if e["channels"] == channels), self.entries[0])

    @classmethod
    def runner(cls, entry: dict[str, Any], backend: str) -> Callable[..., torch.Tensor]:
        """The network of ``entry`` as a function of CPU batches on ``backend`` (see :func:`channels_last`
        and restora.zoo.onnx.onnx_runner)."""
        if backend == "auto":
            backend = "onnxruntime" if cls.name in FASTER_ON_ONNXRUNTIME and onnx.available() else "torch"
        if backend == "torch":
            return channels_last(cls.net(entry))
        if "net" in entry:
            raise RestoraError(f"backend {backend} runs zoo models only, not a network in training")
        return onnx.onnx_runner(entry["name"], int8=backend == "int8")

    @staticmethod
    def run_bands(fn, x: torch.Tensor, scale: int, tile: int, overlap: int, ensemble: bool) -> Iterator[Band]:
        """x (C, H, W) -> fn applied in tiles (and ensemble), clipped to [0, 1], as bands of whole rows
        of the (C', H*scale, W*scale) result, top to bottom (restora.methods.tiling.tiled_bands; the
        ensemble, which turns the whole image, in one band)."""
        if ensemble:
            yield 0, run_ensemble(lambda t: run_tiled(fn, t, scale, tile, overlap), x[None])[0].clamp(0, 1)
            return
        for top, band in tiled_bands(fn, x[None], scale, tile, overlap):
            yield top, band[0].clamp_(0, 1)
            del band  # not held while the next row of tiles runs

    @classmethod
    def run(cls, fn, x: torch.Tensor, scale: int, tile: int, overlap: int, ensemble: bool) -> torch.Tensor:
        """x (C, H, W) -> fn applied in tiles (and ensemble) -> (C', H*scale, W*scale) in [0, 1]."""
        return assemble(cls.run_bands(fn, x, scale, tile, overlap, ensemble), x.shape[1] * scale)

    def run_conditioned(self, x: torch.Tensor, level: float, tile: int, overlap: int, ensemble: bool,
                        backend: str, strength: float) -> torch.Tensor:
        """x (C, H, W) through the entry for its channels with the scalar ``level`` as the network's
        second input (a noise level, a JPEG quality), colour converted to and from the model's kind,
        applied at ``strength`` (see STRENGTH)."""
        entry = self.entry_for(x.shape[0])
        net = self.runner(entry, backend)
        levels = torch.tensor([level])
        y = self.run(lambda t: net(t, levels), as_channels(x, entry["channels"]), 1, tile, overlap, ensemble)
        return blend(as_channels(y, x.shape[0]), x, strength)


def as_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """x (C, H, W) with ``channels`` channels: as it is, or its channel mean repeated (colour to gray
    and back for a model of the other kind)."""
    return x if x.shape[0] == channels else x.mean(0, keepdim=True).expand(channels, -1, -1)


def channels_last(net: torch.nn.Module):
    """``net`` as a function of a CPU batch, weights and input in channels-last memory (convolutions
    run 1.3-1.8x faster on a CPU) on the network's device; the output comes back as float32 on the CPU."""
    net = net.to(memory_format=torch.channels_last)
    device = next(net.parameters()).device

    def run(t, *args):
        t = t.to(device).contiguous(memory_format=torch.channels_last)
        return net(t, *(a.to(device) for a in args)).float().cpu()
    return run


@learned_base
class LearnedDenoiser(LearnedMixin, Denoiser):
    options = RUN_OPTIONS

    @torch.no_grad()
    def denoise(self, x, sigma, tile=512, overlap=32, ensemble=False, backend="auto", strength=1.0):
        return self.run_conditioned(x, sigma / 255, tile, overlap, ensemble, backend, strength)


@learned_base
class LearnedDeJPEG(LearnedMixin, DeJPEGer):
    """JPEG artefact removal by a network given the quality / 100 (0: unknown, blind). With a
    known quality the network's result is then made consistent with the JPEG data (option
    ``project``: restora.methods.dejpeg.jpeg_consistent, the luma projected onto the quantisation
    constraint set; skipped for an image off that quality's 8x8 lattice)."""
    options = RUN_OPTIONS + (Option("project", bool, True, "keep the result consistent with the JPEG data "
                                    "(quantisation-constraint projection of the luma) when the quality is known"),)

    @torch.no_grad()
    def dejpeg(self, x, quality, tile=512, overlap=32, ensemble=False, backend="auto", strength=1.0, project=True):
        y = self.run_conditioned(x, (quality or 0) / 100, tile, overlap, ensemble, backend, 1.0)
        return blend(jpeg_consistent(y, x, quality) if project else y, x, strength)


@learned_base
class LearnedDeblurrer(LearnedMixin, Deblurrer):
    """Blind deblurring of the mild blur of real photos by a network given the noise level, which is
    estimated from the image (restora.methods.tasks.estimate_sigma); a given kernel is not used."""
    blind = True
    options = RUN_OPTIONS

    @torch.no_grad()
    def deblur(self, x, kernel, tile=512, overlap=32, ensemble=False, backend="auto", strength=1.0):
        return self.run_conditioned(x, estimate_sigma(x) / 255, tile, overlap, ensemble, backend, strength)


def model_passes(scale: float, available: list[int]) -> tuple[int, ...]:
    """The model scales run for ``scale``, in order (see SCALE_POLICY); () for scale 1."""
    if scale <= 1 + 1e-9:
        return ()
    for n in count(1):
        reaching = [c for c in combinations_with_replacement(sorted(available), n) if prod(c) >= scale - 1e-9]
        if reaching:
            return min(reaching, key=prod)


@learned_base
class LearnedUpscaler(LearnedMixin, Upscaler):
    __doc__ = ("Super-resolution of the luma: RGB -> BT.601 YCbCr (restora.color), the Y channel "
               "through the model(s), Cb/Cr by MATLAB bicubic, back to RGB. Gray input is treated as "
               "R = G = B (neutral chroma) and returned as one channel. " + SCALE_POLICY)
    options = RUN_OPTIONS

    @torch.no_grad()
    def upscale(self, x, scale, **options):
        """x (C, H, W) in [0, 1], C = 1 or 3 -> (C, ceil(H*scale), ceil(W*scale)) in [0, 1]."""
        return assemble(self.upscale_bands(x, scale, **options), scaled_size(tuple(x.shape[1:]), scale)[0])

    @torch.no_grad()
    def upscale_bands(self, x, scale, tile=512, overlap=32, ensemble=False, backend="auto", strength=1.0):
        """:meth:`upscale`'s result as bands of whole rows (see Upscaler.upscale_bands): the upscaled
        luma band by band, each cut in bands of BAND_VALUES samples joined by the same rows of the
        bicubic chroma and made RGB."""
        ycbcr = rgb_to_ycbcr(x.expand(3, -1, -1))
        size = scaled_size(tuple(x.shape[1:]), scale)
        step = max(1, BAND_VALUES // (3 * size[1]))
        for top, luma in self.luma_bands(ycbcr[:1], scale, tile, overlap, ensemble, backend):
            for start in range(0, luma.shape[1], step):
                rows = range(top + start, top + min(start + step, luma.shape[1]))
                yield rows.start, rgb_band(luma[:, start:start + step], ycbcr, x.shape[0], size, rows, strength)
            del luma  # not held while the next band of luma is made

    def luma_bands(self, y: torch.Tensor, scale: float, tile: int, overlap: int, ensemble: bool,
                   backend: str = "auto") -> Iterator[Band]:
        """Y (1, H, W) in [16, 235]/255 -> (1, ceil(H*scale), ceil(W*scale)) by the model passes, as bands
        of whole rows: the last pass band by band when it makes the size, the others whole."""
        by_scale = {int(e["scale"]): e for e in self.entries}
        size = scaled_size(tuple(y.shape[1:]), scale)
        passes = model_passes(scale, list(by_scale))
        for i, s in enumerate(passes):
            entry = by_scale[s]
            # a net that upsamples first holds s^2 times the activations: cap its tiles at 1024 output pixels
            side = (min(tile, max(1024 // s, 4 * overlap + 1)) if getattr(self.net(entry), "upsamples_first", False)
                    else tile)
            bands = self.run_bands(self.runner(entry, backend), y, s, side, overlap, ensemble)
            if i == len(passes) - 1 and (y.shape[1] * s, y.shape[2] * s) == size:
                yield from bands
                return
            y = assemble(bands, y.shape[1] * s)
        yield 0, y if tuple(y.shape[1:]) == size else imresize(y, size=size)


def rgb_band(luma: torch.Tensor, ycbcr: torch.Tensor, channels: int, size: tuple[int, int], rows: range,
             strength: float) -> torch.Tensor:
    """The ``rows`` of an upscaled image (``channels``, len(rows), W') from the same rows of its upscaled
    luma (1, len(rows), W'), at ``strength``, and the input's YCbCr (3, H, W) (chroma by bicubic;
    gray input has constant neutral chroma and gives one channel)."""
    if strength < 1:  # towards the bicubic luma
        luma = blend(luma, imresize(ycbcr[:1], size=size, rows=rows), strength)
    out = luma.new_empty(3, len(rows), size[1])  # YCbCr, made RGB in place
    out[:1] = luma
    if channels == 3:
        imresize(ycbcr[1:], size=size, rows=rows, out=out[1:])
    else:
        out[1:] = ycbcr[1:, :1, :1]
    rgb = ycbcr_to_rgb(out, in_place=True).clamp_(0, 1)
    return rgb if channels == 3 else rgb[:1]


@register_provider
def zoo_methods() -> list[type[Restorer]]:
    """One restorer class per (task, method) of the active zoo's models, for the tasks with a
    learned base."""
    return _zoo_methods(json.dumps(shipped_models(), sort_keys=True))


@lru_cache(maxsize=8)
def _zoo_methods(index: str) -> list[type[Restorer]]:
    """The classes for a zoo index (models.json as text: a new or changed index makes new classes)."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in json.loads(index):
        groups.setdefault((entry["task"], entry["method"]), []).append(entry)
    return [type(method, (LEARNED_BASES[task],), {
        "name": method, "entries": tuple(entries), "summary": entries[0].get("summary", ""),
        "priority": max(int(e.get("priority", 10)) for e in entries)})
        for (task, method), entries in groups.items() if task in LEARNED_BASES]


def restorer_for_net(task: str, net: torch.nn.Module, channels: int, scale: int | None = None) -> Restorer:
    """The task's learned restorer served by ``net`` (e.g. a network in training), with the same
    tiling, colour handling and clamping as a shipped model of that task."""
    entry = {"name": "in-training", "net": net, "channels": channels, "scale": scale}
    return type("in-training", (LEARNED_BASES[task],), {"name": "in-training", "entries": (entry,)})()
