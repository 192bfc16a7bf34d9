"""JPEG artefact removal by the dejpeg protocol (restora.protocols, docs/protocols.md): the clean
8-bit image compressed by Pillow's libjpeg (IJG) at quality 10 / 20 / 30 / 40, gray as one
channel, colour with 4:2:0 chroma; PSNR / SSIM on the full image, the mean over the images (image
i sorted by path, seed i: the same figures as ``restora bench dejpeg``).

    python benchmarks/dejpeg.py [--quick] [--dncnn-size HxW] [--out benchmarks/results/dejpeg.md]
    python benchmarks/dejpeg.py --parts quality --methods unet-dejpeg   # remeasure one method's rows
    python benchmarks/dejpeg.py --fit [QUALITIES]   # refit bm3d-deblock's noise levels on training images

(a) Classic5 (gray): the JPEG input, every registered dejpeg method (classical and learned; a
    learned one also as the x8 ensemble) and the published figures (PUBLISHED).
(b) McMaster (colour): the JPEG input, the methods with a colour model or a classical colour path,
    and a learned gray model run on each RGB channel separately.
(c) Speed: seconds per 512x512 image and megapixels per second of every method; the learned model
    against a DnCNN-3-sized network (dncnn, 20 layers, 64 channels, random weights) on the same
    image, runs alternating, 1 and 2 threads, medians, on torch and on ONNX Runtime; the learned
    model's and the DnCNN-3-sized network's MP/s and peak resident memory on a 12-megapixel image
    (``--dncnn-size``: the network's at another size), tiled alike, each in its own process.

``--parts`` (quality: tables a and b; speed: c) and ``--methods`` (comma-separated method names; a
name also selects its ensemble and per-channel rows) remeasure a part of the results file: the
other parts and the other methods' rows are kept from it as they are.
``--quick``: two images per set, q10 and q30, gray speed only, one round at one thread, no
12-megapixel run (a smoke run: printed, not written, unless ``--out`` is given). ``--fit`` prints
the noise-level tables of restora.methods.dejpeg (fitted on train400 / T91, never on the
benchmarks) and writes nothing. Needs $RESTORA_DATA
(default ../shared/data): jpeg/classic5, denoise/color/mcmaster; --fit: denoise/gray/train400, sr/t91.
"""
from __future__ import annotations

import argparse
import json
import math
import time
from functools import partial
from pathlib import Path
from typing import Any, Callable

import torch

from speed import _merged, _table_rows, measure, medians_in_turn, peak_mb, run_child, write_markdown
from restora.io import write_text_atomic
from restora.methods import get_method, list_methods
from restora.protocols import protocol, read_reference, reference_paths
from restora.train.data import resolve_data_path

QUALITIES = (10, 20, 30, 40)
# Classic5 PSNR (dB) at q10 / 20 / 30 / 40, as given by our issue, checked with the offline search
# tool when this script was written (docs/protocols.md says the same):
# - ARCNN (Dong et al., ICCV 2015) and DnCNN-3: the JPEG deblocking table of DnCNN (Zhang et al.,
#   IEEE TIP 2017), reproduced in the authors' repository (github.com/cszn/DnCNN, README, "JPEG Image
#   Deblocking": PSNR / SSIM on Classic5 and LIVE1). Verified, except ARCNN at q40: the table says
#   33.34, our issue 33.32; the table's 33.34 is used.
# - JPEG (the compressed input): not found in a retrievable table, but this protocol measures exactly
#   27.82 / 30.12 / 31.48 / 32.43 on Classic5 (Pillow's IJG libjpeg = MATLAB's imwrite encoder).
# - DRUNet: the DRUNet deblocking model of DPIR (github.com/cszn/DPIR, main_dpir_deblocking_grayscale.py
#   evaluates it on Classic5 at q10-40 for "Table 3"); the figures could not be retrieved offline, so
#   they stand as our issue gives them, unverified.
PUBLISHED = {  # name: (PSNR at QUALITIES, SSIM or None, source, how far it was checked)
    "JPEG": ((27.82, 30.12, 31.48, 32.43), None, "the compressed input", "measured equal here; paper not retrieved"),
    "ARCNN": ((29.03, 31.15, 32.51, 33.34), (0.7929, 0.8517, 0.8806, 0.8953),
              "DnCNN (TIP 2017) JPEG deblocking table", "verified"),
    "DnCNN-3": ((29.40, 31.63, 32.91, 33.77), (0.8026, 0.8610, 0.8861, 0.9003),
                "DnCNN (TIP 2017) JPEG deblocking table", "verified"),
    "DRUNet": ((30.16, 32.39, 33.59, 34.41), None, "DPIR's DRUNet deblocking model (Zhang et al. 2021)",
               "not verified"),
}

