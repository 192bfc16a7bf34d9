"""DCGAN (Radford et al. 2016) for 64x64 colour images, as in the DCGAN inpainting recipe.

Generator: z (N, z_dim) -> a linear projection to 4x4x(8*width), then four 5x5 transposed
convolutions with stride 2 (4 -> 8 -> 16 -> 32 -> 64 pixels; 8w, 4w, 2w, w channels), batch norm
and ReLU between them, tanh output: images (N, 3, 64, 64) in [-1, 1]. Discriminator: four 5x5
convolutions with stride 2 (w, 2w, 4w, 8w channels; batch norm on all but the first), LeakyReLU
0.2, and a linear read-out of the 4x4x8w features: one logit per image (N,). No pooling, no dense
hidden layers. ``width`` 64 is the paper's network (512, 256, 128, 64 channels in G).
"""
from __future__ import annotations

import torch
import torch.nn as nn

from restora.nets.blocks import Example
from restora.nets.registry import register_net

KERNEL = 5
SIZE = 64  # output side; four stride-2 layers from 4x4


def _up(cin: int, cout: int) -> nn.ConvTranspose2d:
    """5x5 transposed convolution, stride 2: doubles height and width exactly."""
    return nn.ConvTranspose2d(cin, cout, KERNEL, stride=2, padding=KERNEL // 2, output_padding=1,
                              bias=False)


def _down(cin: int, cout: int, bias: bool = False) -> nn.Conv2d:
    """5x5 convolution, stride 2: halves height and width."""
    return nn.Conv2d(cin, cout, KERNEL, stride=2, padding=KERNEL // 2, bias=bias)


def _init(module: nn.Module) -> None:
    """DCGAN initialisation: weights N(0, 0.02), batch-norm scales N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


@register_net("dcgan-generator")
class DCGANGenerator(nn.Module):
    """z (N, z_dim) -> images (N, channels, 64, 64) in [-1, 1]; ``generate`` gives them in [0, 1]."""

    def __init__(self, z_dim: int = 100, width: int = 64, channels: int = 3):
        super().__init__()
        self.latent = z_dim  # the name generators share (restora.generate)
        self.channels = channels
        self.top = 8 * width
        self.project = nn.Linear(z_dim, 4 * 4 * self.top, bias=False)
        self.body = nn.Sequential(nn.BatchNorm2d(self.top), nn.ReLU(inplace=True))
        for cin, cout in ((8 * width, 4 * width), (4 * width, 2 * width), (2 * width, width)):
            self.body.extend([_up(cin, cout), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)])
        self.body.extend([_up(width, channels), nn.Tanh()])
        _init(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(z).view(-1, self.top, 4, 4))

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, z_dim) ~ N(0, I) -> images (N, channels, 64, 64) in [0, 1]."""
        return (self(z) + 1) / 2

    def example(self) -> Example:
        return (torch.randn(2, self.latent),), (2, self.channels, 64, 64)


@register_net("dcgan-discriminator")
class DCGANDiscriminator(nn.Module):
    """images (N, channels, 64, 64) in [-1, 1] -> logits (N,) (real > 0)."""

    def __init__(self, width: int = 64, channels: int = 3):
        super().__init__()
        self.channels = channels
        layers: list[nn.Module] = [_down(channels, width, bias=True), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in ((width, 2 * width), (2 * width, 4 * width), (4 * width, 8 * width)):
            layers += [_down(cin, cout), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        self.body = nn.Sequential(*layers)
        self.read_out = nn.Linear(8 * width * 4 * 4, 1)
        _init(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.read_out(self.body(x).flatten(1)).squeeze(1)

    def example(self) -> Example:
        return (torch.rand(2, self.channels, 64, 64) * 2 - 1,), (2,)
