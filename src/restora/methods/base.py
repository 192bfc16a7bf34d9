"""One interface for every restorer, and the registry that lists them by task.

A restorer is a small class with ``task``, ``name``, ``kind`` and ``options`` and one method,
``restore(x, **inputs)``, working on a float tensor (C, H, W) in [0, 1] with C = 1 or 3.
``__call__`` lifts that to :class:`restora.io.Image` (alpha carried through, resized with the
image where sizes change). Classical and learned methods register the same way; for each task the
registered method with the highest ``priority`` is the default.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from restora.errors import RestoraError
from restora.io import Image

TASKS = ("denoise", "upscale", "inpaint", "deblur")


@dataclass(frozen=True)
class Option:
    """A method option as the CLI and the web page present it."""

    name: str
    type: type
    default: Any
    help: str
    low: float | None = None
    high: float | None = None

    def check(self, value: Any) -> Any:
        if self.type is bool and isinstance(value, str):
            if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise RestoraError(f"option {self.name}={value} is not true/false")
            return value.lower() in ("1", "true", "yes", "on")
        try:
            value = self.type(value)
        except (TypeError, ValueError):
            raise RestoraError(f"option {self.name}={value!r} is not a {self.type.__name__}") from None
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise RestoraError(f"option {self.name}={value} is outside [{self.low}, {self.high}]")
        return value


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

    def check_options(self, given: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults, convert and range-check; unknown names are an error."""
        known = {o.name: o for o in self.options}
        unknown = set(given) - set(known)
        if unknown:
            raise RestoraError(f"method '{self.name}' has no option {', '.join(sorted(unknown))} "
                               f"(it takes: {', '.join(known) or 'none'})")
        return {name: opt.check(given.get(name, opt.default)) for name, opt in known.items()
                if given.get(name, opt.default) is not None}

    def __call__(self, image: Image, **inputs) -> Image:
        """Restore an :class:`Image`; alpha is kept, or bicubic-resized when the size changes."""
        out = self.restore(image.data, **inputs).clamp(0, 1)
        alpha = image.alpha
        if alpha is not None and alpha.shape[1:] != out.shape[1:]:
            from restora.degrade import imresize

            alpha = imresize(alpha, size=tuple(out.shape[1:])).clamp(0, 1)
        return image.with_data(out, alpha)

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"task": cls.task, "name": cls.name, "kind": cls.kind, "summary": cls.summary,
                "options": [{"name": o.name, "type": o.type.__name__, "default": o.default, "help": o.help,
                             "low": o.low, "high": o.high} for o in cls.options]}


_REGISTRY: dict[tuple[str, str], type[Restorer]] = {}


def register(cls: type[Restorer]) -> type[Restorer]:
    """Class decorator: make ``cls`` available under (task, name)."""
    if cls.task not in TASKS:
        raise ValueError(f"unknown task {cls.task}")
    _REGISTRY[(cls.task, cls.name)] = cls
    return cls


def _load_all() -> None:
    import restora.methods.classical  # noqa: F401  (registers on import)
    import restora.methods.learned  # noqa: F401
    import restora.methods.gan_prior  # noqa: F401


def list_methods(task: str | None = None) -> list[dict[str, Any]]:
    """Every registered method as a dict (task, name, kind, default, summary, options)."""
    _load_all()
    rows = []
    for t in TASKS if task is None else (task,):
        default = default_method(t)
        for (tt, name), cls in sorted(_REGISTRY.items(), key=lambda kv: (kv[0][0], -kv[1].priority, kv[0][1])):
            if tt == t:
                rows.append({**cls.describe(), "default": name == default})
    return rows


def default_method(task: str) -> str:
    _load_all()
    candidates = [cls for (t, _), cls in _REGISTRY.items() if t == task]
    if not candidates:
        raise RestoraError(f"unknown task '{task}' (use one of {', '.join(TASKS)})")
    return max(candidates, key=lambda c: c.priority).name


def get_method(task: str, name: str | None = None) -> Restorer:
    """An instance of the named method for ``task`` (the task's default when ``name`` is None)."""
    _load_all()
    if task not in TASKS:
        raise RestoraError(f"unknown task '{task}' (use one of {', '.join(TASKS)})")
    name = name or default_method(task)
    if (task, name) not in _REGISTRY:
        names = sorted(n for t, n in _REGISTRY if t == task)
        raise RestoraError(f"unknown {task} method '{name}' (available: {', '.join(names)})")
    return _REGISTRY[(task, name)]()
