"""Denoising networks. All map a noisy batch (N, C, H, W) in about [0, 1] plus the noise level
``sigma`` (N,) on the 0-1 scale to the clean estimate (N, C, H, W); blind networks (DnCNN)
ignore ``sigma``.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from restora.nets.registry import register_net
from restora.nets.blocks import Example, ResBlock, conv, conv_stack, image_example, pad_to


class Denoiser(nn.Module):
    """Base of the denoising networks: keeps ``channels`` and states their contract."""

    def __init__(self, channels: int):
        super().__init__()
        self.channels = channels

    def example(self) -> Example:
        return image_example(self.channels, sigma=True)


def with_level_map(x: torch.Tensor, sigma: torch.Tensor, multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """x (N, C, H, W) reflect-padded to sides that are multiples of ``multiple`` (see pad_to), and its
    2x pixel-unshuffle (N, 4C, H/2, W/2) with the noise level sigma (N,) as one more channel."""
    xp, _ = pad_to(x, multiple)
    down = F.pixel_unshuffle(xp, 2)
    level = sigma.view(-1, 1, 1, 1).expand(-1, 1, *down.shape[-2:]).to(x.dtype)
    return xp, torch.cat([down, level], 1)


@register_net("dncnn")
class DnCNN(Denoiser):
    """DnCNN (Zhang et al. 2017): a plain conv stack predicting the noise (residual learning).
    DnCNN-S is depth 17, width 64, batch norm; 555K parameters for gray."""


    def __init__(self, channels: int = 1, depth: int = 17, width: int = 64, batch_norm: bool = True):
        super().__init__(channels)
        self.body = conv_stack(channels, width, channels, depth, batch_norm)

    def forward(self, x, sigma=None):
        return x - self.body(x)


@register_net("ffdnet")
class FFDNet(Denoiser):
    """FFDNet (Zhang et al. 2018): 2x pixel-unshuffle, a noise-level map as an extra input channel,
    a plain conv stack on a quarter of the pixels, pixel-shuffle back. Residual output here
    (it converges faster than the paper's direct output)."""


    def __init__(self, channels: int = 1, depth: int = 15, width: int = 64, batch_norm: bool = False):
        super().__init__(channels)
        self.body = conv_stack(4 * channels + 1, width, 4 * channels, depth, batch_norm)

    def forward(self, x, sigma):
        xp, inputs = with_level_map(x, sigma, 2)
        noise = F.pixel_shuffle(self.body(inputs), 2)
        return (xp - noise)[..., :x.shape[-2], :x.shape[-1]]


class ResUNetTrunk:
    """The trunk of restora's compact residual U-Nets, mixed into an nn.Module: three scales of
    residual blocks (width, 2 width, 4 width) joined by strided convs and pixel-shuffle upsampling
    with additive skips. ``trunk`` maps (N, cin, h, w), h and w multiples of 4, to (N, cout, h, w)."""

    def build_trunk(self, cin: int, cout: int, width: int, blocks: int) -> None:
        w1, w2, w3 = width, 2 * width, 4 * width
        self.head = conv(cin, w1)
        self.enc1 = nn.Sequential(*[ResBlock(w1) for _ in range(blocks)])
        self.down1 = nn.Conv2d(w1, w2, 2, stride=2)
        self.enc2 = nn.Sequential(*[ResBlock(w2) for _ in range(blocks)])
        self.down2 = nn.Conv2d(w2, w3, 2, stride=2)
        self.mid = nn.Sequential(*[ResBlock(w3) for _ in range(blocks)])
        self.up2 = nn.Sequential(conv(w3, 4 * w2, 1), nn.PixelShuffle(2))
        self.dec2 = nn.Sequential(*[ResBlock(w2) for _ in range(blocks)])
        self.up1 = nn.Sequential(conv(w2, 4 * w1, 1), nn.PixelShuffle(2))
        self.dec1 = nn.Sequential(*[ResBlock(w1) for _ in range(blocks)])
        self.tail = conv(w1, cout)

    def trunk(self, inputs: torch.Tensor) -> torch.Tensor:
        s1 = self.enc1(self.head(inputs))
        s2 = self.enc2(self.down1(s1))
        mid = self.mid(self.down2(s2))
        d2 = self.dec2(self.up2(mid) + s2)
        return self.tail(self.dec1(self.up1(d2) + s1))


@register_net("unet-denoiser")
class UNetDenoiser(ResUNetTrunk, Denoiser):
    """A compact residual U-Net for CPU speed (DRUNet-like, smaller): 2x pixel-unshuffle in, the
    three-scale residual trunk (ResUNetTrunk), noise-level map as input, the noise predicted. Most
    of the compute runs at 1/16 and 1/64 of the pixels, so the receptive field is large and the cost
    small."""

    def __init__(self, channels: int = 1, width: int = 32, blocks: int = 2):
        super().__init__(channels)
        self.build_trunk(4 * channels + 1, 4 * channels, width, blocks)

    def forward(self, x, sigma):
        xp, inputs = with_level_map(x, sigma, 8)
        noise = F.pixel_shuffle(self.trunk(inputs), 2)
        return (xp - noise)[..., :x.shape[-2], :x.shape[-1]]


@register_net("unet-dejpeg")
class UNetDeJPEG(UNetDenoiser):
    """The compact residual U-Net of unet-denoiser removing JPEG artefacts: its level input is the
    JPEG quality / 100, 0 when unknown (blind). Its 8-pixel level grid (2x unshuffle, two strided
    levels) matches the JPEG block grid of a tile that starts on it. The last conv starts at zero,
    so an untrained network returns its input: training starts from the JPEG, never below it."""

    def __init__(self, channels: int = 1, width: int = 32, blocks: int = 2):
        super().__init__(channels, width, blocks)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)
