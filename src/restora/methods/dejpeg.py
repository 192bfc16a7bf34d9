"""Classical JPEG artefact removal: BM3D deblocking with a projection onto the quantisation
constraint set (see :class:`BM3DDeblock`)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from restora.io.jpeg import ijg_table
from restora.methods.base import Option, register
from restora.methods.tasks import DeJPEGer

BLOCK = 8

# BM3D noise level (0-255 scale) per IJG quality, fitted on TRAINING images only (never on the
# Classic5 / McMaster benchmarks) by `python benchmarks/dejpeg.py --fit`: for each quality, the sigma
# maximising the mean PSNR of the whole method (BM3D, then the projection) over the first 6 images
# of denoise/gray/train400 (180x180 gray) compressed at that quality by the dejpeg protocol
# (golden-section search in log sigma over 0.5-60, to about 5 %); the chroma sigma likewise on the
# first 6 images of sr/t91 (colour PNGs cropped to at most 128x128, 4:2:0 JPEG), searched over
# 1-12 times the luma sigma, which is fixed (at q95 it ends at that lower bound). The luma level gains
# 0.9 / 0.7 / 0.6 / 0.5 / 0.5 / 0.5 / 0.6 / 0.4 dB over the JPEG input on those training images at
# q5 / 10 / 20 / 30 / 40 / 60 / 80 / 95. Between the nodes log sigma is interpolated linearly
# against log(IJG scale factor) (a power law: the quantisation steps are the base tables times that
# factor); outside them the end node holds.
SIGMA_LUMA = {5: 36.3, 10: 15.3, 20: 9.0, 30: 7.4, 40: 6.2, 60: 5.5, 80: 4.8, 95: 2.5}
SIGMA_CHROMA = {5: 140.7, 10: 56.2, 20: 21.1, 30: 14.6, 40: 11.6, 60: 7.6, 80: 5.0, 95: 2.6}

BLIND_QUALITY = 50  # the level used blind when the image shows no JPEG quantisation grid
MIN_STEP = 4  # quality estimation judges blocks by their steps this coarse (finer ones are met by chance too often)
DETECTABLE_QUALITY = 90  # above this the IJG tables are too fine to tell a JPEG from an image that never was one
LATTICE_CHECK = 512  # side of the central square on which a JPEG's lattice is checked before projecting
BAND_ROWS = 256  # rows projected at a time (a multiple of 8): bounds the float64 copies of a large image

# JFIF full-range YCbCr (what JPEG codes), RGB and YCbCr on the 0-1 scale, chroma offset 0.5
_TO_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_FROM_YCC = np.linalg.inv(_TO_YCC)


def _dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II (JPEG's FDCT is this in 2-D: C = D @ block @ D.T)."""
    k, n = np.arange(BLOCK)[:, None], np.arange(BLOCK)[None]
    d = np.sqrt(2 / BLOCK) * np.cos(np.pi * (2 * n + 1) * k / (2 * BLOCK))
    d[0] /= np.sqrt(2)
    return d


DCT = _dct_matrix()


def scale_factor(quality: int) -> float:
    """The IJG scale factor (percent of the base tables) at ``quality``: the quantisation steps grow with it."""
    return 5000 / quality if quality < 50 else max(200 - 2 * quality, 1)


def _interpolated(table: dict[int, float], quality: int) -> float:
    qualities = sorted(table, key=scale_factor)  # increasing scale factor: decreasing quality
    xs = np.log([scale_factor(q) for q in qualities])
    return float(np.exp(np.interp(np.log(scale_factor(quality)), xs, np.log([table[q] for q in qualities]))))


def sigma_for(quality: int, chroma: bool = False) -> float:
    """The fitted BM3D noise level (0-255) for a JPEG of ``quality``: luma, or ``chroma``."""
    return _interpolated(SIGMA_CHROMA if chroma else SIGMA_LUMA, quality)


def block_dct(y: torch.Tensor) -> torch.Tensor:
    """y (H, W) on the 0-255 scale, H and W multiples of 8 -> the level-shifted (y - 128) 2-D DCT of
    each 8x8 block, (H/8, W/8, 8, 8), JPEG's coefficient scale (y's dtype)."""
    h, w = y.shape
    d = torch.from_numpy(DCT).to(y.dtype)
    return torch.einsum("ij,ajbk,lk->abil", d, (y - 128).reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK), d)


