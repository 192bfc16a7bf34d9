"""Semantic inpainting with a GAN prior (Yeh et al., CVPR 2017) on the shipped face DCGAN.

The face is brought to the generator's 64x64 frame (restora.faces: a centred square of 72%
of the width, or ``box``), then a batch of latent codes z is optimised with Adam for

    contextual loss  sum_i W_i |G(z)_i - y_i|   (known pixels i, W_i = fraction of missing pixels
                                                  in i's 7x7 neighbourhood)
    + lam * prior loss  log(1 - D(G(z)))

from ``starts`` random z in parallel; the z with the lowest loss wins. Its pixels are Poisson-
blended into the hole (OpenCV seamlessClone; the domain is the hole grown by BLEND_MARGIN pixels)
or, with ``blend=false``, pasted into the hole; the frame is mapped back to the image at its own
resolution. Only pixels within BLEND_REACH frame pixels of the hole change, that is
:func:`blend_band` image pixels (none with ``blend=false``); every other pixel is returned
bit for bit. Parts of the hole outside the frame are filled by Telea. The discriminator is the zoo
entry ``<model>-discriminator``.

It is made for aligned face crops (the generator learnt CelebA's aligned faces, 178x218 or
89x109): without ``box``, an image whose height/width ratio is outside FACE_RATIO or whose width
is outside FACE_WIDTH gets a note saying so (on any other photo it still paints a face-like
fill). The optimisation runs its small batches on one thread (:func:`one_thread`; with two
threads it was 1.3 s a step against 0.035 s on the 2-core development machine under load) and
reports each step to restora.reporting.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from restora import reporting
from restora.degrade import imresize
from restora.errors import RestoraError
from restora.methods.base import Option, register
from restora.methods.classical import Telea, from_hwc, to_uint8_hwc
from restora.methods.tasks import Inpainter
from restora.faces import FRAME, face_box, to_frame
from restora.zoo import load_shipped

NEIGHBOURHOOD = 7
BLEND_MARGIN = 2  # known pixels around the hole inside the Poisson domain (its boundary lies beyond them)
CLONE_EROSION = 3  # OpenCV's seamlessClone erodes its mask by 3 pixels before solving
BLEND_REACH = BLEND_MARGIN + CLONE_EROSION  # frame pixels this far from the hole may change, no farther
LEARNING_RATE = 0.03
FACE_RATIO = (1.0, 1.5)  # height / width of an aligned face crop (CelebA: 218 / 178 = 1.22)
FACE_WIDTH = (64, 400)  # its width in pixels (CelebA: 178, or 89 at half size)


def blend_band(side: int, blend: bool = True) -> int:
    """Image pixels around the hole that may change for a face frame of ``side`` image pixels:
    BLEND_REACH frame pixels, each side / 64 image pixels (rounded up); 0 without blending."""
    return math.ceil(BLEND_REACH * side / FRAME) if blend else 0


def looks_like_face_crop(height: int, width: int) -> bool:
    """Whether an image's shape is that of an aligned face crop (FACE_RATIO, FACE_WIDTH)."""
    return FACE_RATIO[0] <= height / width <= FACE_RATIO[1] and FACE_WIDTH[0] <= width <= FACE_WIDTH[1]


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread inside the block (the previous count restored after)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def context_weights(known: torch.Tensor) -> torch.Tensor:
    """known (1, 1, h, w) in {0, 1} -> W (1, 1, h, w): for known pixels, the fraction of missing
    pixels in their 7x7 neighbourhood (image borders excluded from the count); 0 in the hole."""
    missing = F.avg_pool2d(1 - known, NEIGHBOURHOOD, stride=1, padding=NEIGHBOURHOOD // 2, count_include_pad=False)
    return known * missing


def search_z(generator: torch.nn.Module, discriminator: torch.nn.Module, target: torch.Tensor,
             known: torch.Tensor, iterations: int, starts: int, lam: float, seed: int) -> torch.Tensor:
    """Optimise ``starts`` latent codes for the contextual + lam * prior loss; returns the best G(z)
    (1, 3, 64, 64) in [-1, 1]. target (1, 3, 64, 64) in [-1, 1]; known (1, 1, 64, 64) in {0, 1}."""
    weights = context_weights(known)
    z = torch.randn(starts, generator.latent, generator=torch.Generator().manual_seed(seed)).requires_grad_()
    opt = torch.optim.Adam([z], lr=LEARNING_RATE)
    for step in range(1, iterations + 1):
        loss = _losses(generator, discriminator, z, target, weights, lam)
        opt.zero_grad(set_to_none=True)
        loss.sum().backward(inputs=[z])  # the networks stay frozen: no gradients for their weights
        opt.step()
        reporting.progress(step, iterations, "steps")
    with torch.no_grad():
        best = int(_losses(generator, discriminator, z, target, weights, lam).argmin())
        return generator(z[best:best + 1])


def _losses(generator, discriminator, z, target, weights, lam) -> torch.Tensor:
    """Per-start loss (starts,): weighted L1 to the known pixels + lam * log(1 - D(G(z)))."""
    fake = generator(z)
    contextual = (weights * (fake - target).abs()).flatten(1).sum(1)
    prior = -F.softplus(discriminator(fake))  # log(1 - sigmoid(logit))
    return contextual + lam * prior


def poisson_blend(generated: torch.Tensor, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Seamless-clone ``generated`` into ``image`` over ``hole`` (OpenCV NORMAL_CLONE, same position):
    the Poisson domain is the hole grown by BLEND_MARGIN, so its boundary values are known pixels of
    ``image``; pixels farther than BLEND_REACH from the hole are unchanged. (3, h, w) in [0, 1] each;
    hole (h, w) bool. Beyond the frame's edge (a padding ring) both images are the generated one, so
    where the hole meets the edge the solution follows the generated pixels instead of the fill."""
    pad = BLEND_REACH + 2
    src = cv2.copyMakeBorder(to_uint8_hwc(generated), pad, pad, pad, pad, cv2.BORDER_REFLECT)
    dst = src.copy()
    dst[pad:-pad, pad:-pad] = to_uint8_hwc(image)
    padded_hole = torch.from_numpy(np.pad(hole.numpy(), pad, mode="reflect"))
    mask = grow(padded_hole, BLEND_REACH).numpy().astype(np.uint8) * 255
    x, y, w, h = cv2.boundingRect(mask)
    out = cv2.seamlessClone(src, dst, mask, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    return from_hwc(out[pad:-pad, pad:-pad].astype(np.float32) / 255)


def grow(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Binary dilation of a (h, w) or (1, h, w) mask by a (2p+1)-pixel square; same shape, bool."""
    return F.max_pool2d(mask.float()[None], 2 * pixels + 1, stride=1, padding=pixels)[0] > 0


def parse_box(text: str, height: int, width: int) -> tuple[int, int, int]:
    """``"top,left,side"`` in image pixels -> a box checked to lie inside the image."""
    try:
        top, left, side = (int(v) for v in text.split(","))
    except ValueError:
        raise RestoraError(f"box '{text}' is not top,left,side in pixels") from None
    if side < 8 or top < 0 or left < 0 or top + side > height or left + side > width:
        raise RestoraError(f"box {text} does not fit in the {width}x{height} image")
    return top, left, side


@register
class GANPrior(Inpainter):
    name = "gan-prior"
    kind = "learned"
    summary = ("For aligned face crops (CelebA-like, e.g. 178x218): semantic inpainting with the DCGAN face prior "
               "(Yeh et al. 2017), Poisson-blended")
    keeps_known = False  # Poisson blending adjusts the known pixels next to the hole
    options = (
        Option("iterations", int, 100, "Adam steps on z (the paper: about 1500; on the shipped faces model "
                                       "PSNR stops improving after about 100)", 1, 10000),
        Option("starts", int, 8, "random z optimised in parallel; the best is kept", 1, 256),
        Option("lam", float, 0.003, "weight of the discriminator's prior loss", 0.0, 10.0),
        Option("blend", bool, True, "Poisson-blend into the hole, changing known pixels up to 5 frame pixels "
                                    "(5 x side/64 image pixels) away (else paste the generated pixels)"),
        Option("seed", int, 0, "seed of the random starts", 0, 2**31 - 1),
        Option("box", str, None, "face frame as top,left,side in pixels (default: centred square, 72% of "
                                 "the width, as on an aligned face crop)"),
        Option("model", str, "dcgan-faces", "shipped generator (its discriminator: <model>-discriminator)"),
    )

    def inpaint(self, x, mask, iterations=100, starts=8, lam=0.003, blend=True, seed=0, box=None,
                model="dcgan-faces"):
        height, width = x.shape[1:]
        if not box and not looks_like_face_crop(height, width):
            reporting.note(f"gan-prior paints faces into aligned face crops (such as CelebA's 178x218); this "
                           f"{width}x{height} image is not shaped like one, so expect a face-like fill "
                           "(give box=top,left,side where a face is)")
        top, left, side = parse_box(box, height, width) if box else face_box(height, width)
        out = x.expand(3, -1, -1).clone()
        window = (slice(None), slice(top, top + side), slice(left, left + side))
        hole = to_frame(mask, (top, left, side)) > 0
        if hole.any():
            generator, discriminator = load_shipped(model), load_shipped(f"{model}-discriminator")
            frame = to_frame(out, (top, left, side))
            with torch.enable_grad(), one_thread():
                fake = search_z(generator, discriminator, frame[None] * 2 - 1, (~hole).float()[None], iterations,
                                starts, lam, seed)
            filled = ((fake[0] + 1) / 2).clamp(0, 1)
            if blend:
                filled = poisson_blend(filled, frame, hole[0])
            if side != FRAME:  # back to the image's resolution
                filled = imresize(filled, size=(side, side)).clamp(0, 1)
            region = grow(mask[window] > 0.5, blend_band(side, blend))[0]
            out[window][:, region] = filled[:, region]
        outside = mask.clone()
        outside[window] = 0
        if outside.any():  # holes beyond the face frame
            out = torch.where(outside > 0, Telea().inpaint(out, outside), out)
        if x.shape[0] == 3:
            return out
        changed = grow(mask > 0.5, blend_band(side, blend))  # elsewhere x itself: a mean of 3 copies may round
        return torch.where(changed, out.mean(0, keepdim=True), x)
