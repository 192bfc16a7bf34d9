"""Training recipes: YAML files (configs/) with ``--set key.sub=value`` overrides, read into a
typed Recipe, one dataclass per section.

parse_recipe checks a recipe before anything trains (every key known, every value of its type and
range, every name one that exists) and fills every default, those of the objective (its
``defaults``, see restora.train.objectives) and those that depend on another value included, so a
Recipe holds concrete values. Recipe.to_dict is that resolved recipe as plain data: a run folder
keeps it as recipe.yaml, and it parses back to an equal Recipe.

``scale`` (super-resolution) is stated once, at the top level: it reaches both the degradation
(``degradation.scale``) and the network (``net.args.scale``). A recipe may also state it in those
places, as long as every value agrees.
"""
from __future__ import annotations

import copy
import types
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Callable, get_args, get_origin, get_type_hints

import yaml

from restora.augment import OPS as AUGMENTATIONS
from restora.augment import parse_ops
from restora.degrade import MASKS as DEGRADE_MASKS
from restora.degrade.masks import is_mask_kind
from restora.errors import RestoraError
from restora.train.data import COLOR_MODES, source_repeat
from restora.train.objectives import get_objective
from restora.train.optim import LOSSES, OPTIMIZERS, SCHEDULES

DEGRADATIONS = ("noise", "downscale", "mask", "jpeg", "realistic", "blur")
NOISE_SIGMA = 25.0  # the noise level of a noise degradation that states none
VAL_SIGMAS = (15.0, 25.0, 50.0)  # its validation noise levels
MASKS = ("center", "boxes", "strokes")  # the mask kinds a mask degradation draws from, and validates on
JPEG_QUALITY = (5.0, 95.0)  # the qualities a jpeg degradation draws from
VAL_QUALITIES = (10.0, 20.0, 30.0, 40.0)  # and validates at (the Classic5 / LIVE1 tables)
BLUR_SIGMA = (0.0, 10.0)  # the noise levels a blur degradation adds
VAL_KERNELS = ("gaussian:1.5", "disk:2", "motion:9,30")  # and the kernels it validates on


class _Mismatch(Exception):
    """A value a key does not take; the message says what it takes ("an integer")."""


def _number(value: Any) -> float:
    """A number as float (also one written as a string), or _Mismatch."""
    if isinstance(value, str):  # PyYAML reads 1e-3 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise _Mismatch("a number")


