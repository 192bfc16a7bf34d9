"""Typed recipes: every shipped recipe parses, mistakes are one-line errors naming the file and the
key, scale is stated once, and the resolved recipe (every default filled) round-trips."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from restora.errors import RestoraError
from restora.nets import build_net
from restora.train import apply_overrides, load_recipe, parse_recipe
from restora.train.objectives import get_objective

CONFIGS = sorted((Path(__file__).resolve().parents[1] / "configs").rglob("*.yaml"))
DENOISE = {"task": "denoise", "net": {"name": "ffdnet", "args": {"channels": 1}}, "data": {"train": "photos"},
           "degradation": {"kind": "noise"}}
UPSCALE = {"task": "upscale", "scale": 3, "net": {"name": "espcn", "args": {"channels": 1}},
           "data": {"train": "t91", "color": "y"}, "degradation": {"kind": "downscale"}}


def error(tmp_path: Path, raw: dict, overrides: list[str] = ()) -> str:
    """The error of loading ``raw`` with ``overrides`` from a file: one line naming the file (the
    file's name is cut off)."""
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(RestoraError) as err:
        load_recipe(path, overrides)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_every_shipped_recipe_parses_and_its_resolved_form_round_trips(path):
    recipe = load_recipe(path)
    assert parse_recipe(yaml.safe_load(yaml.safe_dump(recipe.to_dict(), sort_keys=False))) == recipe


def test_shipped_super_resolution_recipes_state_the_scale_once():
    sr = [path for path in CONFIGS if path.parent.name == "sr"]
    assert sr
    for path in sr:
        raw = yaml.safe_load(path.read_text())
        assert "scale" in raw and "scale" not in raw["net"]["args"] and "scale" not in raw["degradation"], path


def test_a_misspelt_key_is_named_with_the_keys_its_section_takes(tmp_path):
    message = error(tmp_path, DENOISE, ["data.pach=32"])
    assert message.startswith("unknown key 'data.pach' (data takes: train, val, ") and "patch" in message
    assert error(tmp_path, DENOISE, ["sead=1"]).startswith("unknown key 'sead' (a recipe takes: task, objective, ")


def test_a_value_of_the_wrong_type_is_named_with_what_its_key_takes(tmp_path):
    assert error(tmp_path, DENOISE, ["data.patch=big"]) == "data.patch must be an integer, not 'big'"
    assert error(tmp_path, DENOISE, ["optimizer.lr=fast"]) == "optimizer.lr must be a number, not 'fast'"
    assert error(tmp_path, DENOISE, ["data.flips=maybe"]) == "data.flips must be true or false, not 'maybe'"
    assert error(tmp_path, DENOISE, ["optimizer.betas=[0.9]"]) == \
        "optimizer.betas must be a list of 2 numbers, not [0.9]"
    assert error(tmp_path, DENOISE, ["data=photos"]) == "data must be a mapping, not 'photos'"
    assert error(tmp_path, DENOISE, ["data.rescale=[0, 1]"]) == \
        "data.rescale must be [lo, hi] with 0 < lo <= hi <= 1, not [0, 1]"
    assert error(tmp_path, DENOISE, ["data.train=[photos, {path: more, repeat: 0}]"]).startswith("data.train must be")
    # PyYAML reads 1e-3 as a string: numbers written so are numbers
    assert parse_recipe(apply_overrides(DENOISE, ["optimizer.lr=1e-3"])).optimizer.lr == 0.001


def test_unknown_names_list_the_known_ones(tmp_path):
    for override, expected in (("optimizer.name=adm", "optimizer.name must be one of adam, adamw, sgd, rmsprop"),
                               ("schedule.name=linear", "schedule.name must be one of cosine, step, constant"),
                               ("loss=l3", "loss must be one of l1, l2, charbonnier"),
                               ("degradation.kind=haze", "degradation.kind must be one of noise, downscale"),
                               ("data.color=cmyk", "data.color must be one of gray, rgb, y"),
                               ("objective=diffusion", "unknown objective 'diffusion' (classification, gan, "
                                                       "restoration, vae)")):
        assert error(tmp_path, DENOISE, [override]).startswith(expected), override
    with pytest.raises(RestoraError, match=r"^recipe: unknown objective 'x' \(classification, gan, restoration, vae\)$"):
        get_objective("x")


def test_a_missing_key_is_named(tmp_path):
    assert error(tmp_path, {k: v for k, v in DENOISE.items() if k != "data"}) == "'data.train' is missing"
    assert error(tmp_path, {k: v for k, v in DENOISE.items() if k != "degradation"}) == "'degradation' is missing"
    assert error(tmp_path, {**DENOISE, "net": {"args": {"channels": 1}}}) == "'net.name' is missing"
    vae = {"objective": "vae", "net": {"name": "conv-vae"}, "data": {"train": "digits"}}
    assert error(tmp_path, vae) == "'data.val' is missing"
    assert error(tmp_path, UPSCALE, ["scale=null"]).startswith("'scale' is missing")


def test_scale_stated_once_reaches_the_degradation_and_the_network():
    recipe = parse_recipe(UPSCALE)
    assert recipe.scale == recipe.degradation.scale == recipe.net.args["scale"] == 3
    net = build_net(recipe.net.name, **recipe.net.args)
    assert net(torch.rand(1, 1, 8, 8)).shape == (1, 1, 24, 24)
    # the older form, the scale in both places, means the same when they agree
    older = apply_overrides(UPSCALE, ["scale=null", "net.args.scale=3", "degradation.scale=3"])
    assert parse_recipe(older) == recipe


def test_scales_that_disagree_are_an_error(tmp_path):
    for override in ("net.args.scale=2", "degradation.scale=4"):
        message = error(tmp_path, UPSCALE, [override])
        assert message.startswith("the scale is stated more than once and differs (scale: 3, ") and \
            override.replace("=", ": ") in message


def test_the_resolved_recipe_holds_every_default_and_round_trips():
    recipe = parse_recipe(apply_overrides(DENOISE, ["optimizer.name=sgd", "train.val_every=200"]))
    resolved = recipe.to_dict()
    assert resolved["objective"] == "restoration" and resolved["loss"] == "l1"
    assert resolved["data"] | {"train": "photos", "patch": 64, "batch": 16, "flips": True, "color": "gray"} == \
        resolved["data"]
    assert resolved["degradation"] == {"kind": "noise", "sigma": [25.0, 25.0], "val_sigmas": [15.0, 25.0, 50.0]}
    assert resolved["optimizer"] == {"name": "sgd", "lr": 0.001, "weight_decay": 0.0, "betas": [0.9, 0.999],
                                     "momentum": 0.9}
    assert resolved["schedule"]["min_lr"] == 0.001 * 0.01
    assert resolved["train"] == {"steps": 1000, "log_every": 50, "val_every": 200, "checkpoint_every": 200}
    assert parse_recipe(resolved) == recipe and parse_recipe(resolved).to_dict() == resolved


def test_defaults_follow_the_objective_and_the_network():
    assert parse_recipe(apply_overrides(DENOISE, ["net.args.channels=3"])).data.color == "rgb"
    vae = parse_recipe({"objective": "vae", "net": {"name": "conv-vae"}, "data": {"train": "a", "val": "b"}})
    assert (vae.data.batch, vae.task, vae.loss, vae.gan) == (128, "generate", None, None)
    gan = parse_recipe({"objective": "gan", "net": {"args": {"width": 8}}, "data": {"train": "faces"}})
    assert (gan.data.batch, gan.data.holdout, gan.net.name) == (64, 500, "dcgan-generator")
    assert gan.net.args == {"z_dim": 100, "width": 8, "channels": 3}
    assert (gan.optimizer.lr, gan.optimizer.betas, gan.gan.g_steps) == (2e-4, (0.5, 0.999), 2)
