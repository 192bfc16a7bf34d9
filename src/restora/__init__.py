"""restora: deep-learning image restoration.

The Python API in one screen::

    import restora
    image = restora.read_image("photo.png")
    clean = restora.denoise(image, sigma=25)              # default method of the task
    big = restora.upscale(image, scale=3, method="bicubic")
    filled = restora.inpaint(image, mask="center")        # a mask tensor (1, H, W), kind or mask file
    sharp = restora.deblur(image, kernel="gaussian:2")    # a kernel tensor (kh, kw) or a spec; none: blind
    fixed = restora.dejpeg(restora.read_image("photo.jpg"))  # the quality read from the file
    photo = restora.restore(image, scale=2, strength=0.8)  # JPEG repair, denoising, real-world upscaling
    faces = restora.sample("dcgan-faces", n=16, seed=0)   # (16, 3, 64, 64) in [0, 1] from a shipped generator
    restora.write_image(clean, "photo-clean.png")

There is one function per task of the task table (restora.methods.tasks), each also reachable as
``restora.run(task, x, ...)``. Each takes an :class:`Image` or a float tensor (C, H, W) in [0, 1]
and returns the same kind; its keywords are the task's inputs (see the function's signature), then
``method`` and ``seed`` (for generated masks), then the method's options (see ``list_methods()``).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import torch

from restora.errors import RestoraError
from restora.generate import interpolate, sample
from restora.io import Image, read_image, write_image
from restora.methods import TASKS, TaskSpec, get_method, list_methods

ImageLike = Image | torch.Tensor


def run(task: str, x: ImageLike, method: str | None = None, seed: int = 0, **inputs_and_options: Any) -> ImageLike:
    """Restore ``x`` by ``task`` with ``method`` (the task's default when None). Keywords naming a
    task input (sigma, scale, mask, kernel, ...) are resolved as the task table says (a mask kind or
    file, a kernel spec; estimated or defaulted where absent), the rest are the method's options."""
    if task not in TASKS:
        raise RestoraError(f"unknown task '{task}' (use one of {', '.join(TASKS)})")
    spec = TASKS[task]
    names = {i.name for i in spec.inputs}
    options = {k: v for k, v in inputs_and_options.items() if k not in names}
    restorer = get_method(task, method, {k: v for k, v in inputs_and_options.items() if k in names})
    pixels = x.data if isinstance(x, Image) else x
    inputs, _ = spec.resolve({k: v for k, v in inputs_and_options.items() if k in names}, pixels, seed,
                             source=x if isinstance(x, Image) else None)
    if isinstance(x, Image):
        return restorer(x, **inputs, **options)
    return restorer.restore(x, **inputs, **options).clamp(0, 1)


def _task_function(spec: TaskSpec) -> Callable[..., ImageLike]:
    def restore(x: ImageLike, *args: Any, **kwargs: Any) -> ImageLike:
        bound = restore.__signature__.bind(x, *args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        given.update(given.pop("options", {}))
        return run(spec.name, given.pop("x"), **given)

    keyword = inspect.Parameter.POSITIONAL_OR_KEYWORD
    restore.__signature__ = inspect.Signature([
        inspect.Parameter("x", keyword, annotation=ImageLike),
        *[inspect.Parameter(i.name, keyword, default=i.default, annotation=Any) for i in spec.inputs],
        inspect.Parameter("method", keyword, default=None, annotation=str | None),
        *([inspect.Parameter("seed", keyword, default=0, annotation=int)] if any(i.seeded for i in spec.inputs)
          else []),
        inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD, annotation=Any)])
    restore.__name__ = restore.__qualname__ = spec.name
    restore.__doc__ = spec.description + "\n\n" + "\n".join(f"{i.name}: {i.help}" for i in spec.inputs)
    return restore


globals().update({name: _task_function(spec) for name, spec in TASKS.items()})

__all__ = ["Image", "RestoraError", "read_image", "write_image", "run", *TASKS, "sample", "interpolate",
           "list_methods", "get_method"]