_SCALARS = {bool: "true or false", int: "an integer", str: "a string"}


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint``: bool, int, float, str, dict[str, Any], names (list[str]) or
    numbers (list[float], or tuple[float, float] from a list of two). Anything else raises _Mismatch."""
    origin, args = get_origin(hint), get_args(hint)
    if origin is list and args == (str,):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _Mismatch("a list of names")
        return list(value)
    if origin in (list, tuple):
        expected = _Mismatch("a list of numbers" if origin is list else f"a list of {len(args)} numbers")
        if not isinstance(value, list) or (origin is tuple and len(value) != len(args)):
            raise expected
        try:
            return origin(_number(v) for v in value)
        except _Mismatch:
            raise expected from None
    if origin is dict:
        if isinstance(value, dict):
            return dict(value)
        raise _Mismatch("a mapping")
    if hint is float:
        return _number(value)
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise _Mismatch(_SCALARS[hint])


def _choice(default: Any, names) -> Any:
    """A field holding one of ``names``."""
    names = tuple(names)

    def parse(value: Any) -> str:
        if value not in names:
            raise _Mismatch(f"one of {', '.join(names)}")
        return value
    return field(default=default, metadata={"parse": parse})


def _interval(rule: str, holds: Callable[[float, float], bool]) -> Any:
    """A field holding [lo, hi] for which ``holds(lo, hi)`` (``rule`` in words), or None."""
    def parse(value: Any) -> tuple[float, float]:
        try:
            lo, hi = _convert(value, tuple[float, float])
        except _Mismatch:
            lo = hi = None
        if lo is None or not holds(lo, hi):
            raise _Mismatch(f"[lo, hi] with {rule}")
        return lo, hi
    return field(default=None, metadata={"parse": parse})


def _sigma_range(value: Any) -> tuple[float, float]:
    """``degradation.sigma``: one noise level, or [lo, hi] drawn per patch -> (lo, hi)."""
    try:
        return _convert(value, tuple[float, float]) if isinstance(value, list) else (_number(value),) * 2
    except _Mismatch:
        raise _Mismatch("a number or [lo, hi]") from None


def _sources(value: Any) -> str | list:
    """``data.train``: a data source, or a list of them where an entry may be {path, repeat}
    (see restora.train.data.source_repeat); kept as stated."""
    entries = value if isinstance(value, list) else [value]
    try:
        valid = bool(entries) and all(isinstance(source_repeat(entry)[0], str) for entry in entries)
    except RestoraError:
        valid = False
    if not valid:
        raise _Mismatch("PATH or a list of PATH or {path: PATH, repeat: N} (N from 1 to 1000)")
    return value


@dataclass(frozen=True, kw_only=True)
class NetSpec:
    """``net``: a network of restora.nets by name, with its constructor's arguments (which it checks)."""
    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class DataSpec:
    """``data``: the training images (``train``: a source as restora.train.data.read_source takes, or
    a list of them, see source_repeat; ``limit`` images of each), the validation images (``val``,
    ``val_limit``), the patches drawn (``patch`` pixels, ``batch`` of them, dihedral ``flips``,
    ``rescale`` and ``saturation`` ranges, see sample_patches) in a ``color`` mode, and the files
    a GAN never trains on (``holdout``)."""
    train: str | list = field(metadata={"parse": _sources})
    val: str | None = None
    val_limit: int | None = None
    limit: int | None = None
    patch: int = 64
    batch: int  # the objective's default
    flips: bool = True
    color: str | None = _choice(None, COLOR_MODES)  # default: gray for a 1-channel network, else rgb
    rescale: tuple[float, float] | None = _interval("0 < lo <= hi <= 1", lambda lo, hi: 0 < lo <= hi <= 1)
    saturation: tuple[float, float] | None = _interval("0 <= lo <= hi", lambda lo, hi: 0 <= lo <= hi)
    holdout: int | None = None


@dataclass(frozen=True, kw_only=True)
class DegradationSpec:
    """``degradation``: the damage a restoration network learns to undo. ``noise``: Gaussian, of
    level ``sigma`` (0-255 scale; one value, or [lo, hi] drawn per patch; held as (lo, hi)),
    validated at each of ``val_sigmas``; ``downscale``: MATLAB bicubic by ``scale``; ``mask``: holes of
    a kind drawn per patch from ``masks`` (restora.degrade.MASKS; list a kind twice to draw it twice as
    often), validated on each of ``val_masks``; ``jpeg``: compressed at a quality drawn per patch from
    ``quality`` [lo, hi], a fraction ``double`` of the patches twice (the first time at another
    drawn quality, on a block grid moved by 0-7 pixels), the quality given to the network except for
    a fraction ``blind`` (given as unknown), validated at each of ``val_qualities``; ``realistic``:
    the low-resolution image of restora.degrade.realistic at ``scale`` (Real-ESRGAN's two stages of
    blur, resize, noise and JPEG, in a random order with chance ``shuffle``; one of the common
    downscalers alone with chance ``plain``), validated by the upscale protocol; ``blur``: a camera
    blur kernel drawn per patch (restora.degrade.camera_blur_kernel: lens, defocus, slight shake),
    then Gaussian noise of a level drawn from ``sigma`` (default BLUR_SIGMA, given to the network),
    8-bit; validated by the deblur protocol on each of ``val_kernels``."""
    kind: str = _choice(MISSING, DEGRADATIONS)
    sigma: tuple[float, float] | None = field(default=None, metadata={"parse": _sigma_range})  # noise: NOISE_SIGMA
    val_sigmas: list[float] | None = None  # noise: VAL_SIGMAS
    scale: int | None = None  # the recipe's scale
    masks: list[str] | None = None  # mask: MASKS
    val_masks: list[str] | None = None  # mask: MASKS
    quality: tuple[float, float] | None = _interval("1 <= lo <= hi <= 100", lambda lo, hi: 1 <= lo <= hi <= 100)
    val_qualities: list[float] | None = None  # jpeg: VAL_QUALITIES
    double: float | None = None  # jpeg: 0
    blind: float | None = None  # jpeg: 0
    shuffle: float | None = None  # realistic: 0
    plain: float | None = None  # realistic: 0
    val_kernels: list[str] | None = None  # blur: VAL_KERNELS


