"""The training engine and its recipes (see configs/)."""
from restora.train.engine import Trainer, train
from restora.train.recipe import Recipe, apply_overrides, load_recipe, parse_recipe

__all__ = ["Trainer", "train", "Recipe", "load_recipe", "parse_recipe", "apply_overrides"]
