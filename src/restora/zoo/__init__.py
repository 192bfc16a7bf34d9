"""The model zoo: the store of trained weights (safetensors), their index and their cards.

A weight file stores the architecture name and its keyword arguments in its metadata, so
``load_net`` rebuilds the network from the registry and loads tensors without running code.
A zoo is a folder holding ``models.json`` (the index: name, file, task, method, card, how to call
each model), ``weights/NAME.safetensors`` and ``cards/NAME.md``. The active zoo is the one shipped
inside the package, or the folder named by the environment variable ``RESTORA_ZOO`` (a user's own
models, or a test's).
"""
from __future__ import annotations

import json
import os
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from restora.errors import RestoraError
from restora.io.atomic import atomic_path, write_text_atomic
from restora.nets import build_net

PACKAGE_ZOO = Path(__file__).parent


def zoo_root() -> Path:
    """The active zoo folder: ``$RESTORA_ZOO`` when set, else the package's own."""
    return Path(os.environ.get("RESTORA_ZOO") or PACKAGE_ZOO)


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


def shipped_models() -> list[dict[str, Any]]:
    """Entries of the active zoo's models.json (empty when it holds no model)."""
    return _index(zoo_root())


def card_path(entry: dict[str, Any]) -> Path:
    """The model card of an entry of the active zoo."""
    return zoo_root() / "cards" / entry["card"]


def load_shipped(name: str) -> torch.nn.Module:
    """The network of the active zoo's model ``name`` (eval mode; loaded once, then shared)."""
    return _load(zoo_root(), name)


def add_model(weights: Path, entry: dict[str, Any], card: str, root: Path | None = None) -> Path:
    """Put a model into a zoo (default: the active one): copy ``weights`` to weights/<name>.safetensors,
    (re)write its models.json entry and its card text. Returns the card's path."""
    root = root or zoo_root()
    name = entry["name"]
    target = root / "weights" / f"{name}.safetensors"
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(target) as tmp:
        shutil.copyfile(weights, tmp)
    index = [e for e in _read_index(root) if e["name"] != name] + [entry]
    write_text_atomic(root / "models.json", json.dumps(sorted(index, key=lambda e: e["name"]), indent=1) + "\n")
    (root / "cards").mkdir(exist_ok=True)
    write_text_atomic(root / "cards" / entry["card"], card)
    _index.cache_clear()
    _load.cache_clear()
    return root / "cards" / entry["card"]


def _read_index(root: Path) -> list[dict[str, Any]]:
    index = root / "models.json"
    return json.loads(index.read_text()) if index.is_file() else []


@lru_cache(maxsize=8)
def _index(root: Path) -> list[dict[str, Any]]:
    return _read_index(root)


@lru_cache(maxsize=32)
def _load(root: Path, name: str) -> torch.nn.Module:
    for entry in _index(root):
        if entry["name"] == name:
            return load_net(root / "weights" / entry["file"])
    raise RestoraError(f"unknown model '{name}' (see `restora models`)")
