"""The objective registry: training objectives by the name a recipe gives (``objective:``)."""
from __future__ import annotations

from typing import Callable

from restora.errors import RestoraError

_REGISTRY: dict[str, type] = {}


def register_objective(name: str) -> Callable[[type], type]:
    """Class decorator: the objective a recipe names with ``objective: NAME``."""
    def register(cls: type) -> type:
        _REGISTRY[name] = cls
        return cls
    return register


def get_objective(name: str) -> type:
    """The objective class registered as ``name``."""
    if name not in _REGISTRY:
        raise RestoraError(f"recipe: unknown objective '{name}' ({', '.join(sorted(_REGISTRY))})")
    return _REGISTRY[name]