@dataclass(frozen=True, kw_only=True)
class GanSpec:
    """``gan``: one step is ``d_steps`` discriminator updates then ``g_steps`` generator updates;
    real images are labelled ``real_label`` (one-sided label smoothing)."""
    d_steps: int = 1
    g_steps: int = 2
    real_label: float = 0.9


def _augmentations(value: Any) -> list[str]:
    """``classify.augment``: restora.augment operations, each NAME or NAME=STRENGTH; kept as stated."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Mismatch(f"a list of augmentations ({', '.join(AUGMENTATIONS)}; each NAME or NAME=STRENGTH)")
    if value:
        try:
            parse_ops(value)
        except RestoraError as err:
            raise RestoraError(f"recipe: classify.augment: {err}") from None
    return list(value)


def _fraction_below_one(value: Any) -> float:
    number = _number(value)
    if not 0 <= number < 1:
        raise _Mismatch("a number from 0 up to (not including) 1")
    return number


@dataclass(frozen=True, kw_only=True)
class ClassifySpec:
    """``classify`` (objective classification): cross-entropy with ``label_smoothing``, the class
    ``names`` (default: the training source's, else 0, 1, ...), the ``augment`` operations applied to
    every training batch (restora.augment), ``flip_average`` (the classifier averages its
    probabilities over each image and its mirror image, in validation, test and use: for classes
    that left-right flips keep, restora.classify), and a ``test`` source evaluated once with the
    exported weights (restora.train.objectives.classification)."""
    label_smoothing: float = field(default=0.0, metadata={"parse": _fraction_below_one})
    names: list[str] | None = None
    augment: list[str] = field(default_factory=list, metadata={"parse": _augmentations})
    flip_average: bool = False
    test: str | None = None


@dataclass(frozen=True, kw_only=True)
class OptimizerSpec:
    """``optimizer``: one of restora.train.optim.OPTIMIZERS with its settings (``betas`` for the
    Adams, ``momentum`` for the others)."""
    name: str = _choice("adam", OPTIMIZERS)
    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float | None = None  # default: 0.9 for sgd, else 0


@dataclass(frozen=True, kw_only=True)
class ScheduleSpec:
    """``schedule``: the learning rate over the run, one of restora.train.optim.SCHEDULES (``cosine``
    down to ``min_lr``; ``step``: times ``gamma`` at each milestone, a step or a fraction of the
    run), after ``warmup`` steps of linear warmup."""
    name: str = _choice("cosine", SCHEDULES)
    min_lr: float | None = None  # default: a hundredth of optimizer.lr
    milestones: list[float] = field(default_factory=lambda: [0.5, 0.75])
    gamma: float = 0.1
    warmup: int = 0


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """``train``: the run's length and how often it logs, validates and saves a checkpoint (steps)."""
    steps: int = 1000
    log_every: int = 50
    val_every: int = 500
    checkpoint_every: int | None = None  # default: val_every


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """A whole training recipe (see configs/). ``init``: a weight file to start from (see
    restora.train.objectives.restoration.warm_start); ``loss``: one of restora.train.optim.LOSSES."""
    task: str = ""
    objective: str = "restoration"
    seed: int = 0
    init: str | None = None
    scale: int | None = None
    net: NetSpec
    data: DataSpec
    degradation: DegradationSpec | None = None
    loss: str | None = _choice(None, LOSSES)
    gan: GanSpec | None = None
    classify: ClassifySpec | None = None
    optimizer: OptimizerSpec = field(default_factory=OptimizerSpec)
    schedule: ScheduleSpec = field(default_factory=ScheduleSpec)
    train: TrainSpec = field(default_factory=TrainSpec)

    def to_dict(self) -> dict[str, Any]:
        """The recipe as plain data under its YAML keys, every default filled (unset values left
        out): what a run folder keeps as recipe.yaml."""
        return _plain(self)


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value) if getattr(value, f.name) is not None}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _dotted(section: str, key: Any) -> str:
    return f"{section}.{key}" if section else str(key)


