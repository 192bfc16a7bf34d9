"""What a training run optimises. The engine (restora.train.engine) owns the loop, checkpoints,
logs, progress and distribution; an objective owns its networks, optimisers and one step.

An objective is a class built from ``(recipe, device, gen)`` (a restora.train.recipe.Recipe, the
device, the data generator) that has: ``modules`` (name -> nn.Module, all checkpointed),
``optimizers`` (name -> Optimizer, each given a scheduler by the engine), ``train_step(gen) -> dict
of floats``, ``validate() -> dict of floats`` (may be empty), ``export(path, recipe, extra)`` and
optionally ``after_step(step, out_dir)``, called on the writing rank after every step (e.g. to save
samples at epoch ends). Its class attributes tell the recipe parser what it needs: ``defaults``
(recipe values it assumes where a recipe is silent, in recipe form, e.g. ``{"data": {"batch": 64}}``)
and ``requires`` (dotted keys a recipe must state for it, e.g. ``("data.val",)``).

A module of this package registers its objective with ``@register_objective(name)``; recipes pick
one with ``objective:`` (default ``restoration``). get_objective finds every module of the package
by itself: a new objective is a new module, nothing else.
"""
from restora.registry import import_submodules
from restora.train.objectives.registry import get_objective, register_objective

import_submodules(__name__)

__all__ = ["get_objective", "register_objective"]
