"""Small building blocks shared by the architectures."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


Example = tuple[tuple[torch.Tensor, ...], tuple[int, ...]]


def image_example(channels: int, scale: int = 1, sigma: bool = False) -> Example:
    """A network's contract, for an image-to-image network: inputs (a batch (2, channels, 20, 28) in
    [0, 1], odd-sized after padding multiples, and with ``sigma`` a noise level (2,) on the 0-1
    scale) and the output shape (2, channels, 20 * scale, 28 * scale). Every registered network has
    ``example() -> Example``; the contract tests run it."""
    x = torch.rand(2, channels, 20, 28, generator=torch.Generator().manual_seed(0))
    return ((x, torch.tensor([0.1, 0.2])) if sigma else (x,)), (2, channels, 20 * scale, 28 * scale)


def pad_to(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad (N, C, H, W) on the bottom and right to sides that are multiples of ``multiple``;
    returns the padded batch and the original (H, W) to crop the output back to."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    return (F.pad(x, (0, pw, 0, ph), mode="reflect") if ph or pw else x), (h, w)


def conv(cin: int, cout: int, k: int = 3, bias: bool = True) -> nn.Conv2d:
    """'Same' convolution."""
    return nn.Conv2d(cin, cout, k, padding=k // 2, bias=bias)


def conv_stack(cin: int, width: int, cout: int, depth: int, batch_norm: bool) -> nn.Sequential:
    """DnCNN-style plain stack: conv+ReLU, (depth-2) x conv(+BN)+ReLU, conv. depth >= 2."""
    layers: list[nn.Module] = [conv(cin, width), nn.ReLU(inplace=True)]
    for _ in range(depth - 2):
        layers += [conv(width, width, bias=not batch_norm)]
        if batch_norm:
            layers += [nn.BatchNorm2d(width)]
        layers += [nn.ReLU(inplace=True)]
    layers += [conv(width, cout)]
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    """conv-ReLU-conv with identity skip (EDSR style, no batch norm)."""

    def __init__(self, width: int):
        super().__init__()
        self.body = nn.Sequential(conv(width, width), nn.ReLU(inplace=True), conv(width, width))

    def start_as_identity(self) -> None:
        """Zero the last conv, so the block passes its input through until it learns otherwise
        (a block added to a trained network, see restora.train.objectives.restoration.warm_start)."""
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x):
        return x + self.body(x)
