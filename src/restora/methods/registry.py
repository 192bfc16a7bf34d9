"""Looking up restorers: by task and name, the task's default, and every method described.

For each task the registered method with the highest ``priority`` is the default.
"""
from __future__ import annotations

from typing import Any

from restora.errors import RestoraError
from restora.methods.base import Restorer, registered
from restora.methods.tasks import TASKS


def _task_methods(task: str) -> dict[str, type[Restorer]]:
    if task not in TASKS:
        raise RestoraError(f"unknown task '{task}' (use one of {', '.join(TASKS)})")
    return {name: cls for (t, name), cls in registered().items() if t == task}


def default_method(task: str, given: dict[str, Any] | None = None) -> str:
    """The name of the task's highest-priority method (of those that serve the task inputs ``given``,
    when given: a deblurrer without a kernel is a blind one); RestoraError when it has none (an empty
    zoo)."""
    methods = _task_methods(task)
    if not methods:
        raise RestoraError(f"no {task} method is available (its models are not in the active zoo)")
    serving = [c for c in methods.values() if given is None or c.serves(given)] or list(methods.values())
    return max(serving, key=lambda c: c.priority).name


def get_method(task: str, name: str | None = None, given: dict[str, Any] | None = None) -> Restorer:
    """An instance of the named method for ``task`` (when ``name`` is None, the task's default for
    the inputs ``given``)."""
    methods = _task_methods(task)
    name = name or default_method(task, given)
    if name not in methods:
        raise RestoraError(f"unknown {task} method '{name}' (available: {', '.join(sorted(methods))})")
    return methods[name]()


def list_methods(task: str | None = None) -> list[dict[str, Any]]:
    """Every registered method as a dict (task, name, kind, default, summary, options), each task's
    methods by falling priority."""
    rows = []
    for t in TASKS if task is None else (task,):
        methods = _task_methods(t)
        default = default_method(t) if methods else None
        for name, cls in sorted(methods.items(), key=lambda kv: (-kv[1].priority, kv[0])):
            rows.append({**cls.describe(), "default": name == default})
    return rows
