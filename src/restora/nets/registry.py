"""The network registry: architectures by name, so recipes and weight files can name them."""
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
    """A new network of the registered architecture ``name`` built with ``kwargs``."""
    if name not in NETS:
        raise RestoraError(f"unknown network '{name}' (available: {', '.join(sorted(NETS))})")
    return NETS[name](**kwargs)
