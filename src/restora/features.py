"""Feature networks for style transfer and DeepDream (restora.stylize): named feature maps of an image.

Every network here maps images (N, 3, H, W) in [0, 1] to a dict of feature maps (N, C, h, w),
float32, by layer name, and says which layers style transfer and DeepDream use by default.

- ``vgg19``: torchvision's VGG19 ``features`` (16 3x3 convolutions with ReLU, five 2x2 max-pools),
  built in plain torch and loaded from the user's torchvision weight file (``.pth`` or
  ``.safetensors``, keys ``features.N.weight`` / ``features.N.bias``, ``classifier.*`` ignored);
  inputs normalised with the ImageNet mean and std. Layers ``conv1_1``, ``relu1_1``, ...,
  ``pool5``. A file whose every width is the real one times k/64 (``features.0.weight`` with k
  output channels) loads as a narrower VGG19: the tests use one.
- ``random`` (``restora style``'s default): a multi-scale random-filter network after Ustyuzhaninov
  et al. (2017), "What does it take to generate natural textures?": one convolution layer with random
  filters and a ReLU, applied to an image pyramid instead of using large filters. Level s sees the
  image shrunk by 2**s, so a 5x5 filter there covers 5 * 2**s pixels. Weights are drawn at run time
  from a fixed seed; nothing is shipped. Layers ``scale0`` ... ``scale4``.
- ``dcgan-faces-discriminator`` (``restora dream``'s default): the shipped DCGAN discriminator's
  four stride-2 5x5 convolution stages (trained on 64x64 faces), layers ``d1`` ... ``d4``, after
  each LeakyReLU. Single-layer random filters only dream brighter, more saturated colours (raising
  ReLU(w * x)^2 mostly means more contrast); the discriminator's trained features draw eyes, brows,
  lips and stripes.
"""
from __future__ import annotations

import copy
import pickle
import zipfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from restora.errors import RestoraError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# torchvision's vgg19 "E" configuration: output channels of each 3x3 convolution, "M" a 2x2 max-pool
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
NAMES = ("random", "dcgan-faces-discriminator")  # the built-in networks; anything else is a VGG19 file


class FeatureNet(nn.Module):
    """Base: ``forward(x, layers)``: x (N, 3, H, W) in [0, 1] -> {name: (N, C, h, w)} for each name
    in ``layers``. ``layers``: every name, in order; ``content_layer``, ``style_layers`` and
    ``dream_layer``: the defaults (Gatys et al. 2016's choice for VGG19)."""

    layers: tuple[str, ...] = ()
    content_layer: str = ""
    style_layers: tuple[str, ...] = ()
    dream_layer: str = ""

    def check(self, names: list[str] | tuple[str, ...]) -> None:
        unknown = [n for n in names if n not in self.layers]
        if unknown:
            raise RestoraError(f"no layer '{unknown[0]}' in this feature network (layers: {', '.join(self.layers)})")


class VGG19Features(FeatureNet):
    """torchvision's ``vgg19().features`` (module indices as there, so its weights load as they are),
    channels scaled by ``width`` / 64 (64: the real network)."""

    content_layer = "relu4_2"
    style_layers = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    dream_layer = "relu4_3"

    def __init__(self, width: int = 64):
        super().__init__()
        modules, names, cin, block, conv = [], [], 3, 1, 1
        for v in VGG19_CFG:
            if v == "M":
                modules.append(nn.MaxPool2d(2, 2))
                names.append(f"pool{block}")
                block, conv = block + 1, 1
            else:
                cout = v * width // 64
                modules += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU()]
                names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
                cin, conv = cout, conv + 1
        self.features = nn.Sequential(*modules)
        self.layers = tuple(names)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, layers: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        x = (x - self.mean) / self.std
        last = max(self.layers.index(n) for n in wanted)
        for i, module in enumerate(self.features[:last + 1]):
            x = module(x)
            if self.layers[i] in wanted:
                out[self.layers[i]] = x
        return out


def vgg19_shapes(width: int = 64) -> dict[str, tuple[int, ...]]:
    """The parameter shapes of torchvision's vgg19 features (``features.N.weight`` ... ) at ``width``."""
    return {f"features.{k}": tuple(v.shape) for k, v in VGG19Features(width).features.state_dict().items()}