RESULTS = Path(__file__).parent / "results"
SPEED_SIZE = (512, 512)
BIG_SIZE = (3000, 4000)  # 12 megapixels
DNCNN3 = {"channels": 1, "depth": 20, "width": 64, "batch_norm": False}
FIT_QUALITIES = (5, 10, 20, 30, 40, 60, 80, 95)
FIT_IMAGES = 6
FIT_CROP = 128  # T91 images cropped to at most this side for the chroma fit


def images(folder: str, limit: int | None) -> list[torch.Tensor]:
    """The reference images of ``$RESTORA_DATA/folder`` in ``restora bench``'s order."""
    return [read_reference(p) for p in reference_paths("dejpeg", resolve_data_path(f"$RESTORA_DATA/{folder}"),
                                                        QUALITIES[0], limit)]


def score(restore: Callable[..., torch.Tensor] | None, refs: list[torch.Tensor],
          quality: int) -> tuple[float, float, float]:
    """Mean (PSNR, SSIM, seconds per image) of ``restore(degraded, quality=q)`` by the protocol
    (image i with seed i); ``restore`` None scores the JPEG input itself."""
    psnrs, ssims, seconds = [], [], 0.0
    for index, clean in enumerate(refs):
        case = protocol("dejpeg").case(clean, quality, index)
        start = time.perf_counter()
        out = case.degraded if restore is None else restore(case.degraded, **case.inputs)
        seconds += time.perf_counter() - start
        p, s = case.score(out)
        psnrs.append(p)
        ssims.append(s)
    n = len(refs)
    return sum(psnrs) / n, sum(ssims) / n, seconds / n


def per_channel(restorer) -> Callable[..., torch.Tensor]:
    """The restorer run on each channel of x (C, H, W) as a gray image (a gray model on RGB)."""
    return lambda x, **inputs: torch.cat([restorer.restore(x[c:c + 1], **inputs) for c in range(x.shape[0])])


def ensembled(restorer) -> Callable[..., torch.Tensor]:
    """The restorer as the x8 ensemble (the mean over the 8 flips / rotations)."""
    return lambda x, **inputs: restorer.restore(x, ensemble=True, **inputs)


def channels_of(name: str) -> set[int] | None:
    """The channel counts a learned method has models for; None for a classical method."""
    entries = getattr(get_method("dejpeg", name), "entries", None)
    return None if entries is None else {int(e["channels"]) for e in entries}


def quality_rows(methods: list[tuple[str, str, Callable | None]], refs: list[torch.Tensor],
                 qualities: tuple[int, ...]) -> list[list[str]]:
    """One row per (label, kind, restore): PSNR / SSIM per quality, then seconds per image."""
    rows = []
    for label, kind, restore in methods:
        if restore is not None:  # untimed first call: imports, weights
            restore(protocol("dejpeg").case(refs[0][:, :64, :64], qualities[0], 0).degraded, quality=qualities[0])
        cells, seconds = [], []
        for quality in qualities:
            p, s, t = score(restore, refs, quality)
            cells.append(f"{p:.2f} / {s:.4f}")
            seconds.append(t)
        rows.append([label, kind, *cells, "–" if restore is None else f"{sum(seconds) / len(seconds):.2f}"])
        print("| " + " | ".join(rows[-1]) + " |", flush=True)
    return rows


