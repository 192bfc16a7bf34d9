"""Discovery for the registries (networks, methods, training objectives): each module of a
package registers what it defines when imported, so importing every module of the package finds
them all, with no hand-written list to keep up to date."""
from __future__ import annotations

import importlib
import pkgutil


def import_submodules(package: str) -> None:
    """Import every module directly inside ``package`` (a dotted name) that is not private."""
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{package}.{module.name}")
