"""Inpainting networks: a batch with holes (N, C, H, W) in [0, 1] and its mask (N, 1, H, W), 1 =
missing, to the filled batch (N, C, H, W), known pixels passed through exactly."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from restora.nets.blocks import Example, pad_to
from restora.nets.denoise import ResUNetTrunk
from restora.nets.registry import register_net

HOLE_FILL = 0.5  # what the network sees in the hole: mid-gray, whatever the input held there


@register_net("unet-inpainter")
class UNetInpainter(ResUNetTrunk, nn.Module):
    """The compact residual U-Net (restora.nets.denoise.ResUNetTrunk) on the 2x pixel-unshuffled
    image and mask, predicting a correction of the gray-filled image; only the hole takes it. Its
    receptive field (about 100 pixels) bounds the hole it can fill from context: larger holes are
    filled at a reduced working resolution (restora.methods.inpainting)."""

    def __init__(self, channels: int = 3, width: int = 32, blocks: int = 2):
        super().__init__()
        self.channels = channels
        self.build_trunk(4 * (channels + 1), 4 * channels, width, blocks)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        filled = x * (1 - mask) + HOLE_FILL * mask
        padded, _ = pad_to(torch.cat([filled, mask], 1), 8)
        guess = padded[:, :-1] + F.pixel_shuffle(self.trunk(F.pixel_unshuffle(padded, 2)), 2)
        guess = guess[..., :x.shape[-2], :x.shape[-1]]
        return x * (1 - mask) + guess * mask

    def example(self) -> Example:
        x = torch.rand(2, self.channels, 20, 28, generator=torch.Generator().manual_seed(0))
        mask = torch.zeros(2, 1, 20, 28)
        mask[..., 5:15, 8:20] = 1
        return (x, mask), (2, self.channels, 20, 28)
