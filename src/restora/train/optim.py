"""The losses, optimisers and learning-rate schedules recipes name, and the one gradient step every
objective takes. The recipe parser (restora.train.recipe) accepts exactly the names defined here."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from restora.train.recipe import OptimizerSpec, ScheduleSpec

LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "l1": F.l1_loss,
    "l2": F.mse_loss,
    "charbonnier": lambda a, b: torch.sqrt((a - b) ** 2 + 1e-6).mean(),
}

OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": lambda params, s: torch.optim.Adam(params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay),
    "adamw": lambda params, s: torch.optim.AdamW(params, lr=s.lr, betas=s.betas, weight_decay=s.weight_decay),
    "sgd": lambda params, s: torch.optim.SGD(params, lr=s.lr, momentum=s.momentum, weight_decay=s.weight_decay),
    "rmsprop": lambda params, s: torch.optim.RMSprop(params, lr=s.lr, momentum=s.momentum,
                                                     weight_decay=s.weight_decay),
}


def _cosine(spec: ScheduleSpec, lr: float, steps: int) -> Callable[[int], float]:
    floor = spec.min_lr / lr
    return lambda s: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps))


def _step(spec: ScheduleSpec, lr: float, steps: int) -> Callable[[int], float]:
    marks = [int(m * steps) if m < 1 else int(m) for m in spec.milestones]
    return lambda s: spec.gamma ** sum(s >= m for m in marks)


def _constant(spec: ScheduleSpec, lr: float, steps: int) -> Callable[[int], float]:
    return lambda s: 1.0


# name -> (schedule, base learning rate, steps) -> the factor on the base rate at each step
SCHEDULES = {"cosine": _cosine, "step": _step, "constant": _constant}


def make_optimizer(params, spec: OptimizerSpec) -> torch.optim.Optimizer:
    """The optimiser a recipe's ``optimizer`` section names, over ``params``."""
    return OPTIMIZERS[spec.name](params, spec)


def make_scheduler(opt: torch.optim.Optimizer, spec: ScheduleSpec, steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """The schedule a recipe's ``schedule`` section names over ``steps``, after a linear warmup of
    ``warmup`` steps; milestones below 1 are fractions of ``steps``."""
    decay = SCHEDULES[spec.name](spec, opt.param_groups[0]["lr"], steps)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: decay(s) * min(1.0, (s + 1) / (spec.warmup + 1)))


def optimizer_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """One gradient step of ``optimizer`` on ``loss`` (only its own parameters move)."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
