"""Optimisers from recipe specs, and the one gradient step every objective takes."""
from __future__ import annotations

from typing import Any

import torch

from restora.errors import RestoraError


def make_optimizer(params, spec: dict[str, Any]) -> torch.optim.Optimizer:
    """``{name: adam|adamw|sgd|rmsprop, lr, weight_decay, betas, momentum}``."""
    name = spec.get("name", "adam").lower()
    lr = float(spec.get("lr", 1e-3))
    wd = float(spec.get("weight_decay", 0))
    if name in ("adam", "adamw"):
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        return cls(params, lr=lr, betas=tuple(spec.get("betas", (0.9, 0.999))), weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=float(spec.get("momentum", 0.9)), weight_decay=wd)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=float(spec.get("momentum", 0)), weight_decay=wd)
    raise RestoraError(f"recipe: unknown optimizer '{name}' (adam, adamw, sgd, rmsprop)")


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One gradient step of ``optimizer`` on ``loss`` (only its own parameters move)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
