"""Neural style transfer (Gatys et al. 2016) and DeepDream (Mordvintsev et al. 2015) on the pixels of
an image, with any feature network of restora.features.

Images are float32 (3, H, W) in [0, 1] (gray images are repeated to 3 channels by ``as_rgb``).

Style transfer minimises ``content_weight * Lc + style_weight * Ls`` over the image, starting from
the content image (or noise), with L-BFGS, coarse to fine (a few sizes, each doubling the last):
- Lc = ||F(x) - F(c)||^2 / ||F(c)||^2 on the content layer's features F;
- Ls = the mean over the style layers of ||G(x) - G(s)||^2 / ||G(s)||^2, G the Gram matrix of a
  layer's features (C, C), divided by its number of positions.
Each term is relative to the size of its target, so the weights mean the same with every network.
Pixels stay free during the optimisation (a penalty keeps them near [0, 1]) and are clipped at the end.

DeepDream raises the mean square of one layer's activations by gradient ascent: the image is
shrunk into ``octaves`` levels (each ``octave_scale`` times smaller), the smallest is dreamed first,
and the detail it gained is enlarged and added to the next level. Each step shifts the image by a
random jitter, and moves it by ``step_size`` times the gradient divided by its mean absolute value.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from restora.features import FeatureNet

JITTER = 16  # largest random shift of a dream step, pixels
OUT_OF_RANGE = 100.0  # weight of the mean square excursion of pixels outside [0, 1] (style transfer)
LINE_SEARCH_EVALS = 5  # most losses and gradients an L-BFGS step may take (torch: 1 with max_iter=1, which stalls)


def as_rgb(x: torch.Tensor) -> torch.Tensor:
    """(1 or 3, H, W) -> (3, H, W)."""
    return x.expand(3, -1, -1).contiguous() if x.shape[0] == 1 else x


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(C, H, W) -> (C, *size), bilinear, antialiased when shrinking."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x[None], size=size, mode="bilinear", antialias=True, align_corners=False)[0]


def fit_long_side(x: torch.Tensor, side: int) -> torch.Tensor:
    """(C, H, W) -> (C, h, w) with max(h, w) = side, aspect kept."""
    h, w = x.shape[-2:]
    f = side / max(h, w)
    return resize(x, (max(1, round(h * f)), max(1, round(w * f))))


def gram(f: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) features -> (N, C, C) Gram matrices divided by H * W."""
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (h * w)


