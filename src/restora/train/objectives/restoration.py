"""Supervised restoration (``objective: restoration``, the default): a degraded patch in, the clean
patch out, one network, one loss."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TYPE_CHECKING

import torch
import torch.nn as nn

from restora.degrade import apply_mask, blur, camera_blur_kernel, double_jpeg, imresize, jpeg, make_mask
from restora.degrade.realistic import Realistic, realistic
from restora.errors import RestoraError
from restora.methods import TASKS
from restora.methods.learned import restorer_for_net
from restora.nets import build_net
from restora.nets.blocks import ResBlock
from restora.protocols import evaluate, quantise, read_reference, reference_paths
from restora.train.data import ImageCache, read_source, resolve_data_path, sample_patches
from restora.zoo import save_weights
from restora.train.objectives.registry import register_objective
from restora.train.optim import LOSSES, make_optimizer, optimizer_step

if TYPE_CHECKING:  # the recipe module needs the objectives' defaults: no import at run time
    from restora.train.recipe import DegradationSpec, Recipe


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
    """On-the-fly damage for supervised pairs, as a recipe's degradation section says: ``noise`` of a
    level drawn per patch (uniform in ``sigma_range``), ``downscale`` by ``scale`` (MATLAB bicubic,
    8-bit LR), ``mask``: holes (filled white) of a kind drawn per patch from ``masks``, ``jpeg``
    compression, ``realistic`` damage and downscaling, or ``blur``: a camera blur and noise, one draw
    per patch (see DegradationSpec). ``task`` is the task whose protocol validates it,
    ``val_settings`` the settings."""

    TASKS = {"noise": "denoise", "downscale": "upscale", "mask": "inpaint", "jpeg": "dejpeg", "realistic": "upscale",
             "blur": "deblur"}

    def __init__(self, spec: DegradationSpec):
        self.spec, self.kind, self.scale = spec, spec.kind, spec.scale
        self.sigma_range, self.masks = spec.sigma, spec.masks
        self.task = self.TASKS[self.kind]
        self.val_settings = {"noise": spec.val_sigmas, "downscale": [spec.scale], "mask": spec.val_masks,
                             "jpeg": spec.val_qualities, "realistic": [spec.scale],
                             "blur": spec.val_kernels}[self.kind]

    def make(self, clean: torch.Tensor, gen: torch.Generator) -> tuple[tuple, torch.Tensor]:
        """clean (N, C, H, W) -> (network inputs, target)."""
        if self.kind == "noise":
            sigma = self.noise_levels(clean.shape[0], gen)
            noisy = clean + torch.randn(clean.shape, generator=gen) * sigma.view(-1, 1, 1, 1)
            return (noisy, sigma), clean
        if self.kind == "mask":
            n, _, h, w = clean.shape
            kinds = torch.randint(len(self.masks), (n,), generator=gen).tolist()
            seeds = torch.randint(2**31 - 1, (n,), generator=gen).tolist()
            mask = torch.stack([make_mask(self.masks[k], h, w, seed=s) for k, s in zip(kinds, seeds)])
            return (apply_mask(clean, mask), mask), clean
        if self.kind == "jpeg":
            return self.compressed(clean, gen), clean
        if self.kind == "blur":
            return self.blurred(clean, gen), clean
        if self.kind == "realistic":
            model = Realistic(shuffle=self.spec.shuffle, plain=self.spec.plain)
            return (torch.stack([realistic(patch, self.scale, gen, model) for patch in clean]),), clean
        lr = (imresize(clean, 1 / self.scale).clamp(0, 1) * 255).round() / 255
        return (lr,), clean


    def noise_levels(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """(n,) noise levels on the 0-1 scale, drawn uniformly from ``sigma_range`` (0-255)."""
        lo, hi = self.sigma_range
        return (torch.rand(n, generator=gen) * (hi - lo) + lo) / 255

    def blurred(self, clean: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(blurred, noisy 8-bit patches, their noise level (N,) on the 0-1 scale)."""
        sigma = self.noise_levels(clean.shape[0], gen)
        blurred = torch.stack([blur(patch, camera_blur_kernel(gen))[0] for patch in clean])
        noisy = blurred + torch.randn(clean.shape, generator=gen) * sigma.view(-1, 1, 1, 1)
        return (noisy.clamp(0, 1) * 255).round() / 255, sigma

    def compressed(self, clean: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(JPEG patches, level (N,): quality / 100, 0 where the network is to work blind)."""
        lo, hi = self.spec.quality
        out, levels = [], []
        for patch in clean:
            quality, first = (int(q) for q in torch.randint(int(lo), int(hi) + 1, (2,), generator=gen))
            dy, dx = (int(d) for d in torch.randint(8, (2,), generator=gen))
            twice, blind = (float(u) for u in torch.rand(2, generator=gen))
            out.append(double_jpeg(patch, first, quality, (dy, dx)) if twice < self.spec.double else jpeg(patch, quality))
            levels.append(0.0 if blind < self.spec.blind else quality / 100)
        return torch.stack(out), torch.tensor(levels)


@register_objective("restoration")
class RestorationObjective:
    """Supervised restoration: degraded patch -> clean patch, one network, one loss."""

    defaults = {"data": {"batch": 16}, "loss": "l1"}
    requires = ("degradation",)

    def __init__(self, recipe: Recipe, device: torch.device, gen: torch.Generator):
        self.net = build_net(recipe.net.name, **recipe.net.args).to(device)
        self.net = self.net.to(memory_format=torch.channels_last)
        if recipe.init:
            warm_start(self.net, resolve_data_path(recipe.init))
        self.data = recipe.data
        self.cache = ImageCache(self.data.train, self.data.color, limit=self.data.limit, min_side=self.data.patch)
        self.degradation = Degradation(recipe.degradation)
        self.loss_fn = LOSSES[recipe.loss]
        self.device = device
        self.modules = {"net": self.net}
        self.optimizers = {"net": make_optimizer(self.net.parameters(), recipe.optimizer)}
        self.train_module = self.net  # replaced by the DDP wrapper when distributed
        self.val_cache: dict[Any, list[torch.Tensor]] = {}

    def forward(self, module: nn.Module, inputs: tuple) -> torch.Tensor:
        inputs = tuple(t.to(self.device) for t in inputs)
        x = inputs[0].contiguous(memory_format=torch.channels_last)
        return module(x, *inputs[1:])

    def train_step(self, gen: torch.Generator) -> dict[str, float]:
        clean = sample_patches(self.cache, self.data.batch, self.data.patch, gen, self.data.flips,
                               self.data.rescale, self.data.saturation)
        inputs, target = self.degradation.make(clean, gen)
        with torch.autocast("cuda", enabled=self.device.type == "cuda"):
            loss = self.loss_fn(self.forward(self.train_module, inputs).float(), target.to(self.device))
        optimizer_step(self.optimizers["net"], loss)
        return {"loss": loss.item(), "patches": self.data.batch}

    def val_images(self, setting: Any) -> list[torch.Tensor]:
        """The clean validation images of a setting, decoded once, as the protocol takes them (8-bit
        levels): for super-resolution a folder's images as its files are (its ``image_SRF_<scale>``
        HR images in the Set5 layout), else the data source in the recipe's colour mode."""
        task = self.degradation.task
        folder = resolve_data_path(self.data.val)
        key = setting if task == "upscale" else None
        if key not in self.val_cache:
            if task == "upscale" and folder.is_dir():
                images = [read_reference(p) for p in reference_paths(task, folder, setting, self.data.val_limit)]
            else:
                images = [quantise(x) for x in read_source(self.data.val, self.data.color, self.data.val_limit)[0]]
            self.val_cache[key] = images
        return self.val_cache[key]

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean PSNR / SSIM per validation setting by the task's protocol (restora.protocols), the
        network served exactly as a shipped model of its task is (restora.methods.learned), so the
        figures equal ``restora bench`` on the same images; ``psnr`` is their mean."""
        if not self.data.val:
            return {}
        task = self.degradation.task
        restorer = restorer_for_net(task, self.net, self.net.channels, self.degradation.scale)
        self.net.eval()
        scores: dict[str, float] = {}
        for setting in self.degradation.val_settings:
            key = TASKS[task].setting_label(setting).replace("=", "")
            scores[f"psnr_{key}"], scores[f"ssim_{key}"] = evaluate(restorer.restore, task,
                                                                    self.val_images(setting), setting)
        scores["psnr"] = sum(v for k, v in scores.items() if k.startswith("psnr_")) / len(self.degradation.val_settings)
        self.net.train()
        return scores

    def export(self, path: Path, recipe: Recipe, extra: dict[str, str]) -> None:
        save_weights(self.net, path, recipe.net.name, recipe.net.args, {"task": recipe.task, **extra})
