"""Autoencoders for 28x28 gray images (MNIST, Fashion-MNIST): a variational autoencoder and a
denoising autoencoder.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from restora.nets.registry import register_net
from restora.nets.blocks import Example, conv, image_example, pad_to

SIZE = 28  # image side of the VAE; two stride-2 stages: 28 -> 14 -> 7


def _down(cin: int, cout: int) -> nn.Conv2d:
    """4x4 convolution, stride 2: halves height and width (even sides)."""
    return nn.Conv2d(cin, cout, 4, stride=2, padding=1)


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    """4x4 transposed convolution, stride 2: doubles height and width exactly."""
    return nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)


@register_net("conv-vae")
class ConvVAE(nn.Module):
    """Convolutional VAE (Kingma & Welling 2014) for (N, 1, 28, 28) images in [0, 1].

    Encoder: two 4x4 stride-2 convolutions (width, 2 width channels; 28 -> 14 -> 7), ReLU, a linear
    map of the 7x7 features to the mean and log-variance of a ``latent``-dimensional diagonal
    Gaussian q(z|x). Decoder: a linear map of z to 7x7 features, ReLU, two 4x4 stride-2
    transposed convolutions back to (N, 1, 28, 28) Bernoulli logits (sigmoid gives [0, 1]).
    """

    def __init__(self, latent: int = 16, width: int = 32):
        super().__init__()
        self.latent = latent
        self.width = width
        feat = 2 * width * (SIZE // 4) ** 2
        self.encoder = nn.Sequential(_down(1, width), nn.ReLU(inplace=True), _down(width, 2 * width),
                                     nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(feat, 2 * latent))
        self.project = nn.Linear(latent, feat)
        self.decoder = nn.Sequential(nn.ReLU(inplace=True), _up(2 * width, width), nn.ReLU(inplace=True),
                                     _up(width, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (N, 1, 28, 28) in [0, 1] -> (mean, log-variance), each (N, latent)."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, latent) -> logits (N, 1, 28, 28)."""
        return self.decoder(self.project(z).view(-1, 2 * self.width, SIZE // 4, SIZE // 4))

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, latent), e.g. drawn from N(0, I) -> images (N, 1, 28, 28) in [0, 1]."""
        return torch.sigmoid(self.decode(z))

    def forward(self, x: torch.Tensor, eps: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (N, 1, 28, 28) in [0, 1] -> (logits (N, 1, 28, 28), mean, logvar (N, latent)).

        The reparameterisation: z = mean + exp(logvar / 2) * eps with eps (N, latent) ~ N(0, I),
        drawn by the caller (so training is reproducible); without eps, z = mean."""
        mean, logvar = self.encode(x)
        z = mean if eps is None else mean + torch.exp(0.5 * logvar) * eps
        return self.decode(z), mean, logvar

    def example(self) -> Example:
        return (torch.rand(2, 1, SIZE, SIZE),), (2, 1, SIZE, SIZE)


@register_net("conv-dae")
class ConvDAE(nn.Module):
    """Convolutional denoising autoencoder (the Keras MNIST example's shape, strided instead of
    pooled): noisy (N, 1, H, W) in about [0, 1] -> clean estimate (N, 1, H, W) in about [0, 1]
    (linear output, clamp it for an image; a sigmoid output under an L2 loss saturates early in
    training and never recovers).

    Encoder: a 3x3 convolution, then two 4x4 stride-2 convolutions (H -> H/4; width, width, 2 width
    channels), ReLU. Decoder: two 4x4 stride-2 transposed convolutions back to H, a 3x3
    convolution. No skip connections: every output pixel passes the H/4 bottleneck. Blind
    (it ignores ``sigma``); sides that are not multiples of 4 are reflect-padded and cropped.
    """

    channels = 1

    def __init__(self, width: int = 32):
        super().__init__()
        relu = nn.ReLU(inplace=True)
        self.encoder = nn.Sequential(conv(1, width), relu, _down(width, width), relu, _down(width, 2 * width), relu)
        self.decoder = nn.Sequential(_up(2 * width, width), relu, _up(width, width), relu, conv(width, 1))

    def forward(self, x: torch.Tensor, sigma: torch.Tensor | None = None) -> torch.Tensor:
        xp, (h, w) = pad_to(x, 4)
        return self.decoder(self.encoder(xp))[..., :h, :w]

    def example(self) -> Example:
        return image_example(1, sigma=True)

