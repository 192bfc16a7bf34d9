"""Super-resolution networks. All map a low-resolution batch (N, C, h, w) in [0, 1] to
(N, C, h*scale, w*scale). The classic ones work on the luma (C = 1, BT.601 Y in [16, 235]/255),
as in their papers; ``scale`` is an integer 2, 3 or 4.
"""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from restora.degrade import imresize
from restora.nets.registry import register_net
from restora.nets.blocks import Example, ResBlock, conv, image_example


class SuperResolver(nn.Module):
    """Base of the super-resolution networks: keeps ``scale`` and ``channels``."""

    def __init__(self, scale: int, channels: int):
        super().__init__()
        self.scale = scale
        self.channels = channels

    def example(self) -> Example:
        return image_example(self.channels, self.scale)


@register_net("srcnn")
class SRCNN(SuperResolver):
    """SRCNN (Dong et al. 2014): three convolutions (9-f2-5) on the MATLAB-bicubic-upscaled
    input, direct output. ``mid_kernel`` 5 is SRCNN 9-5-5, 1 is 9-1-5."""

    upsamples_first = True  # works on scale^2 times the input pixels: the upscaler caps its tiles

    def __init__(self, scale: int = 2, channels: int = 1, mid_kernel: int = 5, n1: int = 64, n2: int = 32):
        super().__init__(scale, channels)
        self.body = nn.Sequential(
            nn.Conv2d(channels, n1, 9, padding=4, padding_mode="replicate"), nn.ReLU(inplace=True),
            nn.Conv2d(n1, n2, mid_kernel, padding=mid_kernel // 2, padding_mode="replicate"), nn.ReLU(inplace=True),
            nn.Conv2d(n2, channels, 5, padding=2, padding_mode="replicate"))

    def forward(self, x):
        return self.body(imresize(x, self.scale))


@register_net("fsrcnn")
class FSRCNN(SuperResolver):
    """FSRCNN (Dong et al. 2016): feature extraction 5x5 (d), shrinking 1x1 (s), m mapping 3x3
    layers, expanding 1x1, all with PReLU, then a 9x9 deconvolution of stride ``scale``."""

    def __init__(self, scale: int = 2, channels: int = 1, d: int = 56, s: int = 12, m: int = 4):
        super().__init__(scale, channels)
        layers = [conv(channels, d, 5), nn.PReLU(d), conv(d, s, 1), nn.PReLU(s)]
        for _ in range(m):
            layers += [conv(s, s, 3), nn.PReLU(s)]
        layers += [conv(s, d, 1), nn.PReLU(d)]
        self.body = nn.Sequential(*layers)
        self.deconv = nn.ConvTranspose2d(d, channels, 9, stride=scale, padding=4, output_padding=scale - 1)
        nn.init.normal_(self.deconv.weight, std=0.001)
        nn.init.zeros_(self.deconv.bias)

    def forward(self, x):
        return self.deconv(self.body(x))


@register_net("espcn")
class ESPCN(SuperResolver):
    """ESPCN (Shi et al. 2016): 5x5 (64) and 3x3 (32) tanh layers in low-resolution space, then a
    3x3 layer with scale^2 channels per output channel rearranged by sub-pixel convolution."""

    def __init__(self, scale: int = 2, channels: int = 1, n1: int = 64, n2: int = 32):
        super().__init__(scale, channels)
        self.body = nn.Sequential(conv(channels, n1, 5), nn.Tanh(), conv(n1, n2, 3), nn.Tanh(),
                                  conv(n2, channels * scale**2, 3), nn.PixelShuffle(scale))

    def forward(self, x):
        return self.body(x)


@register_net("compact-sr")
class CompactSR(SuperResolver):
    """restora's CPU super-resolver: all convolutions in low-resolution space (a 3x3 head,
    ``blocks`` EDSR residual blocks of ``width`` channels, a 3x3 fusion conv with a long skip),
    one 3x3 conv to scale^2 channels per output channel and pixel shuffle, added to the bicubic
    upscale of the input, so the network only learns the missing detail. The last conv starts at
    zero: an untrained network is exactly bicubic (PyTorch's, a = -0.75)."""

    def __init__(self, scale: int = 2, channels: int = 1, width: int = 48, blocks: int = 6):
        super().__init__(scale, channels)
        self.head = conv(channels, width)
        self.body = nn.Sequential(*[ResBlock(width) for _ in range(blocks)], conv(width, width))
        self.up = nn.Sequential(conv(width, channels * scale**2), nn.PixelShuffle(scale))
        nn.init.zeros_(self.up[0].weight)
        nn.init.zeros_(self.up[0].bias)

    def forward(self, x):
        feat = self.head(x)
        base = F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)
        return base + self.up(feat + self.body(feat))
