"""Learned restorers, registered from the model zoo (restora/zoo/models.json).

Each zoo entry names its ``method``; a method groups the weights that differ only in what input
they serve (gray or colour, a scale), and picks the right one per image. Inference runs in
overlapping tiles (bounded memory, no seams) and optionally as the x8 ensemble.
"""
from __future__ import annotations

from typing import Any

import torch

from restora.methods.base import Option, register
from restora.methods.tasks import Denoiser
from restora.methods.tiling import run_ensemble, run_tiled
from restora.zoo import load_shipped, shipped_models

RUN_OPTIONS = (
    Option("tile", int, 512, "tile side in input pixels (bounds memory)", 64, 8192),
    Option("overlap", int, 32, "tile overlap margin in input pixels", 0, 256),
    Option("ensemble", bool, False, "average the 8 flips/rotations (slower, slightly better)"),
)


class LearnedMixin:
    """Shared by learned methods: their zoo entries and tiled (and ensembled) inference."""

    kind = "learned"
    entries: tuple[dict[str, Any], ...] = ()

    @staticmethod
    def run(fn, x: torch.Tensor, scale: int, tile: int, overlap: int, ensemble: bool) -> torch.Tensor:
        """x (C, H, W) -> fn applied in tiles (and ensemble) -> (C', H*scale, W*scale)."""
        def tiled(t):
            return run_tiled(fn, t, scale, tile, overlap)
        batch = x[None]
        y = run_ensemble(tiled, batch) if ensemble else tiled(batch)
        return y[0].clamp(0, 1)


class LearnedDenoiser(LearnedMixin, Denoiser):
    options = RUN_OPTIONS

    @torch.no_grad()
    def denoise(self, x, sigma, tile=512, overlap=32, ensemble=False):
        channels = x.shape[0]
        colour = [e for e in self.entries if e["channels"] == channels]
        entry = colour[0] if colour else self.entries[0]
        net = load_shipped(entry["name"])
        level = torch.tensor([sigma / 255])
        x_in = x if entry["channels"] == channels else x.mean(0, keepdim=True).expand(entry["channels"], -1, -1)

        def fn(t):
            return net(t.contiguous(memory_format=torch.channels_last), level)
        y = self.run(fn, x_in, 1, tile, overlap, ensemble)
        return y if y.shape[0] == channels else y.mean(0, keepdim=True)


_BASES = {"denoise": LearnedDenoiser}


def _register_zoo() -> None:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in shipped_models():
        groups.setdefault((entry["task"], entry["method"]), []).append(entry)
    for (task, method), entries in groups.items():
        if task not in _BASES:
            continue
        first = entries[0]
        register(type(method, (_BASES[task],), {
            "name": method, "entries": tuple(entries), "summary": first.get("summary", ""),
            "priority": int(first.get("priority", 10))}))


_register_zoo()
