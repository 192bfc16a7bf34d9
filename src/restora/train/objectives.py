"""What a training run optimises. The engine (restora.train.engine) owns the loop, checkpoints,
logs, progress and distribution; an objective owns its networks, optimisers and one step.

An objective has: ``modules`` (name -> nn.Module, all checkpointed), ``optimizers`` (name ->
Optimizer, each given a scheduler by the engine), ``train_step(gen) -> dict of floats``,
``validate() -> dict of floats`` (may be empty), ``export(out_dir)`` and optionally
``after_step(step, out_dir)``, called on the writing rank after every step (e.g. to save samples
at epoch ends). Register new kinds in OBJECTIVES; recipes pick one with ``objective:`` (default
``restoration``).
"""
from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from restora.degrade import imresize
from restora.errors import RestoraError
from restora.io import read_image
from restora.metrics import psnr, ssim
from restora.nets import build_net
from restora.nets.blocks import ResBlock
from restora.train.data import ImageCache, read_source, resolve_data_path, sample_patches, to_color_mode
from restora.train.gan import GANObjective
from restora.train.optim import make_optimizer, optimizer_step
from restora.train.recipe import require
from restora.train.vae import VAEObjective

LOSSES = {
    "l1": F.l1_loss,
    "l2": F.mse_loss,
    "charbonnier": lambda a, b: torch.sqrt((a - b) ** 2 + 1e-6).mean(),
}


def warm_start(net: nn.Module, path: Path) -> None:
    """Copy every tensor of a weight file whose name and shape match ``net`` (``init:`` in a
    recipe), e.g. an x3 super-resolver starting from the x2 one, all but its upsampler. A residual
    block the file lacks entirely starts as the identity (its last conv zeroed), so a deeper network
    grown from a shallower one computes the same function at step 0."""
    from safetensors.torch import load_file

    if not path.is_file():
        raise RestoraError(f"recipe: init weights {path} do not exist")
    own = net.state_dict()
    matched = {k: v.float() for k, v in load_file(str(path)).items() if k in own and own[k].shape == v.shape}
    if not matched:
        raise RestoraError(f"recipe: init weights {path} share no tensor with this network")
    net.load_state_dict(matched, strict=False)
    for name, block in net.named_modules():
        if isinstance(block, ResBlock) and not any(f"{name}.{k}" in matched for k in block.state_dict()):
            block.start_as_identity()


class Degradation:
    """On-the-fly damage for supervised pairs. ``kind: noise`` with ``sigma: 25`` or ``[0, 55]``
    (per patch, uniform), or ``kind: downscale`` with ``scale: s`` (MATLAB bicubic, 8-bit LR)."""

    def __init__(self, spec: dict[str, Any]):
        self.kind = require(spec, "kind", "degradation")
        if self.kind == "noise":
            sigma = spec.get("sigma", 25)
            self.sigma_range = (float(sigma[0]), float(sigma[1])) if isinstance(sigma, list) else (float(sigma),) * 2
            self.val_sigmas = [float(s) for s in spec.get("val_sigmas", [15, 25, 50])]
        elif self.kind == "downscale":
            self.scale = int(require(spec, "scale", "degradation"))
        else:
            raise RestoraError(f"recipe: unknown degradation '{self.kind}' (noise, downscale)")

    def make(self, clean: torch.Tensor, gen: torch.Generator) -> tuple[tuple, torch.Tensor]:
        """clean (N, C, H, W) -> (network inputs, target)."""
        if self.kind == "noise":
            lo, hi = self.sigma_range
            sigma = (torch.rand(clean.shape[0], generator=gen) * (hi - lo) + lo) / 255
            noisy = clean + torch.randn(clean.shape, generator=gen) * sigma.view(-1, 1, 1, 1)
            return (noisy, sigma), clean
        lr = (imresize(clean, 1 / self.scale).clamp(0, 1) * 255).round() / 255
        return (lr,), clean

    def settings(self) -> list[str]:
        return [f"sigma{s:g}" for s in self.val_sigmas] if self.kind == "noise" else [f"x{self.scale}"]

    def validation_pair(self, clean: torch.Tensor, setting: str, seed: int) -> tuple[tuple, torch.Tensor]:
        """Benchmark-protocol degradation of one (C, H, W) image for a setting."""
        if self.kind == "noise":
            g = torch.Generator().manual_seed(seed)
            sigma = float(setting[5:])
            noisy = clean + torch.randn(clean.shape, generator=g) * sigma / 255
            return (noisy[None], torch.tensor([sigma / 255])), clean
        s = self.scale
        h, w = clean.shape[1:]
        hr = clean[:, : h - h % s, : w - w % s]
        inputs, _ = self.make(hr[None], torch.Generator())
        return inputs, hr