def load_vgg19(path: str | Path) -> VGG19Features:
    """A torchvision VGG19 weight file (``.pth`` state dict read with weights_only=True, or
    ``.safetensors``) -> VGG19Features (eval mode, float32). RestoraError, one line naming the file,
    when it is missing, not a weight file, or not VGG19 in torchvision's key layout."""
    path = Path(path)
    if not path.is_file():
        raise RestoraError(f"{path}: no such weight file")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and safetensors errors have many types
        if isinstance(exc, pickle.UnpicklingError) and zipfile.is_zipfile(path):
            raise RestoraError(f"{path}: holds pickled objects, not only tensors (save model.state_dict(); "
                               "restora loads weights without running code)") from None
        raise RestoraError(f"{path}: not a readable weight file (neither a torch state dict nor safetensors: "
                           f"{type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RestoraError(f"{path}: not a state dict of tensors (save model.state_dict())")
    first = state.get("features.0.weight")
    if first is None or first.dim() != 4:
        raise RestoraError(f"{path}: not VGG19 in torchvision's layout (no 4-d features.0.weight)")
    width = first.shape[0]
    expected = vgg19_shapes(width)
    missing = [k for k in expected if k not in state]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise RestoraError(f"{path}: not VGG19 in torchvision's layout (missing {missing[0]}{more})")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise RestoraError(f"{path}: {key} has shape {tuple(state[key].shape)}, VGG19 "
                               f"{'' if width == 64 else f'of width {width} '}has {shape}")
    extra = [k for k in state if k.startswith("features.") and k not in expected]
    if extra:
        raise RestoraError(f"{path}: not VGG19 in torchvision's layout (unexpected {extra[0]})")
    net = VGG19Features(width)
    net.features.load_state_dict({k[len("features."):]: state[k].float() for k in expected})
    return net.eval().requires_grad_(False)


def downsample(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N, C, ceil(H / 2), ceil(W / 2)): a 5-tap binomial blur (1 4 6 4 1) / 16 in
    each direction (replicated borders), then every second pixel; smoother than 2x2 averaging, so the
    coarse levels' gradients carry no blocks."""
    k = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=x.dtype, device=x.device) / 16
    c = x.shape[1]
    x = F.pad(x, (2, 2, 2, 2), mode="replicate")
    x = F.conv2d(x, k.view(1, 1, 1, 5).expand(c, 1, 1, 5), stride=(1, 2), groups=c)
    return F.conv2d(x, k.view(1, 1, 5, 1).expand(c, 1, 5, 1), stride=(2, 1), groups=c)


class RandomFeatures(FeatureNet):
    """Multi-scale random filters: level s (0 .. scales-1) is the normalised image (ImageNet mean and
    std) shrunk by 2**s (``downsample``), convolved with ``filters`` random ``kernel`` x ``kernel``
    filters (zero bias, reflect padding) and passed through a ReLU: layer ``scale{s}``,
    (N, filters, ceil(H / 2**s), ceil(W / 2**s)), values >= 0. Filters: N(0, 1) per weight, each
    scaled to unit L2 norm, drawn from ``seed`` (a fresh set per level)."""

    content_layer = "scale1"
    dream_layer = "scale3"

    def __init__(self, scales: int = 5, filters: int = 64, kernel: int = 5, seed: int = 0):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        weights = torch.randn(scales, filters, 3, kernel, kernel, generator=gen)
        weights /= weights.flatten(2).norm(dim=2)[..., None, None, None]
        self.register_buffer("weights", weights)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.layers = tuple(f"scale{s}" for s in range(scales))
        self.style_layers = self.layers

    def forward(self, x: torch.Tensor, layers: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted, out = set(layers), {}
        x = (x - self.mean) / self.std
        pad = self.weights.shape[-1] // 2
        for s, name in enumerate(self.layers[:max(self.layers.index(n) for n in wanted) + 1]):
            if s:
                x = downsample(x)
            if name in wanted:
                mode = "reflect" if min(x.shape[-2:]) > pad else "replicate"
                out[name] = F.relu(F.conv2d(F.pad(x, (pad,) * 4, mode=mode), self.weights[s]))
        return out


class DiscriminatorFeatures(FeatureNet):
    """The shipped DCGAN face discriminator's convolution stages (restora.nets.gan): inputs mapped to
    [-1, 1] as in its training; layer ``d{k}`` (k = 1..4) has 32 * 2**(k-1) channels at H / 2**k."""

    layers = ("d1", "d2", "d3", "d4")
    content_layer = "d2"
    style_layers = ("d1", "d2", "d3", "d4")
    dream_layer = "d2"

    def __init__(self):
        super().__init__()
        from restora.zoo import load_shipped
        self.body = copy.deepcopy(load_shipped("dcgan-faces-discriminator").body)  # the zoo's copy is shared

    def forward(self, x: torch.Tensor, layers: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
        wanted, out, stage = set(layers), {}, 0
        x = x * 2 - 1
        for module in self.body:
            x = module(x)
            if isinstance(module, nn.LeakyReLU):
                stage += 1
                if f"d{stage}" in wanted:
                    out[f"d{stage}"] = x
                if len(out) == len(wanted):
                    break
        return out


def load_features(spec: str | Path) -> FeatureNet:
    """"random" -> RandomFeatures(); "dcgan-faces-discriminator" -> DiscriminatorFeatures(); anything
    else is a path to a torchvision VGG19 weight file (load_vgg19). Eval mode, no gradients on the
    weights."""
    if str(spec) == "random":
        net: FeatureNet = RandomFeatures()
    elif str(spec) == "dcgan-faces-discriminator":
        net = DiscriminatorFeatures()
    else:
        net = load_vgg19(spec)
    return net.eval().requires_grad_(False)
