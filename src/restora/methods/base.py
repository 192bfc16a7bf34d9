"""One interface for every restorer, and the registry that collects them.

A restorer is a small class with ``task``, ``name``, ``kind`` and ``options`` and one method,
``restore(x, **inputs)``, working on a float tensor (C, H, W) in [0, 1] with C = 1 or 3.
``__call__`` lifts that to :class:`restora.io.Image` (alpha carried through, resized with the
image where sizes change). Classical methods register their class with :func:`register`; methods
made from data (the learned ones, one per model family of the active zoo) come from a provider
function registered with :func:`register_provider`. Lookups are in :mod:`restora.methods.registry`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from restora.degrade import imresize
from restora.errors import RestoraError
from restora.io import Image


@dataclass(frozen=True)
class Option:
    """A method option (or a task input) as the CLI, the web page and the API take it."""

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None

    def check(self, value: Any) -> Any:
        """``value`` (text from the CLI, JSON from the web, a Python value) converted to ``type`` and
        range-checked; RestoraError naming the option otherwise."""
        if self.type is bool and isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise RestoraError(f"option {self.name}={value} is not true/false")
            return value.lower() in ("1", "true", "yes", "on")
        if self.type is int and isinstance(value, float) and not value.is_integer():
            raise RestoraError(f"option {self.name}={value} is not a whole number")
        try:
            value = self.type(value)
        except (TypeError, ValueError):
            raise RestoraError(f"option {self.name}={value!r} is not a {self.type.__name__}") from None
        if self.type is float and value != value:
            raise RestoraError(f"option {self.name} is not a number")
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise RestoraError(f"option {self.name}={value} is outside [{self.low}, {self.high}]")
        return value

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type.__name__, "default": self.default, "help": self.help,
                "low": self.low, "high": self.high}


STRENGTH = Option("strength", float, 1.0, "how much of the restoration to apply: 0 gives back the input "
                  "(an upscaler's: its bicubic enlargement), 1 the full restoration, between them a mix", 0, 1)


def blend(restored: torch.Tensor, baseline: torch.Tensor, strength: float) -> torch.Tensor:
    """``baseline + strength * (restored - baseline)`` (the STRENGTH option); ``restored`` itself at 1."""
    return restored if strength >= 1 else baseline + strength * (restored - baseline)


class Restorer:
    """Base class. Subclasses set the class attributes and implement :meth:`restore`."""

    task: ClassVar[str]
    name: ClassVar[str]
    kind: ClassVar[str] = "classical"
    summary: ClassVar[str] = ""
    options: ClassVar[tuple[Option, ...]] = ()
    priority: ClassVar[int] = 0

    def restore(self, x: torch.Tensor, **inputs) -> torch.Tensor:
        """x: (C, H, W) float32 in [0, 1] -> restored (C, H', W') float32 in [0, 1]."""
        raise NotImplementedError

    @classmethod
    def serves(cls, given: dict[str, Any]) -> bool:
        """Whether the method can run on the task inputs ``given`` (as typed; None where absent): the
        task's default method is the best one that can."""
        return True

    def check_options(self, given: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults, convert and range-check; unknown names are an error."""
        known = {o.name: o for o in self.options}
        unknown = set(given) - set(known)
        if unknown:
            raise RestoraError(f"method '{self.name}' has no option {', '.join(sorted(unknown))} "
                               f"(it takes: {', '.join(known) or 'none'})")
        return {name: opt.check(given.get(name, opt.default)) for name, opt in known.items()
                if given.get(name, opt.default) is not None}

    def __call__(self, image: Image, quantise: bool = False, **inputs) -> Image:
        """Restore an :class:`Image`; alpha is kept, or bicubic-resized when the size changes.
        ``quantise``: the caller writes the result, so its samples may come as the integers written
        (see Image): a method that makes a large result in bands does so (Upscaler.__call__)."""
        out = self.restore(image.data, **inputs)  # with_data clips it (without a copy when within [0, 1])
        alpha = image.alpha
        if alpha is not None and alpha.shape[1:] != out.shape[1:]:
            alpha = imresize(alpha, size=tuple(out.shape[1:])).clamp(0, 1)
        return image.with_data(out, alpha)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"task": cls.task, "name": cls.name, "kind": cls.kind, "summary": cls.summary,
                "options": [o.describe() for o in cls.options]}


Provider = Callable[[], list[type[Restorer]]]
_CLASSES: list[type[Restorer]] = []
_PROVIDERS: list[Provider] = []


def register(cls: type[Restorer]) -> type[Restorer]:
    """Class decorator: make the restorer ``cls`` available under (cls.task, cls.name)."""
    _CLASSES.append(cls)
    return cls


def register_provider(provider: Provider) -> Provider:
    """Register a function that returns restorer classes made from data (asked on every lookup)."""
    _PROVIDERS.append(provider)
    return provider


def registered() -> dict[tuple[str, str], type[Restorer]]:
    """Every registered restorer by (task, name); a provider's class replaces a class of the same key."""
    classes = _CLASSES + [cls for provider in _PROVIDERS for cls in provider()]
    return {(cls.task, cls.name): cls for cls in classes}


def unregister(cls: type[Restorer]) -> None:
    """Withdraw a class registered with :func:`register` (e.g. a plug-in unloaded)."""
    _CLASSES.remove(cls)
