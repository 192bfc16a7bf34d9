"""The model zoo: weights shipped inside the package (safetensors) and their cards.

A weight file stores the architecture name and its keyword arguments in its metadata, so
``load_net`` rebuilds the network from the registry and loads tensors without running code.
``zoo/models.json`` lists the shipped models: name, file, task, card and how to call them.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from safetensors import safe_open

from restora.errors import RestoraError
from restora.io.atomic import atomic_path
from restora.nets import build_net

ZOO_DIR = Path(__file__).parent


def save_weights(net: torch.nn.Module, path: str | Path, arch: str, kwargs: dict[str, Any],
                 extra: dict[str, str] | None = None, half: bool = False) -> Path:
    """Write ``net``'s state dict as safetensors with arch/kwargs metadata (atomically)."""
    path = Path(path)
    state = {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().contiguous()
             for k, v in net.state_dict().items()}
    meta = {"arch": arch, "kwargs": json.dumps(kwargs), **(extra or {})}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_net(path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild the network named in the file's metadata and load its weights (eval mode, float32)."""
    path = Path(path)
    if not path.is_file():
        raise RestoraError(f"{path}: no such weight file")
    try:
        meta = read_metadata(path)
        net = build_net(meta["arch"], **json.loads(meta["kwargs"]))
        state = {k: v.float() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
        net.load_state_dict(state)
    except (KeyError, OSError, RuntimeError, ValueError) as exc:
        raise RestoraError(f"{path}: not a restora weight file ({exc})") from None
    return net.to(device).eval()


@lru_cache(maxsize=1)
def shipped_models() -> list[dict[str, Any]]:
    """Entries of zoo/models.json (empty when no model is shipped)."""
    index = ZOO_DIR / "models.json"
    return json.loads(index.read_text()) if index.is_file() else []


@lru_cache(maxsize=16)
def load_shipped(name: str) -> torch.nn.Module:
    for entry in shipped_models():
        if entry["name"] == name:
            return load_net(ZOO_DIR / "weights" / entry["file"])
    raise RestoraError(f"unknown model '{name}' (see `restora models`)")
