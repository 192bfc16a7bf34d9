"""The training engine and its recipes (see configs/)."""
from restora.train.engine import Trainer, train
from restora.train.recipe import apply_overrides, load_recipe

__all__ = ["Trainer", "train", "load_recipe", "apply_overrides"]