def measured_methods(only: list[str] | None) -> list[str]:
    """The dejpeg methods to measure: every registered one, or those named in ``only``."""
    names = [m["name"] for m in list_methods("dejpeg")]
    return names if only is None else [n for n in names if n in only]


def kept_rows(rows: list[list[str]], old: str | None, only: list[str] | None) -> list[list[str]]:
    """``rows`` (just measured) merged into the measured rows of ``old`` (the same table from the
    results file) when only some methods were remeasured: the others' rows are kept as they were."""
    if only is None or old is None:
        return rows
    previous = [r for r in _table_rows(old) if not r[1].startswith("published")]
    return _merged(previous, rows)


def classic5(quick: bool, only: list[str] | None = None, old: str | None = None) -> str:
    qualities = (10, 30) if quick else QUALITIES
    refs = images("jpeg/classic5", 2 if quick else None)
    methods: list[tuple[str, str, Callable | None]] = [("JPEG (input)", "measured", None)]
    for name in measured_methods(only):
        restorer = get_method("dejpeg", name)
        methods.append((name, restorer.kind, restorer.restore))
        if any(o.name == "ensemble" for o in restorer.options):
            methods.append((f"{name}:ensemble=true", restorer.kind, ensembled(restorer)))
    rows = kept_rows(quality_rows(methods, refs, qualities), old, only)
    for name, (psnrs, ssims, source, checked) in PUBLISHED.items():
        cells = [f"{psnrs[QUALITIES.index(q)]:.2f} / " + (f"{ssims[QUALITIES.index(q)]:.4f}" if ssims else "–")
                 for q in qualities]
        rows.append([name, f"published: {source} ({checked})", *cells, "–"])
    title = (f"### (a) Classic5 (gray, {len(refs)} images), PSNR (dB) / SSIM\n\n"
             "`python benchmarks/dejpeg.py" + (" --quick" if quick else "") + "`: Pillow / IJG JPEG at the quality, "
             "full-image PSNR / SSIM on 8-bit values, mean over the images (docs/protocols.md, the same figures as "
             "`restora bench dejpeg`). Published rows: from the papers named (MATLAB's IJG encoder; their SSIM is "
             "MATLAB's, close to but not exactly this protocol's).")
    return write_markdown(None, title, ["method", "kind", *(f"q{q}" for q in qualities), "s / image"], rows)


def mcmaster(quick: bool, only: list[str] | None = None, old: str | None = None) -> str:
    qualities = (10, 30) if quick else QUALITIES
    refs = images("denoise/color/mcmaster", 2 if quick else None)
    methods: list[tuple[str, str, Callable | None]] = [("JPEG (input)", "measured", None)]
    notes = []
    for name in measured_methods(only):
        restorer = get_method("dejpeg", name)
        channels = channels_of(name)
        if channels is None or 3 in channels:
            methods.append((name, restorer.kind, restorer.restore))
        else:
            notes.append(f"{name} has no colour model")
        if channels is not None and 1 in channels:
            methods.append((f"{name} (gray model per RGB channel)", restorer.kind, per_channel(restorer)))
    rows = kept_rows(quality_rows(methods, refs, qualities), old, only)
    title = (f"### (b) McMaster (colour, {len(refs)} images), PSNR (dB) / SSIM\n\n"
             "Colour JPEG with 4:2:0 chroma; PSNR / SSIM on RGB, full image. No published figure under this "
             "protocol." + (f" Not run: {'; '.join(notes)}." if notes else ""))
    return write_markdown(None, title, ["method", "kind", *(f"q{q}" for q in qualities), "s / image"], rows)


def child(spec: dict[str, Any]) -> dict[str, float]:
    """Run :func:`_child` with ``spec`` in a fresh process with spec["threads"] threads."""
    return run_child(__file__, [json.dumps(spec)], spec["threads"])


