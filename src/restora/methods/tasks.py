"""The task table: what each task takes, how it is called, and how it is benchmarked.

Every task is one :class:`TaskSpec` in :data:`TASKS`: its inputs besides the image (each declared
once, with its type, default, range, whether it is required and how a text value becomes what the
restorer takes), the base class its methods derive from (which fixes the call), and the setting its
benchmark varies with the default values and their label. The CLI commands, the web page's form,
the Python API (``restora.denoise`` ...) and ``restora bench`` are all made from this table; the
protocol that degrades and scores each task is in :mod:`restora.protocols`.

denoise(x, sigma=None)   sigma on the 0-255 scale; None -> estimated from the image
upscale(x, scale)        integer or fractional scale factor
inpaint(x, mask)         mask (1, H, W), 1 = missing
deblur(x, kernel)        blur kernel (kh, kw), sums to 1
dejpeg(x, quality=None)  the JPEG quality 1-100 the image was saved with; None -> blind
restore(x, quality=None, scale=1, explain=False)  a photo as it comes (see PhotoRepairer)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Callable, ClassVar, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from restora.degrade import MASKS, imresize, kernel_from_spec, make_mask
from restora.degrade.resize import scaled_size
from restora.errors import RestoraError
from restora.io import Image
from restora.io.image import quantise_into
from restora.io.jpeg import check_quality
from restora.methods.base import Option, Restorer
from restora.methods.tiling import Band


MIN_ESTIMATE_SIDE = 8  # pixels per side the noise estimate needs (a smaller wavelet band is noise itself)
MIN_SIDE = 32  # denoisers and inpainters get smaller images edge-padded to this (BM3D blocks, network levels)


def edge_padded(x: torch.Tensor, side: int = MIN_SIDE, mode: str = "replicate") -> torch.Tensor:
    """x (C, H, W) grown at the bottom and right to at least side x side, by repeating its last row
    and column (``mode="constant"``: zeros); x itself when it is that large already."""
    h, w = x.shape[-2:]
    if min(h, w) >= side:
        return x
    return F.pad(x[None], (0, max(0, side - w), 0, max(0, side - h)), mode=mode)[0]


def estimate_sigma(x: torch.Tensor) -> float:
    """Noise level on the 0-255 scale from the finest wavelet band (Donoho's MAD estimator,
    scikit-image), averaged over channels. RestoraError for images under 8x8 pixels."""
    from skimage.restoration import estimate_sigma as sk_estimate

    if min(x.shape[-2:]) < MIN_ESTIMATE_SIDE:
        raise RestoraError(f"a {x.shape[-1]}x{x.shape[-2]} image is too small to estimate its noise level "
                           f"(at least {MIN_ESTIMATE_SIDE}x{MIN_ESTIMATE_SIDE} pixels); give the noise level")
    arr = x.permute(1, 2, 0).numpy().astype(np.float64)
    return float(np.mean(sk_estimate(arr, channel_axis=-1, average_sigmas=False))) * 255


@dataclass(frozen=True)
class TaskInput(Option):
    """An input a task takes besides the image.

    ``required``: the task cannot run without it. ``read(image) -> value or None``: how the value is
    read from the decoded file (an :class:`Image`, e.g. a JPEG's quality) when none is given;
    ``estimate(x) -> value``: how it is found from the image (C, H, W) when neither gives it. ``resolve(value, x, seed) -> value``: how a checked
    value (text: a spec, a kind or a file) becomes what the restorer takes, per image; ``seeded``:
    whether that uses the seed. ``safe``: the values a server may accept (no file paths);
    ``split(text)``: a comma-separated list of values (benchmark settings).
    """

    required: bool = False
    read: Callable[[Image], Any] | None = None
    estimate: Callable[[torch.Tensor], Any] | None = None
    resolve: Callable[[Any, torch.Tensor, int], Any] | None = None
    seeded: bool = False
    safe: re.Pattern | None = None
    split: Callable[[str], list[str]] | None = None

    def value_for(self, value: Any, x: torch.Tensor, seed: int = 0) -> Any:
        """What the restorer takes for ``value`` on image x (C, H, W); a tensor passes through."""
        if isinstance(value, torch.Tensor):
            return value
        value = self.check(value)
        return self.resolve(value, x, seed) if self.resolve else value

    def values(self, text: str) -> list[Any]:
        """A comma-separated list of values, each checked."""
        parts = self.split(text) if self.split else [t.strip() for t in text.split(",") if t.strip()]
        if not parts:
            raise RestoraError(f"empty {self.name} list")
        return [self.check(part) for part in parts]


def split_kernel_specs(text: str) -> list[str]:
    """``"gaussian:2,motion:15,45,disk:3"`` -> ``["gaussian:2", "motion:15,45", "disk:3"]``: a bare
    number after a comma continues the previous spec."""
    specs: list[str] = []
    for token in (t.strip() for t in text.split(",") if t.strip()):
        if specs and re.fullmatch(r"[-+0-9.eE]+", token):
            specs[-1] += f",{token}"
        else:
            specs.append(token)
    return specs


class Denoiser(Restorer):
    task = "denoise"

    def restore(self, x, sigma: float | None = None, **options):
        if sigma is None:
            sigma = estimate_sigma(x)
        if not 0 <= sigma <= 255:
            raise RestoraError(f"sigma {sigma} is outside [0, 255]")
        h, w = x.shape[-2:]
        return self.denoise(edge_padded(x), float(sigma), **self.check_options(options))[:, :h, :w]

    def denoise(self, x: torch.Tensor, sigma: float, **options) -> torch.Tensor:
        raise NotImplementedError


class Upscaler(Restorer):
    task = "upscale"

    def restore(self, x, scale: float = 2, **options):
        return self.upscale(x, checked_scale(scale), **self.check_options(options))

    def upscale(self, x: torch.Tensor, scale: float, **options) -> torch.Tensor:
        raise NotImplementedError

    def upscale_bands(self, x: torch.Tensor, scale: float, **options) -> Iterator[Band]:
        """:meth:`upscale`'s result as bands of whole rows, top to bottom: (first row, (C, rows, W'));
        one band unless a method makes it band by band (restora.methods.tiling)."""
        yield 0, self.upscale(x, scale, **options)

    def __call__(self, image: Image, quantise: bool = False, scale: float = 2, **options) -> Image:
        """As Restorer.__call__; with ``quantise``, for a method that makes its result band by band
        (overrides :meth:`upscale_bands`), each band (and the same rows of the bicubic alpha) is
        quantised straight into the integers written, at the image's bit depth, so the float result
        never exists whole: data and alpha come as uint8 or uint16 tensors."""
        if not quantise or type(self).upscale_bands is Upscaler.upscale_bands:
            return super().__call__(image, scale=scale, **options)
        scale = checked_scale(scale)
        size = scaled_size(image.size, scale)
        dtype = np.uint8 if image.bits == 8 else np.uint16
        pixels = np.empty((*size, image.channels), dtype)
        alpha = None if image.alpha is None else np.empty((*size, 1), dtype)
        for top, band in self.upscale_bands(image.data, scale, **self.check_options(options)):
            rows = range(top, top + band.shape[1])
            quantise_into(pixels[top:rows.stop], band)
            if alpha is not None:
                quantise_into(alpha[top:rows.stop], imresize(image.alpha, size=size, rows=rows))
        return replace(image, data=torch.from_numpy(pixels).permute(2, 0, 1),
                       alpha=None if alpha is None else torch.from_numpy(alpha).permute(2, 0, 1))


def checked_scale(scale: float) -> float:
    """An upscale factor as a float; RestoraError outside [1, 16]."""
    if not 1 <= scale <= 16:
        raise RestoraError(f"scale {scale} must be in [1, 16]")
    return float(scale)


class Inpainter(Restorer):
    task = "inpaint"
    keeps_known = True  # known pixels are copied back exactly unless a method blends across the edge

    def restore(self, x, mask: torch.Tensor | None = None, **options):
        if mask is None:
            raise RestoraError("inpainting needs a mask (white = missing)")
        if mask.shape[-2:] != x.shape[-2:]:
            raise RestoraError(f"mask is {mask.shape[-1]}x{mask.shape[-2]}, image is {x.shape[-1]}x{x.shape[-2]}")
        mask = (mask.reshape(1, *x.shape[-2:]) > 0.5).float()
        h, w = x.shape[-2:]
        out = self.inpaint(edge_padded(x), edge_padded(mask, mode="constant"), **self.check_options(options))[:, :h, :w]
        return x * (1 - mask) + out * mask if self.keeps_known else out

    def inpaint(self, x: torch.Tensor, mask: torch.Tensor, **options) -> torch.Tensor:
        raise NotImplementedError


class Deblurrer(Restorer):
    """Deblurring. A non-blind method needs the blur kernel; a ``blind`` one works without it (and
    leaves a given kernel unused, so one protocol measures both kinds)."""
    task = "deblur"
    blind: ClassVar[bool] = False

    @classmethod
    def serves(cls, given):
        kernel = given.get("kernel")
        return cls.blind or not (kernel is None or isinstance(kernel, str) and not kernel)

    def restore(self, x, kernel: torch.Tensor | None = None, **options):
        if kernel is None:
            if not self.blind:
                raise RestoraError(f"{self.name} needs the blur kernel (e.g. --kernel gaussian:2); leave out "
                                   "--method for the blind deblurrer")
            return self.deblur(x, None, **self.check_options(options))
        if kernel.dim() != 2 or kernel.shape[0] > x.shape[-2] or kernel.shape[1] > x.shape[-1]:
            raise RestoraError(f"kernel of shape {tuple(kernel.shape)} does not fit the "
                               f"{x.shape[-1]}x{x.shape[-2]} image")
        total = float(kernel.sum())
        if kernel.min() < -1e-6 or abs(total - 1) > 1e-3:
            raise RestoraError(f"a blur kernel is non-negative and sums to 1 (this one sums to {total:.4g}"
                               f"{', with negative values' if kernel.min() < -1e-6 else ''})")
        return self.deblur(x, kernel.clamp(min=0) / kernel.clamp(min=0).sum(), **self.check_options(options))

    def deblur(self, x: torch.Tensor, kernel: torch.Tensor | None, **options) -> torch.Tensor:
        raise NotImplementedError


class DeJPEGer(Restorer):
    task = "dejpeg"

    def restore(self, x, quality: int | None = None, **options):
        quality = None if quality is None else check_quality(quality)
        h, w = x.shape[-2:]
        return self.dejpeg(edge_padded(x), quality, **self.check_options(options))[:, :h, :w]

    def dejpeg(self, x: torch.Tensor, quality: int | None, **options) -> torch.Tensor:
        raise NotImplementedError


class PhotoRepairer(Restorer):
    """A photo as it comes: finds what damaged it (JPEG quality, noise) and undoes it, then enlarges
    by ``scale``; ``explain`` reports what it found and did (restora.reporting notes)."""
    task = "restore"

    def restore(self, x, quality: int | None = None, scale: float = 1.0, explain: bool = False, **options):
        quality = None if quality is None else check_quality(quality)
        if not 1 <= scale <= 16:
            raise RestoraError(f"scale {scale} must be in [1, 16]")
        return self.repair(x, quality, float(scale), bool(explain), **self.check_options(options))

    def repair(self, x: torch.Tensor, quality: int | None, scale: float, explain: bool, **options) -> torch.Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class TaskSpec:
    """One task: ``summary`` (a line) and ``description`` (help text), the ``base`` class of its
    methods, its ``inputs``, and for ``restora bench`` the input a benchmark varies (``setting``),
    its default values (``settings``) and how a value is named in tables (``label``, a format).
    ``lossless``: its results undo lossy compression, so a JPEG input is written as PNG in a folder."""

    name: str
    summary: str
    description: str
    base: type[Restorer]
    inputs: tuple[TaskInput, ...]
    setting: str
    settings: tuple[Any, ...]
    label: str = "{}"
    lossless: bool = False

    def input(self, name: str) -> TaskInput:
        return next(i for i in self.inputs if i.name == name)

    def setting_label(self, value: Any) -> str:
        """How a setting is named in rows and tables: sigma=25, x3, center, gaussian:2."""
        return self.label.format(value)

    def resolve(self, given: dict[str, Any], x: torch.Tensor, seed: int = 0,
                source: Image | None = None) -> tuple[dict[str, Any], list[str]]:
        """The task inputs for image x (C, H, W) from ``given`` (text, JSON or Python values): each
        checked and resolved; where absent, read from the ``source`` file's metadata or estimated
        where the input says how (with a note saying so), the default otherwise. Returns (inputs,
        notes); RestoraError when a required input is absent."""
        inputs, notes = {}, []
        for spec in self.inputs:
            value = given.get(spec.name)
            if (value is None or value == "") and spec.read and source is not None:
                value = spec.read(source)
                notes.append(f"{spec.name} {value} read from the file" if value is not None
                             else f"no {spec.name} in the file")
            if value is None or value == "":
                if spec.estimate:
                    value = spec.estimate(x)
                    notes.append(f"estimated {spec.name} {value:.1f}")
                elif spec.required:
                    raise RestoraError(f"{self.name} needs --{spec.name} ({spec.help})")
                else:
                    value = spec.default
            if value is not None:
                inputs[spec.name] = spec.value_for(value, x, seed)
        return inputs, notes


SCALE_POLICY = ("A learned upscaler runs its x2, x3 or x4 model directly. Any other scale is served by the "
                "fewest model passes whose product reaches it (the smallest such product, smaller factors "
                "first), then a MATLAB-bicubic resize to the exact size: 1.5 = x2 then resize, 2.5 = x3 then "
                "resize, 6 = x2 then x3, 8 = x2 then x4, 5 = x2, x3 then resize.")
KERNEL_SPEC = re.compile(r"^(gaussian|motion|disk|aniso|generalized|plateau|sinc|random):[0-9.eE+\-, ]+$")
MASK_KIND = re.compile(rf"^({'|'.join(MASKS)}|freeform:[0-9.]+-[0-9.]+)$")

TASKS: dict[str, TaskSpec] = {spec.name: spec for spec in (
    TaskSpec("restore", "Repair a photo as it comes (JPEG artefacts, noise), optionally enlarge it.",
             "Repair a photo as it comes: JPEG artefacts (the quality read from the file, or detected from its "
             "8x8 block edges), then noise if its estimated level is above the floor, then --scale with the "
             "real-world upscaler. --explain says what it found and did. A repaired .jpg is written as PNG "
             "unless you name a file of another format.", PhotoRepairer,
             (TaskInput("quality", int, None, "JPEG quality 1-100 the photo was saved with; read from a JPEG "
                        "file, else detected", 1, 100, read=lambda image: image.jpeg_quality),
              TaskInput("scale", float, 1.0, "enlarge by this factor after the repair (1 to 16)", 1, 16),
              TaskInput("explain", bool, False, "report what was detected and done")),
             setting="scale", settings=(1, 2, 4), label="x{:g}", lossless=True),
    TaskSpec("denoise", "Remove noise.", "Remove noise.", Denoiser,
             (TaskInput("sigma", float, None, "noise level on the 0-255 scale; estimated per image when absent",
                        0, 255, estimate=estimate_sigma),),
             setting="sigma", settings=(15, 25, 50), label="sigma={:g}"),
    TaskSpec("upscale", "Increase resolution (super-resolution).",
             "Increase resolution (super-resolution).\n\nThe default method is the best shipped super-resolution "
             "model (MATLAB bicubic when none is shipped). Learned models work on the BT.601 luma; the chroma and "
             "any alpha channel are upscaled by MATLAB bicubic. Gray stays gray, 16-bit input gives 16-bit output.",
             Upscaler, (TaskInput("scale", float, 2.0, "scale factor, 1 to 16. " + SCALE_POLICY, 1, 16),),
             setting="scale", settings=(2, 3, 4), label="x{:g}"),
    TaskSpec("inpaint", "Fill missing regions given by a mask.", "Fill missing regions given by a mask.", Inpainter,
             (TaskInput("mask", str, None, "mask image (white = missing, same size as the image) or a generated "
                        f"mask: {', '.join(MASKS)}, freeform:LO-HI (percent of the image)", required=True, seeded=True,
                        safe=MASK_KIND,
                        resolve=lambda value, x, seed: make_mask(value, *x.shape[-2:], seed=seed)),),
             setting="mask", settings=("center", "boxes", "strokes")),
    TaskSpec("deblur", "Undo blur: a known kernel, or mild camera blur blind.",
             "Undo blur: a known kernel, or mild camera blur blind.\n\nWith --kernel the default is plug-and-play "
             "deconvolution (pnp); without one, the blind deblurrer for the mild blur of real photos (soft lens, "
             "slight defocus or shake; not strong motion).", Deblurrer,
             (TaskInput("kernel", str, None, "blur kernel: gaussian:SIGMA, motion:LENGTH,ANGLE, disk:RADIUS, "
                        "aniso:SX,SY,ANGLE, generalized:SX,SY,ANGLE,BETA, plateau:SX,SY,ANGLE,BETA, random:SEED or a "
                        "kernel image; leave out for blind deblurring", safe=KERNEL_SPEC, split=split_kernel_specs,
                        resolve=lambda value, x, seed: kernel_from_spec(value)),),
             setting="kernel", settings=("gaussian:2", "motion:15,45")),
    TaskSpec("dejpeg", "Remove JPEG artefacts (blocks, ringing, colour bleeding).",
             "Remove JPEG artefacts (blocks, ringing, colour bleeding).\n\nThe quality is read from a JPEG file's "
             "quantisation tables; give --quality for an image that was a JPEG before (a PNG screenshot of one), "
             "or leave it out to work blind. A repaired .jpg is written as PNG in folder mode and to a folder "
             "(JPEG again would bring the artefacts back); name a file to choose its format.", DeJPEGer,
             (TaskInput("quality", int, None, "JPEG quality 1-100 the image was saved with; read from a JPEG "
                        "file, else blind", 1, 100, read=lambda image: image.jpeg_quality),),
             setting="quality", settings=(10, 20, 30, 40), label="q{:g}", lossless=True),
)}
