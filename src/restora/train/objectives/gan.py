"""Adversarial training of a DCGAN on face frames (``objective: gan`` in a recipe).

One engine step is ``d_steps`` discriminator updates then ``g_steps`` generator updates (the
default 1:2 schedule is the inpainting article's fix for a discriminator loss collapsing to 0).
Losses are binary cross-entropy on logits with one-sided label smoothing: real images are
labelled ``real_label`` (0.9), generated ones 0; the generator's loss is the non-saturating
-log D(G(z)). Each real batch gets random horizontal flips. An epoch is one pass of the
discriminator over the training faces; at the end of each, a grid of G(z) for a fixed z is saved
to ``samples/epoch_NNN.png`` in the run folder.

Recipe keys: ``data: {train, holdout (default 500, the last files by name, never trained on),
batch}``, ``net: {args: {z_dim, width}}`` (width is shared by both networks; colour images), ``gan: {d_steps, g_steps,
real_label}``, ``optimizer`` (both networks; default Adam lr 2e-4, betas 0.5/0.999): see ``defaults``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import os
from pathlib import Path

import torch
import torch.nn.functional as F

from restora.errors import RestoraError
from restora.generate import image_grid
from restora.nets import build_net
from restora.train.faces import load_faces, split_files
from restora.train.objectives.registry import register_objective
from restora.train.optim import make_optimizer, optimizer_step

if TYPE_CHECKING:  # the recipe module needs the objectives' defaults: no import at run time
    from restora.train.recipe import Recipe

GRID_SEED = 1234  # the fixed z of the per-epoch sample grids
GRID_SIZE = 64


@register_objective("gan")
class GANObjective:
    """Generator and discriminator (``modules``), one Adam each, the d_steps:g_steps schedule."""

    defaults = {"task": "generate", "gan": {},
                "net": {"name": "dcgan-generator", "args": {"z_dim": 100, "width": 64, "channels": 3}},
                "data": {"batch": 64, "holdout": 500}, "optimizer": {"lr": 2e-4, "betas": [0.5, 0.999]}}
    requires = ()

    def __init__(self, recipe: Recipe, device: torch.device, gen: torch.Generator):
        if int(os.environ.get("WORLD_SIZE", "1")) > 1:
            raise RestoraError("recipe: adversarial training (objective gan) runs in one process, not under torchrun")
        files, _ = split_files(recipe.data.train, recipe.data.holdout)
        self.faces = load_faces(files)
        self.batch = recipe.data.batch
        self.name, self.args = recipe.net.name, recipe.net.args
        self.generator = build_net(self.name, **self.args).to(device)
        self.discriminator = build_net("dcgan-discriminator", **self.d_args).to(device)
        self.modules = {"generator": self.generator, "discriminator": self.discriminator}
        self.optimizers = {k: make_optimizer(m.parameters(), recipe.optimizer) for k, m in self.modules.items()}
        self.d_steps, self.g_steps, self.real_label = recipe.gan.d_steps, recipe.gan.g_steps, recipe.gan.real_label
        self.steps_per_epoch = max(1, len(self.faces) // (self.batch * self.d_steps))
        self.fixed_z = torch.randn(GRID_SIZE, self.generator.latent,
                                   generator=torch.Generator().manual_seed(GRID_SEED)).to(device)
        self.device = device

    def real_batch(self, gen: torch.Generator) -> torch.Tensor:
        """(batch, 3, 64, 64) random training faces in [-1, 1], each flipped left-right with p = 0.5."""
        index = torch.randint(len(self.faces), (self.batch,), generator=gen)
        real = self.faces[index].float() / 127.5 - 1
        flip = torch.rand(self.batch, generator=gen) < 0.5
        real[flip] = real[flip].flip(-1)
        return real.to(self.device)

    def latent(self, gen: torch.Generator) -> torch.Tensor:
        """(batch, z_dim) z ~ N(0, I)."""
        return torch.randn(self.batch, self.args["z_dim"], generator=gen).to(self.device)

    def discriminator_loss(self, real: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        """BCE of D on real faces (target real_label) and on G(z) (target 0, G frozen), with the mean
        probabilities D(x) and D(G(z))."""
        with torch.no_grad():
            fake = self.generator(z)
        logit_real, logit_fake = self.discriminator(real), self.discriminator(fake)
        loss = (F.binary_cross_entropy_with_logits(logit_real, torch.full_like(logit_real, self.real_label))
                + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))
        return loss, torch.sigmoid(logit_real).mean().item(), torch.sigmoid(logit_fake).mean().item()

    def generator_loss(self, z: torch.Tensor) -> torch.Tensor:
        """The non-saturating generator loss -log D(G(z)) (BCE with target 1)."""
        logit = self.discriminator(self.generator(z))
        return F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))

    def train_step(self, gen: torch.Generator) -> dict[str, float]:
        """d_steps discriminator updates, then g_steps generator updates. Returns the mean losses
        (loss_d, loss_g), the mean D(x) and D(G(z)) probabilities seen by the discriminator, and
        ``patches``: the real images the step consumed."""
        totals = dict.fromkeys(("loss_d", "loss_g", "d_real", "d_fake"), 0.0)
        for _ in range(self.d_steps):
            real = self.real_batch(gen)
            loss, d_real, d_fake = self.discriminator_loss(real, self.latent(gen))
            optimizer_step(self.optimizers["discriminator"], loss)
            for key, value in (("loss_d", loss.item()), ("d_real", d_real), ("d_fake", d_fake)):
                totals[key] += value / self.d_steps
        for _ in range(self.g_steps):
            loss = self.generator_loss(self.latent(gen))
            optimizer_step(self.optimizers["generator"], loss)
            totals["loss_g"] += loss.item() / self.g_steps
        return {**totals, "patches": self.batch * self.d_steps}

    def after_step(self, step: int, out_dir: Path) -> None:
        """At each epoch's end, save the fixed-z sample grid as ``samples/epoch_NNN.png``."""
        if step % self.steps_per_epoch:
            return
        from restora.io import Image, write_image

        epoch = step // self.steps_per_epoch
        folder = out_dir / "samples"
        folder.mkdir(exist_ok=True)
        write_image(Image(image_grid(self.samples(self.fixed_z))), folder / f"epoch_{epoch:03d}.png", overwrite=True)

    @torch.no_grad()
    def samples(self, z: torch.Tensor) -> torch.Tensor:
        """G(z) in eval mode (batch-norm running statistics, no state changes): (N, 3, 64, 64) in [0, 1]."""
        self.generator.eval()
        images = self.generator.generate(z)
        self.generator.train()
        return images

    def validate(self) -> dict[str, float]:
        return {}

    def facts(self) -> dict[str, int]:
        """For the card (run.json): the number of training faces."""
        return {"faces": len(self.faces)}

    def export(self, path: Path, recipe: Recipe, extra: dict[str, str]) -> None:
        """The generator to ``path`` (the run's model.safetensors), the discriminator beside it as
        ``discriminator.safetensors`` (GAN-prior inpainting needs both); float16 weights."""
        from restora.zoo import save_weights

        steps = extra.get("steps", "0")  # the engine's other extras (best validation PSNR) mean nothing here
        meta = {"task": recipe.task, "steps": steps,
                "epochs": f"{int(steps) / self.steps_per_epoch:.2f}"}
        save_weights(self.generator, path, self.name, self.args, meta, half=True)
        save_weights(self.discriminator, path.with_name("discriminator.safetensors"), "dcgan-discriminator",
                     self.d_args, {**meta, "task": "discriminate"}, half=True)

    @property
    def d_args(self) -> dict[str, int]:
        return {"width": self.args["width"], "channels": self.args["channels"]}