def interval(data: dict[str, Any], key: str, rule: str,
             holds: Callable[[float, float], bool]) -> tuple[float, float] | None:
    """``data[key]`` as (lo, hi), or None where the recipe leaves it out. Anything but a list of two
    numbers for which ``holds(lo, hi)`` is a one-line recipe error naming the key and ``rule``."""
    value = data.get(key)
    if value is None:
        return None
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value) and holds(*value)):
        raise RestoraError(f"recipe: data.{key} must be [lo, hi] with {rule}, not {value}")
    return float(value[0]), float(value[1])


class RestorationObjective:
    """Supervised restoration: degraded patch -> clean patch, one network, one loss."""

    def __init__(self, recipe: dict[str, Any], device: torch.device, gen: torch.Generator):
        net_spec = require(recipe, "net", "")
        self.net = build_net(require(net_spec, "name", "net"), **net_spec.get("args", {})).to(device)
        self.net = self.net.to(memory_format=torch.channels_last)
        if recipe.get("init"):
            warm_start(self.net, resolve_data_path(recipe["init"]))
        self.channels = int(net_spec.get("args", {}).get("channels", 1))
        data = require(recipe, "data", "")
        self.patch = int(data.get("patch", 64))
        self.batch = int(data.get("batch", 16))
        self.flips = bool(data.get("flips", True))
        self.rescale = interval(data, "rescale", "0 < lo <= hi <= 1", lambda lo, hi: 0 < lo <= hi <= 1)
        self.saturation = interval(data, "saturation", "0 <= lo <= hi", lambda lo, hi: 0 <= lo <= hi)
        self.color = data.get("color", "gray" if self.channels == 1 else "rgb")
        self.cache = ImageCache(require(data, "train", "data"), self.color,
                                limit=data.get("limit"), min_side=self.patch)
        self.val_folder = data.get("val")
        self.val_limit = data.get("val_limit")
        self.degradation = Degradation(require(recipe, "degradation", ""))
        self.loss_fn = LOSSES[recipe.get("loss", "l1")]
        self.device = device
        self.modules = {"net": self.net}
        self.optimizers = {"net": make_optimizer(self.net.parameters(), recipe.get("optimizer", {}))}
        self.train_module = self.net  # replaced by the DDP wrapper when distributed

    def forward(self, module: nn.Module, inputs: tuple) -> torch.Tensor:
        inputs = tuple(t.to(self.device) for t in inputs)
        x = inputs[0].contiguous(memory_format=torch.channels_last)
        return module(x, *inputs[1:])

    def train_step(self, gen: torch.Generator) -> dict[str, float]:
        clean = sample_patches(self.cache, self.batch, self.patch, gen, self.flips, self.rescale,
                               self.saturation)
        inputs, target = self.degradation.make(clean, gen)
        with torch.autocast("cuda", enabled=self.device.type == "cuda"):
            loss = self.loss_fn(self.forward(self.train_module, inputs).float(), target.to(self.device))
        optimizer_step(self.optimizers["net"], loss)
        return {"loss": loss.item(), "patches": self.batch}

    @cached_property
    def val_images(self) -> list[torch.Tensor]:
        """The validation images, decoded once: (C, H, W) in [0, 1] in the recipe's colour mode. For
        super-resolution on a folder in the Set5 layout, its ``image_SRF_<scale>/*_HR.png``."""
        if self.degradation.kind == "downscale":
            hr = resolve_data_path(self.val_folder) / f"image_SRF_{self.degradation.scale}"
            if hr.is_dir():
                return [to_color_mode(read_image(path).data, self.color) for path in sorted(hr.glob("*_HR.png"))]
        return list(read_source(self.val_folder, self.color, self.val_limit)[0])

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        if not self.val_folder:
            return {}
        sr = self.degradation.kind == "downscale"
        self.net.eval()
        scores: dict[str, float] = {}
        for setting in self.degradation.settings():
            p, s = [], []
            for i, clean in enumerate(self.val_images):
                inputs, target = self.degradation.validation_pair(clean, setting, seed=i)
                out = self.forward(self.net, inputs)[0].float().cpu().clamp(0, 1)
                crop = self.degradation.scale if sr else 0
                p.append(psnr(out, target, y=sr, crop=crop))
                s.append(ssim(out, target, y=sr, crop=crop))
            scores[f"psnr_{setting}"] = sum(p) / len(p)
            scores[f"ssim_{setting}"] = sum(s) / len(s)
        scores["psnr"] = sum(v for k, v in scores.items() if k.startswith("psnr_")) / len(self.degradation.settings())
        self.net.train()
        return scores

    def export(self, path: Path, recipe: dict[str, Any], extra: dict[str, str]) -> None:
        from restora.zoo import save_weights

        save_weights(self.net, path, recipe["net"]["name"], recipe["net"].get("args", {}),
                     {"task": recipe.get("task", ""), **extra})


OBJECTIVES = {"restoration": RestorationObjective, "gan": GANObjective, "vae": VAEObjective}
