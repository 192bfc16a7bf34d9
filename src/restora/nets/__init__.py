"""Network architectures, registered by name so recipes and weight files can name them.

``build_net(name, **kwargs)`` makes one; weight files store the name and kwargs in their
metadata (see restora.zoo), so a model is rebuilt without running any stored code.
"""
from __future__ import annotations

from typing import Callable

import torch.nn as nn

from restora.errors import RestoraError

NETS: dict[str, Callable[..., nn.Module]] = {}


def register_net(name: str):
    """Class decorator: ``@register_net("dncnn")``."""
    def wrap(cls):
        NETS[name] = cls
        cls.arch = name
        return cls
    return wrap


def build_net(name: str, **kwargs) -> nn.Module:
    _load_all()
    if name not in NETS:
        raise RestoraError(f"unknown network '{name}' (available: {', '.join(sorted(NETS))})")
    return NETS[name](**kwargs)


def _load_all() -> None:
    from restora.nets import autoencoders, denoise, gan, sr  # noqa: F401


__all__ = ["NETS", "register_net", "build_net"]
