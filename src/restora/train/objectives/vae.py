"""Variational autoencoder training (``objective: vae`` in a recipe) and the VAE figures.

The loss is the negative ELBO per image, in nats: reconstruction (Bernoulli cross-entropy of the
decoder's logits against the gray levels in [0, 1], summed over the pixels) plus KL(q(z|x) || N(0, I)),
in closed form for the diagonal Gaussian q. Both terms are logged every step (``recon``, ``kl``,
``loss`` = their sum); validation reports them on held-out images (``val_recon``, ``val_kl``,
``val_loss``) with a fixed reparameterisation noise, so runs compare. At each validation step and
at the end the run folder gets the figures of :func:`save_vae_figures`.

Recipe keys: ``net: {name: conv-vae, args: {latent, width}}``, ``data: {train, val (required),
batch (default 128), limit, val_limit}`` where train and val are data sources of 28x28 images
(restora.train.data.read_source: a folder or an idx file with an optional ``[start:stop]`` range),
``optimizer``, ``schedule``, ``train`` (see VAEObjective.defaults and requires).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from restora.errors import RestoraError
from restora.generate import image_grid
from restora.io import Image, atomic_path, write_image
from restora.nets import build_net
from restora.nets.autoencoders import SIZE
from restora.train.data import ImageCache
from restora.train.objectives.registry import register_objective
from restora.train.optim import make_optimizer, optimizer_step

if TYPE_CHECKING:  # the recipe module needs the objectives' defaults: no import at run time
    from restora.train.recipe import Recipe

NOISE_SEED = 0  # the reparameterisation noise of validation and the z of the sample grid
ZOOM = 2  # figure pixels per image pixel (nearest neighbour)


def elbo_terms(net: nn.Module, x: torch.Tensor, eps: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, 1, 28, 28) in [0, 1], eps (N, latent) ~ N(0, I) -> (reconstruction, KL), each the mean over
    the batch of a per-image sum in nats; the negative ELBO is their sum."""
    logits, mean, logvar = net(x, eps)
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
    kl = -0.5 * torch.sum(1 + logvar - mean**2 - logvar.exp()) / len(x)
    return recon, kl


@torch.no_grad()
def held_out_elbo(net: nn.Module, images: torch.Tensor) -> dict[str, float]:
    """Images (N, 1, 28, 28) in [0, 1] -> ``val_loss`` (negative ELBO), ``val_recon``, ``val_kl``: means
    per image in nats, with the fixed reparameterisation noise of NOISE_SEED."""
    device = next(net.parameters()).device
    gen = torch.Generator().manual_seed(NOISE_SEED)
    recon = kl = 0.0
    for x in images.split(500):
        eps = torch.randn(len(x), net.latent, generator=gen).to(device)
        r, k = elbo_terms(net, x.to(device), eps)
        recon, kl = recon + r.item() * len(x), kl + k.item() * len(x)
    n = len(images)
    return {"val_loss": (recon + kl) / n, "val_recon": recon / n, "val_kl": kl / n}


def stack_images(cache: ImageCache, source: str) -> torch.Tensor:
    """The cache's images as one float tensor (N, 1, 28, 28) in [0, 1]."""
    if any(img.shape != (1, SIZE, SIZE) for img in cache.images):
        raise RestoraError(f"{source}: the VAE needs {SIZE}x{SIZE} images")
    return torch.stack(cache.images).float() / 255