def dncnn3(backend: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """A DnCNN-3-sized dncnn (DNCNN3, random weights; batch norm left out, as folded for
    deployment) as a function of a (1, 1, H, W) batch: torch channels-last, or ONNX Runtime
    (``backend`` "onnxruntime", exported like the zoo models, torch's thread count)."""
    import tempfile
    import warnings

    from restora.methods.learned import channels_last
    from restora.nets import build_net
    from restora.zoo.onnx import OPSET, new_session

    torch.manual_seed(0)
    net = build_net("dncnn", **DNCNN3).eval()
    if backend == "torch":
        return channels_last(net)
    with tempfile.TemporaryDirectory() as folder, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter's notice, as in restora.zoo.onnx
        path = f"{folder}/dncnn3.onnx"
        torch.onnx.export(net, (torch.rand(1, 1, 64, 64),), path, input_names=["x"], output_names=["y"],
                          opset_version=OPSET, dynamic_axes={"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}},
                          dynamo=False)
        session = new_session(path, torch.get_num_threads())
    return lambda t: torch.from_numpy(session.run(None, {"x": t.contiguous().numpy()})[0])


def _child(spec: dict[str, Any]) -> None:
    """Child of :func:`child`: on scikit-image's astronaut resized to spec["size"] (gray, or colour
    with spec["colour"]) and saved as JPEG q20, each of spec["calls"] once on a 128x128 crop
    (untimed), then spec["runs"] rounds of them in turn; prints the median seconds of each and the
    peak resident memory (MB) as JSON. Calls: "restore" (spec["method"], default backend),
    "restore-torch" (torch backend), "dncnn" / "dncnn-onnx" (:func:`dncnn3` on torch / ONNX Runtime,
    in 512-pixel tiles overlapping by 32, as restore tiles)."""
    import numpy as np
    from skimage import data

    from restora.degrade import imresize, jpeg
    from restora.methods.tiling import run_tiled

    torch.set_num_threads(spec["threads"])
    photo = torch.from_numpy(data.astronaut().astype(np.float32) / 255).permute(2, 0, 1)
    photo = photo if spec["colour"] else photo.mean(0, keepdim=True)
    x = jpeg(imresize(photo, size=tuple(spec["size"])).clamp(0, 1), 20)
    restorer = get_method("dejpeg", spec["method"])
    calls: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    for key in spec["calls"]:
        if key.startswith("restore"):
            calls[key] = partial(restorer.restore, quality=20, backend="torch" if key == "restore-torch" else "auto")
        else:
            net = dncnn3("torch" if key == "dncnn" else "onnxruntime")
            calls[key] = lambda t, net=net: run_tiled(net, t[None])[0]
    with torch.no_grad():
        for call in calls.values():
            call(x[:, :128, :128])
        result = medians_in_turn({key: partial(call, x) for key, call in calls.items()}, spec["runs"])
    print(json.dumps({**result, "peak_mb": peak_mb()}))


def parse_size(text: str) -> tuple[int, int]:
    """"HxW" -> (H, W)."""
    h, w = text.lower().split("x")
    return int(h), int(w)


def speed(quick: bool, dncnn_size: tuple[int, int]) -> str:
    mp = SPEED_SIZE[0] * SPEED_SIZE[1] / 1e6
    rows = []
    for m in list_methods("dejpeg"):
        channels = channels_of(m["name"])
        for colour in (False,) if quick else (False, True):
            if colour and channels is not None and 3 not in channels:
                continue
            r = measure("dejpeg", m["name"], SPEED_SIZE, colour, quality=20)
            rows.append([m["name"], "colour" if colour else "gray", f"{r['seconds']:.2f}", f"{r['mp'] / r['seconds']:.3f}",
                         f"{r['peak_mb']:.0f}"])
            print("| " + " | ".join(rows[-1]) + " |", flush=True)
    text = write_markdown(None, "### (c) Speed\n\nOne 512x512 photo (scikit-image's astronaut), quality 20, each "
                          "method in its own process after an untimed call (benchmarks/speed.py).",
                          ["method", "input", "s / image", "MP/s", "peak memory (MB)"], rows)
    learned = [m["name"] for m in list_methods("dejpeg") if m["kind"] == "learned" and 1 in channels_of(m["name"])]
    if not learned:
        return text + "\nNo learned gray dejpeg model in the zoo: the comparison with a DnCNN-3-sized network and " \
                      "the 12-megapixel run are left out.\n"
    runs = 1 if quick else 5
    for name in learned:
        pair_rows = []
        for threads in (1,) if quick else (1, 2):
            t = child({"method": name, "threads": threads, "runs": runs, "size": list(SPEED_SIZE), "colour": False,
                       "calls": ["restore", "dncnn-onnx", "restore-torch", "dncnn"]})
            cells = [f"{t[key]:.2f} ({mp / t[key]:.3f})" for key in ("restore", "dncnn-onnx", "restore-torch", "dncnn")]
            pair_rows.append([str(threads), *cells[:2], f"**{t['dncnn-onnx'] / t['restore']:.1f}x**", *cells[2:],
                              f"**{t['dncnn'] / t['restore-torch']:.1f}x**"])
            print("| " + " | ".join(pair_rows[-1]) + " |", flush=True)
        text += "\n" + write_markdown(
            None, f"#### {name} against a DnCNN-3-sized network\n\nThe same 512x512 gray JPEG (q20), one process "
            f"per thread count: {name}'s `restore` (tiling included) and `dncnn` with 20 layers of 64 channels "
            f"(DnCNN-3's size, random weights, batch norm folded away), on ONNX Runtime ({name}'s default backend) "
            f"and on torch (channels-last), run in turn {runs} times after an untimed call; median seconds "
            "(MP/s), and how many times faster.",
            ["threads", f"{name} (ONNX Runtime)", "DnCNN-3 (ONNX Runtime)", "speed-up", f"{name} (torch)",
             "DnCNN-3 (torch)", "speed-up"], pair_rows)
        if quick:
            continue
        big_rows = []
        jobs = [(name, "restore", BIG_SIZE, False), (name, "restore", BIG_SIZE, True)]
        if dncnn_size != BIG_SIZE:
            jobs.append((name, "restore", dncnn_size, False))
        jobs.append(("DnCNN-3-sized", "dncnn-onnx", dncnn_size, False))
        for label, call, size, colour in jobs:
            if colour and 3 not in channels_of(name):
                continue
            r = child({"method": name, "threads": torch.get_num_threads(), "runs": 1, "size": list(size),
                       "colour": colour, "calls": [call]})
            megapixels = size[0] * size[1] / 1e6
            big_rows.append([label, "colour" if colour else "gray", f"{size[1]}x{size[0]} ({megapixels:.1f} MP)",
                             f"{r[call]:.1f}", f"{megapixels / r[call]:.3f}", f"{r['peak_mb']:.0f}"])
            print("| " + " | ".join(big_rows[-1]) + " |", flush=True)
        text += "\n" + write_markdown(
            None, f"#### {name} and the DnCNN-3-sized network on a large image\n\nThe astronaut resized, quality "
            "20, ONNX Runtime, 512-pixel tiles overlapping by 32 (restore's default), one call per process after an "
            "untimed one on a crop; peak resident memory of the process (VmHWM, the photo included).",
            ["network", "input", "size", "seconds", "MP/s", "peak memory (MB)"], big_rows)
    return text


# ----------------------------------------------------------------------------------- fitting

def golden_max(f: Callable[[float], float], low: float, high: float, tolerance: float = 0.1) -> float:
    """The argument in [low, high] maximising a unimodal ``f``, by golden-section search in log space
    (to ``tolerance`` in the log)."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = math.log(low), math.log(high)
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = f(math.exp(c)), f(math.exp(d))
    while b - a > tolerance:
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = f(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = f(math.exp(d))
    return math.exp((a + b) / 2)


def fit(qualities: list[int]) -> None:
    """Print SIGMA_LUMA and SIGMA_CHROMA for restora.methods.dejpeg, fitted on training images: the
    first FIT_IMAGES of train400 (gray; the luma level, searched in 0.5-60) and of T91 (colour,
    cropped to FIT_CROP; the chroma level, searched in 1-12 times the luma level, which is fixed),
    each compressed by the protocol (image i, seed i) at each of ``qualities``."""
    from restora.methods.dejpeg import deblock

    def cases(folder: str, quality: int, crop: int | None = None):
        paths = sorted(resolve_data_path(f"$RESTORA_DATA/{folder}").glob("*.png"))[:FIT_IMAGES]
        refs = [read_reference(p)[:, :crop, :crop] for p in paths]
        return [protocol("dejpeg").case(x, quality, i) for i, x in enumerate(refs)]

    def mean_psnr(cs, **levels) -> float:
        return sum(c.score(deblock(c.degraded, c.inputs["quality"], **levels))[0] for c in cs) / len(cs)

    luma, chroma = {}, {}
    for quality in qualities:
        gray = cases("denoise/gray/train400", quality)
        luma[quality] = round(golden_max(lambda s: mean_psnr(gray, sigma=s), 0.5, 60), 1)
        colour = cases("sr/t91", quality, FIT_CROP)
        chroma[quality] = round(golden_max(lambda s: mean_psnr(colour, sigma=luma[quality], chroma_sigma=s),
                                           luma[quality], 12 * luma[quality]), 1)
        print(f"q{quality}: luma sigma {luma[quality]} (input {mean_psnr(gray, sigma=0, project=False):.2f} -> "
              f"{mean_psnr(gray, sigma=luma[quality]):.2f} dB), chroma sigma {chroma[quality]}", flush=True)
    print(f"SIGMA_LUMA = {luma}\nSIGMA_CHROMA = {chroma}")


def sections(text: str) -> dict[str, str]:
    """The parts of a results file: "(a)", "(b)", "(c)" -> the text from its ``### (x)`` title on,
    and "preamble" -> the text before the first."""
    preamble, *parts = text.split("\n### ")
    return {"preamble": preamble + "\n", **{part[:3]: "### " + part.rstrip("\n") + "\n" for part in parts}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 images per set, q10 and q30, gray speed only, one round, no large image")
    parser.add_argument("--fit", nargs="?", const=",".join(map(str, FIT_QUALITIES)), metavar="QUALITIES",
                        help="refit bm3d-deblock's noise levels (prints them), at these qualities "
                             "(comma-separated; default: FIT_QUALITIES)")
    parser.add_argument("--dncnn-size", type=parse_size, default=BIG_SIZE, metavar="HxW",
                        help="the DnCNN-3-sized network's large image (default 3000x4000; smaller when it is too "
                             "slow, and the learned model is measured at this size too)")
    parser.add_argument("--out", type=Path, default=None,
                        help="the results file (default benchmarks/results/dejpeg.md; --quick: printed only)")
    parser.add_argument("--parts", default="quality,speed", help="quality (tables a, b), speed (c), or both")
    parser.add_argument("--methods", default=None, help="comma-separated dejpeg methods to remeasure (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(json.loads(args.child))
    if args.fit:
        return fit([int(q) for q in args.fit.split(",")])
    parts, only = args.parts.split(","), args.methods.split(",") if args.methods else None
    out = args.out or (None if args.quick else RESULTS / "dejpeg.md")
    old = sections(out.read_text()) if out and out.is_file() and (only or parts != ["quality", "speed"]) else {}
    header = old.get("preamble") or (
        "## JPEG artefact removal" + (" (quick smoke run: 2 images, q10 and q30)" if args.quick else "") +
        "\n\nRegenerate: `python benchmarks/dejpeg.py` (from the repository root; data under "
        "`$RESTORA_DATA`; `--parts` and `--methods` remeasure a part).\n\n")
    quality = "quality" in parts or not old
    text = header + "\n".join([
        classic5(args.quick, only, old.get("(a)")) if quality else old["(a)"],
        mcmaster(args.quick, only, old.get("(b)")) if quality else old["(b)"],
        speed(args.quick, args.dncnn_size) if "speed" in parts or not old else old["(c)"]])
    if out is None:
        print(text)
        return
    write_text_atomic(out, text)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