def _without_none(hint: Any) -> tuple[Any, bool]:
    """(``hint`` without None, whether it allows None): ``int | None`` -> (int, True)."""
    args = get_args(hint)
    if get_origin(hint) is types.UnionType and type(None) in args:
        return next(a for a in args if a is not type(None)), True
    return hint, False


def _section(cls: type, raw: Any, where: str) -> Any:
    """The section dataclass ``cls`` from its mapping ``raw``, found at the dotted key ``where``."""
    if not isinstance(raw, dict):
        raise RestoraError(f"recipe: {where or 'a recipe'} must be a mapping, not {raw!r}")
    known = [f.name for f in fields(cls)]
    for key in raw:
        if key not in known:
            raise RestoraError(f"recipe: unknown key '{_dotted(where, key)}' "
                               f"({where or 'a recipe'} takes: {', '.join(known)})")
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        key = _dotted(where, f.name)
        hint, optional = _without_none(hints[f.name])
        if f.name in raw:
            values[f.name] = _value(raw[f.name], f, hint, optional, key)
        elif is_dataclass(hint) and not optional:
            values[f.name] = _section(hint, {}, key)  # names the first missing key inside, if any
        elif f.default is MISSING and f.default_factory is MISSING:
            raise RestoraError(f"recipe: '{key}' is missing")
    return cls(**values)


def _value(value: Any, f: Field, hint: Any, optional: bool, key: str) -> Any:
    """The ``value`` of field ``f`` (type ``hint``, None allowed if ``optional``) at ``key``."""
    if value is None and optional:
        return None
    if is_dataclass(hint):
        return _section(hint, value, key)
    try:
        return f.metadata["parse"](value) if "parse" in f.metadata else _convert(value, hint)
    except _Mismatch as expected:
        raise RestoraError(f"recipe: {key} must be {expected}, not {value!r}") from None


