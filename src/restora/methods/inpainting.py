"""Learned inpainting of whole photos with a shipped inpainting network (restora.nets.inpaint).

The network sees the hole's surroundings: the bounding box of the mask grown by a margin of half
its size (at least CONTEXT pixels). When that crop is larger than ``work`` pixels on a side it is
shrunk to it (MATLAB bicubic; the mask by nearest neighbour), filled, and the fill enlarged back;
only the hole's pixels change, at the photo's own resolution outside it. So a photo of any size
costs about as much as its hole's surroundings.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from restora.degrade import imresize
from restora.methods.base import Option
from restora.methods.learned import BACKEND, LearnedMixin, as_channels, learned_base
from restora.methods.tasks import Inpainter

CONTEXT = 32


def hole_window(mask: torch.Tensor) -> tuple[slice, slice]:
    """Rows and columns of the hole's bounding box in ``mask`` (1, H, W), grown by half its size
    (at least CONTEXT pixels) and clipped to the image."""
    rows, cols = mask[0].any(1).nonzero()[:, 0], mask[0].any(0).nonzero()[:, 0]
    (top, bottom), (left, right) = (rows.min(), rows.max() + 1), (cols.min(), cols.max() + 1)
    grow_y = max(CONTEXT, int(bottom - top) // 2)
    grow_x = max(CONTEXT, int(right - left) // 2)
    h, w = mask.shape[1:]
    return (slice(max(0, int(top) - grow_y), min(h, int(bottom) + grow_y)),
            slice(max(0, int(left) - grow_x), min(w, int(right) + grow_x)))


@learned_base
class LearnedInpainter(LearnedMixin, Inpainter):
    options = (Option("work", int, 512, "working resolution: larger hole surroundings are shrunk to this side",
                      64, 4096), BACKEND)

    @torch.no_grad()
    def inpaint(self, x, mask, work=512, backend="auto"):
        if not mask.any():
            return x.clone()
        entry = self.entry_for(x.shape[0])
        net = self.runner(entry, backend)
        rows, cols = hole_window(mask)
        crop, hole = as_channels(x[:, rows, cols], entry["channels"]), mask[:, rows, cols]
        size = crop.shape[1:]
        shrink = max(size) > work
        if shrink:
            small = (max(1, round(size[0] * work / max(size))), max(1, round(size[1] * work / max(size))))
            crop = imresize(crop, size=small).clamp(0, 1)
            hole = (F.interpolate(hole[None], size=small, mode="nearest")[0] > 0.5).float()
        filled = net(crop[None], hole[None])[0].clamp(0, 1)
        if shrink:
            filled = imresize(filled, size=size).clamp(0, 1)
        out = x.clone()
        out[:, rows, cols] = as_channels(filled, x.shape[0])
        return out
