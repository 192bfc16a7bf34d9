"""Training recipes: YAML files with ``--set key.sub=value`` overrides."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from restora.errors import RestoraError


def load_recipe(path: str | Path, overrides: list[str] = ()) -> dict[str, Any]:
    """Read a YAML recipe and apply ``key.sub=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    try:
        recipe = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RestoraError(f"{path}: no such recipe") from None
    except yaml.YAMLError as exc:
        raise RestoraError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(recipe, dict):
        raise RestoraError(f"{path}: a recipe must be a YAML mapping")
    return apply_overrides(recipe, overrides)


def apply_overrides(recipe: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    recipe = copy.deepcopy(recipe)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RestoraError(f"--set '{item}': expected key=value")
        node = recipe
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RestoraError(f"--set '{item}': '{part}' is not a section")
        node[leaf] = yaml.safe_load(value)
    return recipe


def require(section: dict[str, Any], key: str, where: str) -> Any:
    if key not in section:
        raise RestoraError(f"recipe: '{where}.{key}' is missing")
    return section[key]
