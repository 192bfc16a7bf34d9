"""Image classifiers: small VGG-style CNNs for 28x28 gray digits/clothes (MNIST, Fashion-MNIST) and
32x32 colour images (CIFAR-10). Trained by ``objective: classification`` (restora.train), served by
restora.classify.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from restora.nets.blocks import Example
from restora.nets.registry import register_net


def conv_bn_relu(cin: int, cout: int, batch_norm: bool) -> list[nn.Module]:
    """3x3 'same' convolution (no bias before batch norm), batch norm, ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(cout))
    return layers + [nn.ReLU(inplace=True)]


@register_net("cnn-classifier")
class CNNClassifier(nn.Module):
    """A plain CNN: images (N, channels, H, W) in [0, 1] -> class logits (N, classes) (softmax gives
    the probabilities).

    ``depth`` stages of ``convs`` 3x3 convolutions (each with batch norm when ``batch_norm``, then
    ReLU), ``width`` channels in the first stage, doubled in each next one; a 2x2 max-pool between
    stages (H and W halve, so H and W should be at least 2^(depth-1)). Then global average pooling,
    dropout of probability ``dropout`` and a linear layer to the logits. ``size``: the side of the
    square images it is trained on (the classify tool resizes inputs to it; the network itself takes
    any size).
    """

    def __init__(self, classes: int = 10, channels: int = 1, width: int = 32, depth: int = 3, convs: int = 2,
                 batch_norm: bool = True, dropout: float = 0.2, size: int = 28):
        super().__init__()
        self.classes, self.channels, self.size = classes, channels, size
        layers: list[nn.Module] = []
        cin = channels
        for stage in range(depth):
            if stage:
                layers.append(nn.MaxPool2d(2))
            cout = width * 2**stage
            for _ in range(convs):
                layers += conv_bn_relu(cin, cout, batch_norm)
                cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(cin, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, channels, H, W) in [0, 1] -> logits (N, classes)."""
        return self.head(self.features(x))

    def example(self) -> Example:
        x = torch.rand(2, self.channels, self.size, self.size, generator=torch.Generator().manual_seed(0))
        return (x,), (2, self.classes)