@register_objective("vae")
class VAEObjective:
    """One VAE, one optimiser; whole images, not patches (``patches`` counts images)."""

    defaults = {"task": "generate", "data": {"batch": 128}}
    requires = ("data.val",)

    def __init__(self, recipe: Recipe, device: torch.device, gen: torch.Generator):
        self.net = build_net(recipe.net.name, **recipe.net.args).to(device)
        data = recipe.data
        self.train_images = stack_images(ImageCache(data.train, data.color, limit=data.limit), data.train)
        val = ImageCache(data.val, data.color, limit=data.val_limit)
        self.val_images, self.val_labels = stack_images(val, data.val), val.labels
        self.batch = data.batch
        self.figure_every, self.last_step = recipe.train.val_every, recipe.train.steps
        self.device = device
        self.modules = {"net": self.net}
        self.optimizers = {"net": make_optimizer(self.net.parameters(), recipe.optimizer)}
        self.train_module = self.net  # replaced by the DDP wrapper when distributed
        self.scores: dict[str, float] = {}

    def train_step(self, gen: torch.Generator) -> dict[str, float]:
        index = torch.randint(len(self.train_images), (self.batch,), generator=gen)
        x = self.train_images[index].to(self.device)
        eps = torch.randn(self.batch, self.net.latent, generator=gen).to(self.device)
        recon, kl = elbo_terms(self.train_module, x, eps)
        optimizer_step(self.optimizers["net"], recon + kl)
        return {"loss": recon.item() + kl.item(), "recon": recon.item(), "kl": kl.item(), "patches": self.batch}

    def validate(self) -> dict[str, float]:
        self.scores = held_out_elbo(self.net, self.val_images)
        return self.scores

    def after_step(self, step: int, out_dir: Path) -> None:
        """At validation steps (``train.val_every``) and the last step, refresh the run's figures."""
        if step % self.figure_every == 0 or step == self.last_step:
            save_vae_figures(self.net, self.val_images, self.val_labels, out_dir)

    def export(self, path: Path, recipe: Recipe, extra: dict[str, str]) -> None:
        """The VAE's weights with its held-out scores (``val_loss`` etc., nats) in the metadata."""
        from restora.zoo import save_weights

        meta = {"task": recipe.task, "steps": extra["steps"],
                **{k: f"{v:.3f}" for k, v in self.scores.items()}}
        save_weights(self.net, path, recipe.net.name, recipe.net.args, meta)


def write_grid(images: torch.Tensor, path: Path, columns: int) -> Path:
    """(N, 1, 28, 28) in [0, 1] -> a PNG grid, ZOOM times enlarged (nearest neighbour)."""
    grid = image_grid(images, columns).repeat_interleave(ZOOM, -1).repeat_interleave(ZOOM, -2)
    return write_image(Image(grid), path, overwrite=True)


@torch.no_grad()
def save_vae_figures(net: nn.Module, images: torch.Tensor, labels: torch.Tensor | None, folder: Path,
                     prefix: str = "") -> list[Path]:
    """The figures of a trained VAE from held-out images (N, 1, 28, 28) in [0, 1] (N >= 16) with
    optional class labels (N,), written to ``folder/{prefix}NAME.png``:

    - ``samples``: 8x8 decoded z ~ N(0, I) (fixed seed);
    - ``reconstructions``: the first 16 images (rows 1 and 3) above their reconstructions from
      the posterior mean (rows 2 and 4);
    - ``interpolation``: 8 rows, each decoding 10 evenly spaced points on the line between the
      posterior means of two held-out images (images 2i and 2i+1), ends included;
    - ``latent`` (2-D latent with labels only): the posterior means of all images, coloured by class.
    """
    device = next(net.parameters()).device
    folder.mkdir(parents=True, exist_ok=True)
    z = torch.randn(64, net.latent, generator=torch.Generator().manual_seed(NOISE_SEED)).to(device)
    written = [write_grid(net.generate(z).cpu(), folder / f"{prefix}samples.png", 8)]
    x = images[:16].to(device)
    mean = net.encode(x)[0]  # (16, latent)
    rows = torch.stack([x.view(2, 8, 1, SIZE, SIZE), net.generate(mean).view(2, 8, 1, SIZE, SIZE)], 1)
    written.append(write_grid(rows.reshape(32, 1, SIZE, SIZE).cpu(), folder / f"{prefix}reconstructions.png", 8))
    ends = mean.view(8, 2, net.latent)
    t = torch.linspace(0, 1, 10, device=device).view(1, 10, 1)
    line = ends[:, :1] * (1 - t) + ends[:, 1:] * t  # (8, 10, latent)
    strips = net.generate(line.reshape(80, net.latent)).cpu()
    written.append(write_grid(strips, folder / f"{prefix}interpolation.png", 10))
    if net.latent == 2 and labels is not None:
        means = torch.cat([net.encode(b.to(device))[0].cpu() for b in images.split(500)])
        written.append(_plot_latent(means, labels, folder / f"{prefix}latent.png"))
    return written


def _plot_latent(means: torch.Tensor, labels: torch.Tensor, path: Path) -> Path:
    """Scatter of 2-D posterior means (N, 2) coloured by class label (N,) -> PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    dots = ax.scatter(means[:, 0], means[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=9.5, s=3)
    fig.colorbar(dots, ax=ax, ticks=range(10), label="class")
    ax.set_xlabel("z1 (posterior mean)")
    ax.set_ylabel("z2 (posterior mean)")
    ax.set_title(f"{len(means)} held-out images in the 2-D latent space")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=90)
    plt.close(fig)
    return path
