"""Restorers behind one interface, listed by task (the task table: restora.methods.tasks).

Every module of this package is imported here, so a new method only needs ``@register`` (or a
provider) in its own module.
"""
from restora.methods.base import Option, Restorer, register, register_provider, unregister
from restora.methods.registry import default_method, get_method, list_methods
from restora.methods.tasks import TASKS, Deblurrer, Denoiser, Inpainter, TaskInput, TaskSpec, Upscaler, estimate_sigma
from restora.registry import import_submodules

import_submodules(__name__)

__all__ = ["TASKS", "TaskSpec", "TaskInput", "Option", "Restorer", "register", "register_provider", "unregister",
           "get_method", "list_methods", "default_method", "Denoiser", "Upscaler", "Inpainter", "Deblurrer",
           "estimate_sigma"]