def block_idct(c: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`block_dct`."""
    nh, nw = c.shape[:2]
    d = torch.from_numpy(DCT).to(c.dtype)
    return torch.einsum("ji,abjk,kl->aibl", d, c, d).reshape(nh * BLOCK, nw * BLOCK) + 128


def qcs_projection(estimate: torch.Tensor, decoded: torch.Tensor, table: np.ndarray) -> torch.Tensor:
    """The projection of ``estimate`` onto the quantisation constraint set of ``decoded`` (both
    (H, W), 0-255 luma; computed in estimate's dtype): every 8x8 block's DCT coefficient moved into
    the interval [Q (k - 1/2), Q (k + 1/2)] of the quantisation index k the decoded coefficient has
    (Q from ``table``, 64 steps in natural order), so the result would compress to the same JPEG
    data. Partial blocks at the bottom and right are filled by repeating the last row and column, as
    the JPEG encoder fills them."""
    h, w = estimate.shape
    padded = F.pad(torch.stack([estimate, decoded.to(estimate.dtype)])[None], (0, -w % BLOCK, 0, -h % BLOCK),
                   mode="replicate")[0]
    q = torch.from_numpy(table.reshape(BLOCK, BLOCK).astype(np.float64)).to(estimate.dtype)
    k = torch.round(block_dct(padded[1]) / q)
    return block_idct(torch.clamp(block_dct(padded[0]), (k - 0.5) * q, (k + 0.5) * q))[:h, :w]


def _lattice_blocks(y: np.ndarray, clipped: np.ndarray | None, max_blocks: int
                    ) -> tuple[np.ndarray, np.ndarray, bool] | None:
    """The 8x8 blocks of a decoded JPEG luma y (H, W, 0-255) that can show its quantisation
    lattice, as (DCT coefficients, pixels, strict), both (B, 8, 8); None when y has no whole block.
    Blocks with a pixel the decoder clipped (``clipped``, (H, W) bool; by default y at 0 or 255) are
    left out, as clipping moves them off the lattice; when that leaves under a quarter of the blocks
    (saturated colour) all are kept and ``strict`` is False. At most ``max_blocks``, evenly spaced."""
    h, w = y.shape
    h, w = h - h % BLOCK, w - w % BLOCK
    if h == 0 or w == 0:
        return None
    clipped = (y <= 0) | (y >= 255) if clipped is None else clipped
    blocks = y[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).transpose(0, 2, 1, 3).reshape(-1, BLOCK, BLOCK)
    kept = ~clipped[:h, :w].reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).any(axis=(1, 3)).reshape(-1)
    strict = kept.mean() >= 0.25
    if strict:
        blocks = blocks[kept]
    blocks = blocks[:: max(1, len(blocks) // max_blocks)].astype(np.float64)
    return DCT @ (blocks - 128) @ DCT.T, blocks, bool(strict)


def _fits_table(c: np.ndarray, blocks: np.ndarray, quality: int, strict: bool) -> bool | None:
    """Whether blocks (pixels, with their DCT coefficients c; see _lattice_blocks) sit on the IJG
    lattice of ``quality``: quantised again with its table and decoded, 80 % of the informative
    blocks come back within one level (not ``strict``: the median block within half a level on
    average). A block is informative when it has a non-zero index at a step of at least MIN_STEP
    (finer steps are met by chance). None when under 8 blocks are informative: too few to judge."""
    q = ijg_table(quality).reshape(BLOCK, BLOCK).astype(np.float64)
    index = np.round(c / q)
    informative = ((index != 0) & (q >= MIN_STEP)).any(axis=(1, 2))
    if informative.sum() < 8:
        return None
    decoded = np.clip(np.round(DCT.T @ (index[informative] * q) @ DCT + 128), 0, 255)
    error = np.abs(decoded - blocks[informative])
    return bool((error.max(axis=(1, 2)) <= 1).mean() >= 0.8 if strict else np.median(error.mean(axis=(1, 2))) <= 0.5)


def estimate_quality(y: np.ndarray, clipped: np.ndarray | None = None, max_blocks: int = 4096) -> int | None:
    """The IJG quality a decoded JPEG luma y (H, W, 0-255 integers, grid at the top left) was
    compressed at, from its 8x8 blocks (quantiser estimation as in Fan and de Queiroz, IEEE TIP
    2003): a decoded JPEG block, quantised again with its own table and decoded, comes back to
    itself within the decoder's rounding; with a coarser table it does not. The answer is the
    coarsest IJG table the blocks fit (:func:`_fits_table`; ``clipped`` and ``max_blocks`` as in
    :func:`_lattice_blocks`). None when no table coarser than DETECTABLE_QUALITY's fits (not a JPEG,
    or not on its grid: a resized or shifted one)."""
    found = _lattice_blocks(y, clipped, max_blocks)
    if found is None:
        return None
    for quality in range(1, DETECTABLE_QUALITY + 1):
        if _fits_table(*found[:2], quality, found[2]):  # None (too few blocks this coarse): finer tables will tell
            return quality
    return None


def on_lattice(y: np.ndarray, quality: int, clipped: np.ndarray | None = None, max_blocks: int = 4096) -> bool:
    """Whether the decoded luma y (H, W, 0-255) sits on the IJG lattice of ``quality`` on its 8x8
    grid (see :func:`_fits_table`): False when it does not, or has too few coarse blocks to tell."""
    found = _lattice_blocks(y, clipped, max_blocks)
    return found is not None and bool(_fits_table(*found[:2], quality, found[2]))


def _luma(x: torch.Tensor) -> torch.Tensor:
    """x (C, H, W) RGB or gray on the 0-1 scale -> its JFIF luma (H, W) on the 0-255 scale (x's dtype)."""
    return (torch.einsum("chw,c->hw", x, torch.from_numpy(_TO_YCC[0]).to(x.dtype)) if x.shape[0] == 3 else x[0]) * 255


def jpeg_consistent(restored: torch.Tensor, decoded: torch.Tensor, quality: int | None) -> torch.Tensor:
    """``restored`` (C, H, W) in [0, 1], a restoration of the JPEG ``decoded`` (C, H, W), with its
    JFIF luma projected onto decoded's quantisation constraint set at IJG ``quality``
    (:func:`qcs_projection`; chroma unchanged: it was subsampled before it was quantised), clipped
    to [0, 1]. ``restored`` itself when the quality is unknown or decoded's luma does not sit on that
    quality's lattice on its 8x8 grid (:func:`on_lattice`, judged on a central LATTICE_CHECK-pixel
    square: a cropped, resized or re-saved JPEG, or a wrong quality), where the projection would pull
    the result back towards the artefacts. Works in bands of BAND_ROWS rows (bounded memory)."""
    if quality is None:
        return restored
    h, w = decoded.shape[1:]
    row, col = (max(0, (side - LATTICE_CHECK) // 2) // BLOCK * BLOCK for side in (h, w))  # on the 8x8 grid
    window = decoded[:, row:row + LATTICE_CHECK, col:col + LATTICE_CHECK].double()
    if not on_lattice(torch.round(_luma(window)).numpy(), quality, ((window <= 0) | (window >= 1)).any(0).numpy()):
        return restored
    table, out = ijg_table(quality), restored.clone()
    for top in range(0, h, BAND_ROWS):
        band = slice(top, top + BAND_ROWS)
        luma, seen = _luma(out[:, band]), torch.round(_luma(decoded[:, band]))  # seen: the decoder's 8-bit luma
        out[:, band] += (qcs_projection(luma, seen, table) - luma) / 255  # a luma change moves R, G and B alike
    return out.clamp_(0, 1)


def _bm3d(z: np.ndarray, sigmas: list[float]) -> np.ndarray:
    """BM3D (the bm3d package, profile 'np') of z (H, W, C) on the 0-1 scale with a noise level
    (0-255) per channel; block matching on the first channel."""
    import bm3d

    if max(sigmas) <= 0:
        return z.copy()
    sigmas = [max(s, 1e-3) / 255 for s in sigmas]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = bm3d.bm3d(z, sigmas if z.shape[2] > 1 else sigmas[0])
    return np.array(np.atleast_3d(out), dtype=np.float64)


@register
class BM3DDeblock(DeJPEGer):
    """BM3D deblocking with a projection onto the quantisation constraint set.

    JPEG's error is the quantisation of each 8x8 block's DCT coefficients; BM3D treats it as
    additive noise whose level follows the quantisation step, which is how the literature uses
    BM3D (and its predecessor, pointwise SA-DCT: Foi, Katkovnik and Egiazarian, IEEE TIP 2007) as
    a JPEG deblocker, and the classical baseline of ARCNN / DnCNN-3's tables. Steps:

    1. BM3D (Dabov et al. 2007; the reference ``bm3d`` package) with the noise level sigma(quality)
       of SIGMA_LUMA, a table fitted on training images (train400; never the benchmarks).
    2. Projection onto the quantisation constraint set (POCS deblocking, Zakhor 1992; Yang,
       Galatsanos and Katsaggelos 1993): each 8x8 block's DCT coefficients of the result are
       clipped into [Q (k - 1/2), Q (k + 1/2)] around the decoded image's quantisation index k,
       with Q the IJG luminance table at the quality (option ``project``). The result is then an image
       that compresses to the same JPEG data, which removes over-smoothing BM3D cannot justify.

    Colour: to JFIF YCbCr (full range, what JPEG codes); BM3D on the three channels together
    (block matching on Y) with the luma level for Y and SIGMA_CHROMA (fitted on T91's colour
    images) for the 4:2:0 chroma; the projection on Y only (the chroma was subsampled before it was
    quantised); back to RGB. Blind (no quality): the quality is estimated from the image's DCT
    coefficients (:func:`estimate_quality`, IJG tables on the image's 8x8 grid); when they show no
    quantisation grid (a resized or shifted JPEG, a non-JPEG, or one above quality 90) quality 50's
    levels are used without the projection. ``sigma`` overrides the luma level (the chroma level is
    then scaled with it).
    """

    name = "bm3d-deblock"
    summary = "BM3D deblocking (noise level fitted per JPEG quality) + quantisation-constraint projection"
    options = (Option("sigma", float, None, "BM3D noise level (0-255) for the luma; default: fitted per quality",
                      0, 255),
               Option("project", bool, True, "project onto the quantisation constraint set (Y channel)"))
    priority = 0

    def dejpeg(self, x, quality, sigma=None, project=True):
        return deblock(x, quality, sigma, project=project)


def deblock(x: torch.Tensor, quality: int | None, sigma: float | None = None, chroma_sigma: float | None = None,
            project: bool = True) -> torch.Tensor:
    """:class:`BM3DDeblock` on x (C, H, W) in [0, 1] at ``quality`` (None: estimated). ``sigma`` and
    ``chroma_sigma``: the BM3D noise levels (0-255) instead of the fitted ones (a given ``sigma``
    scales the fitted chroma level with it)."""
    arr = x.permute(1, 2, 0).double().numpy()
    colour = arr.shape[2] == 3
    ycc = arr @ _TO_YCC.T + [0, 0.5, 0.5] if colour else arr
    luma = np.round(ycc[:, :, 0] * 255)  # the decoder's 8-bit luma (exact for gray)
    grid = True
    if quality is None:
        quality = estimate_quality(luma, ((arr <= 0) | (arr >= 1)).any(axis=2))
        grid, quality = quality is not None, quality or BLIND_QUALITY
    if chroma_sigma is None:
        chroma_sigma = sigma_for(quality, chroma=True) * (1 if sigma is None else sigma / max(sigma_for(quality), 1e-6))
    if sigma is None:
        sigma = sigma_for(quality)
    out = _bm3d(ycc, [sigma, chroma_sigma, chroma_sigma] if colour else [sigma])
    if project and grid:
        out[:, :, 0] = qcs_projection(torch.from_numpy(out[:, :, 0] * 255), torch.from_numpy(luma),
                                      ijg_table(quality)).numpy() / 255
    rgb = (out - [0, 0.5, 0.5]) @ _FROM_YCC.T if colour else out
    return torch.from_numpy(np.clip(rgb, 0, 1)).float().permute(2, 0, 1).contiguous()