def _merged(defaults: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` over ``defaults``, mappings merged key by key."""
    out = dict(defaults)
    for key, value in raw.items():
        out[key] = _merged(out[key], value) if isinstance(out.get(key), dict) and isinstance(value, dict) else value
    return out


def _require(raw: dict[str, Any], key: str) -> None:
    """An error unless ``raw`` states the dotted ``key`` (as something other than null)."""
    node: Any = raw
    for part in key.split("."):
        if not isinstance(node, dict) or node.get(part) is None:
            raise RestoraError(f"recipe: '{key}' is missing")
        node = node[part]


def _one_scale(recipe: Recipe) -> int | None:
    """The recipe's scale, from wherever it is stated (all must agree), or None."""
    stated = {"scale": recipe.scale, "degradation.scale": recipe.degradation and recipe.degradation.scale,
              "net.args.scale": recipe.net.args.get("scale")}
    stated = {key: value for key, value in stated.items() if value is not None}
    values = list(stated.values())
    if any(value != values[0] for value in values):
        raise RestoraError(f"recipe: the scale is stated more than once and differs "
                           f"({', '.join(f'{k}: {v}' for k, v in stated.items())}); state it once, as scale")
    return values[0] if values else None


def _or(value: Any, default: Any) -> Any:
    """``value``, or ``default`` where it is None."""
    return default if value is None else value


def _resolved(recipe: Recipe) -> Recipe:
    """``recipe`` with the defaults that depend on other values filled in."""
    scale = _one_scale(recipe)
    net, data, opt, schedule, train = recipe.net, recipe.data, recipe.optimizer, recipe.schedule, recipe.train
    return replace(
        recipe, scale=scale,
        net=net if scale is None else replace(net, args={**net.args, "scale": scale}),
        degradation=None if recipe.degradation is None else _resolved_degradation(recipe.degradation, scale),
        data=replace(data, color=_or(data.color, "gray" if net.args.get("channels", 1) == 1 else "rgb")),
        optimizer=replace(opt, momentum=_or(opt.momentum, 0.9 if opt.name == "sgd" else 0.0)),
        schedule=replace(schedule, min_lr=_or(schedule.min_lr, opt.lr * 0.01)),
        train=replace(train, checkpoint_every=_or(train.checkpoint_every, train.val_every)),
    )


def _resolved_degradation(degradation: DegradationSpec, scale: int | None) -> DegradationSpec:
    """``degradation`` with the recipe's scale, and for noise its default levels."""
    if degradation.kind in ("downscale", "realistic") and scale is None:
        raise RestoraError(f"recipe: 'scale' is missing (a {degradation.kind} degradation needs it)")
    if degradation.kind == "noise":
        degradation = replace(degradation, sigma=_or(degradation.sigma, (NOISE_SIGMA, NOISE_SIGMA)),
                              val_sigmas=_or(degradation.val_sigmas, list(VAL_SIGMAS)))
    if degradation.kind == "jpeg":
        degradation = replace(degradation, quality=_or(degradation.quality, JPEG_QUALITY),
                              val_qualities=_or(degradation.val_qualities, list(VAL_QUALITIES)),
                              double=_or(degradation.double, 0.0), blind=_or(degradation.blind, 0.0))
    if degradation.kind == "blur":
        degradation = replace(degradation, sigma=_or(degradation.sigma, BLUR_SIGMA),
                              val_kernels=_or(degradation.val_kernels, list(VAL_KERNELS)))
    if degradation.kind == "realistic":
        degradation = replace(degradation, shuffle=_or(degradation.shuffle, 0.0), plain=_or(degradation.plain, 0.0))
    fractions = (degradation.double, degradation.blind, degradation.shuffle, degradation.plain)
    if not all(p is None or 0 <= p <= 1 for p in fractions):
        raise RestoraError("recipe: degradation.double, .blind, .shuffle and .plain are fractions from 0 to 1")
    if degradation.kind == "mask":
        degradation = replace(degradation, masks=_or(degradation.masks, list(MASKS)),
                              val_masks=_or(degradation.val_masks, list(MASKS)))
        unknown = sorted(k for k in set(degradation.masks + degradation.val_masks) if not is_mask_kind(k))
        if unknown:
            raise RestoraError(f"recipe: unknown mask kind {', '.join(unknown)} (use {', '.join(DEGRADE_MASKS)} or freeform:LO-HI)")
    return replace(degradation, scale=scale)


def parse_recipe(raw: dict[str, Any], source: str = "recipe") -> Recipe:
    """The Recipe of a recipe as read from YAML, its defaults filled. ``source`` (the file) opens every
    error: one line naming the key, e.g. ``configs/x.yaml: unknown key 'data.pach' (data takes: ...)``."""
    try:
        if not isinstance(raw, dict):
            raise RestoraError("recipe: a recipe must be a YAML mapping")
        objective = get_objective(str(raw.get("objective", Recipe.objective)))
        raw = _merged(objective.defaults, raw)
        for key in objective.requires:
            _require(raw, key)
        return _resolved(_section(Recipe, raw, ""))
    except RestoraError as err:  # the messages of recipe checks open with "recipe: "
        raise RestoraError(f"{source}: {str(err).removeprefix('recipe: ')}") from None


def load_recipe(path: str | Path, overrides: list[str] = ()) -> Recipe:
    """Read a YAML recipe, apply ``key.sub=value`` overrides (values parsed as YAML), parse it."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise RestoraError(f"{path}: no such recipe") from None
    except yaml.YAMLError as exc:
        raise RestoraError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise RestoraError(f"{path}: a recipe must be a YAML mapping")
    return parse_recipe(apply_overrides(raw, overrides), str(path))


def apply_overrides(recipe: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """A copy of a raw recipe with ``key.sub=value`` overrides applied (values parsed as YAML)."""
    recipe = copy.deepcopy(recipe)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise RestoraError(f"--set '{item}': expected key=value")
        node = recipe
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RestoraError(f"--set '{item}': '{part}' is not a section")
        node[leaf] = yaml.safe_load(value)
    return recipe
