"""What a restorer tells its user while it works: progress of long loops and one-line notes.

A loop calls ``progress(done, total, unit)`` after each step (tiles, optimisation steps); code
that quietly changes what the user asked for (alpha dropped by JPEG, float pixels rescaled, a
method used outside its domain) calls ``note(message)``. The command line and the web queue
install a :class:`Listener` for the duration of a call with ``listening(listener)``; without one,
progress costs nothing and a note is a Python warning (:class:`RestoraWarning`). Listeners are
per thread (a context variable), so concurrent jobs each receive only their own reports.
"""
from __future__ import annotations

import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator


class RestoraWarning(UserWarning):
    """A note made while no listener was installed."""


class Listener:
    """Receives the reports made inside :func:`listening`; override what you show."""

    def progress(self, done: int, total: int, unit: str) -> None:
        """``done`` of ``total`` ``unit`` (e.g. "tiles") of the current loop are finished."""

    def note(self, message: str) -> None:
        """A one-line note for the user (naming the file when there is one)."""
        warnings.warn(message, RestoraWarning, stacklevel=3)


_listener: ContextVar[Listener] = ContextVar("restora_listener", default=Listener())


def progress(done: int, total: int, unit: str) -> None:
    """Report that ``done`` of ``total`` ``unit`` of the current loop are finished."""
    _listener.get().progress(done, total, unit)


def note(message: str) -> None:
    """Tell the user ``message`` (one line)."""
    _listener.get().note(message)


@contextmanager
def listening(listener: Listener) -> Iterator[Listener]:
    """Send the reports made inside the block (in this thread) to ``listener``."""
    token = _listener.set(listener)
    try:
        yield listener
    finally:
        _listener.reset(token)


class _NotesOnly(Listener):
    """Passes notes on to ``outer`` and drops progress."""

    def __init__(self, outer: Listener) -> None:
        self.outer = outer

    def note(self, message: str) -> None:
        self.outer.note(message)


@contextmanager
def inner_loop() -> Iterator[None]:
    """Inside the block progress is not reported (notes are): for the loops inside each step of a
    loop that reports its own progress."""
    with listening(_NotesOnly(_listener.get())):
        yield