class StyleLoss:
    """The two loss terms for a content and a style image (each (3, H, W) in [0, 1]; sizes may differ)."""

    def __init__(self, net: FeatureNet, content: torch.Tensor, style: torch.Tensor,
                 content_layer: str | None = None, style_layers: list[str] | None = None):
        self.net = net
        self.content_layer = content_layer or net.content_layer
        self.style_layers = list(style_layers or net.style_layers)
        net.check([self.content_layer, *self.style_layers])
        with torch.no_grad():
            self.content_target = net(content[None], [self.content_layer])[self.content_layer]
            self.style_targets = {k: gram(v) for k, v in net(style[None], self.style_layers).items()}

    def __call__(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (3, H, W) -> (content loss, style loss), scalars >= 0 (0: the target exactly)."""
        feats = self.net(x[None], [self.content_layer, *self.style_layers])
        t = self.content_target
        content = (feats[self.content_layer] - t).pow(2).sum() / t.pow(2).sum().clamp_min(1e-12)
        style = sum((gram(feats[k]) - g).pow(2).sum() / g.pow(2).sum().clamp_min(1e-12)
                    for k, g in self.style_targets.items()) / len(self.style_targets)
        return content, style


def style_transfer(content: torch.Tensor, style: torch.Tensor, net: FeatureNet, steps: int = 50,
                   content_weight: float = 1.0, style_weight: float = 10.0, levels: int = 3,
                   init: str = "content", seed: int = 0, content_layer: str | None = None,
                   style_layers: list[str] | None = None,
                   callback: Callable[[int, float], None] | None = None) -> torch.Tensor:
    """content (3, H, W), style (3, h, w) in [0, 1] -> the stylised image (3, H, W) in [0, 1].

    Coarse to fine over ``levels`` sizes (H / 2**(levels - 1) ... H; the style image shrunk by the
    same factors), each level starting from the last one's result enlarged: ``steps`` L-BFGS
    iterations per level (strong-Wolfe line search: one loss and gradient each, sometimes more).
    Pixels outside [0, 1] are penalised, not clipped, until the end. ``init``: "content" starts from
    the content image, "noise" from uniform noise drawn from ``seed``. The layers default to the
    network's. ``callback(step, loss)`` after each step (counting on over the levels)."""
    x, done = None, 0
    for level in reversed(range(levels)):
        f = 2**-level
        size = (max(1, round(content.shape[1] * f)), max(1, round(content.shape[2] * f)))
        c = resize(content, size)
        s = resize(style, (max(1, round(style.shape[1] * f)), max(1, round(style.shape[2] * f))))
        if x is not None:
            x = resize(x, size)
        elif init == "noise":
            x = torch.rand(c.shape, generator=torch.Generator().manual_seed(seed))
        else:
            x = c.clone()
        x = _optimise(x, StyleLoss(net, c, s, content_layer, style_layers), steps, content_weight, style_weight,
                      lambda step, loss: callback(done + step, loss) if callback else None)
        done += steps
    return x.clamp(0, 1)


def _optimise(x: torch.Tensor, loss_fn: StyleLoss, steps: int, content_weight: float, style_weight: float,
              callback: Callable[[int, float], None]) -> torch.Tensor:
    """``steps`` L-BFGS iterations on the pixels of x (3, H, W), starting from x; returns them unclipped."""
    x = x.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=1, max_eval=LINE_SEARCH_EVALS, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=0.0, tolerance_change=0.0)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        c, s = loss_fn(x)
        outside = F.relu(x - 1).pow(2).mean() + F.relu(-x).pow(2).mean()
        loss = content_weight * c + style_weight * s + OUT_OF_RANGE * outside
        loss.backward()
        return loss

    for step in range(1, steps + 1):
        loss = opt.step(closure)
        callback(step, float(loss.detach()))
    return x.detach()


def activation(net: FeatureNet, x: torch.Tensor, layer: str) -> torch.Tensor:
    """x (3, H, W) in [0, 1] -> the mean square of ``layer``'s activations (scalar, with graph)."""
    return net(x[None], [layer])[layer].pow(2).mean()


def dream(image: torch.Tensor, net: FeatureNet, layer: str | None = None, octaves: int = 4,
          octave_scale: float = 1.4, steps: int = 10, step_size: float = 0.01, seed: int = 0,
          callback: Callable[[int, int, torch.Tensor | None], None] | None = None) -> torch.Tensor:
    """image (3, H, W) in [0, 1] -> the dreamed image (3, H, W) in [0, 1].

    ``octaves`` levels, the smallest of side / octave_scale**(octaves - 1); ``steps`` gradient
    steps on each. ``callback(octave, step, x)`` after each step, with x (3, h, w) the finished
    level after its last step, else None."""
    layer = layer or net.dream_layer
    net.check([layer])
    gen = torch.Generator().manual_seed(seed)
    h, w = image.shape[-2:]
    sizes = [(max(1, round(h / octave_scale**k)), max(1, round(w / octave_scale**k)))
             for k in reversed(range(octaves))]
    detail = torch.zeros(3, *sizes[0])
    x = image
    for octave, size in enumerate(sizes, 1):
        base = resize(image, size)
        x = (base + resize(detail, size)).clamp(0, 1)
        for step in range(1, steps + 1):
            jitter = min(JITTER, min(size) // 4)
            dy, dx = (int(v) for v in torch.randint(-jitter, jitter + 1, (2,), generator=gen))
            shifted = torch.roll(x, (dy, dx), (1, 2)).requires_grad_(True)
            (grad,) = torch.autograd.grad(activation(net, shifted, layer), shifted)
            shifted = shifted.detach() + step_size * grad / grad.abs().mean().clamp_min(1e-12)
            x = torch.roll(shifted, (-dy, -dx), (1, 2)).clamp(0, 1)
            if callback:
                callback(octave, step, x if step == steps else None)
        detail = x - base
    return x
