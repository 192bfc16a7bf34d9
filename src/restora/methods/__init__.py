"""Restorers behind one interface, listed by task."""
from restora.methods.base import TASKS, Option, Restorer, default_method, get_method, list_methods, register
from restora.methods.tasks import Deblurrer, Denoiser, Inpainter, Upscaler, estimate_sigma

__all__ = ["TASKS", "Option", "Restorer", "register", "get_method", "list_methods", "default_method",
           "Denoiser", "Upscaler", "Inpainter", "Deblurrer", "estimate_sigma"]
