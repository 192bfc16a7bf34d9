"""Learned inpainting (restora.nets.inpaint, restora.methods.inpainting): training with mask
degradations, known pixels kept exactly, photos of any size through a working resolution."""
from __future__ import annotations

import csv

import pytest
import torch
from PIL import Image as PILImage
from skimage import data as skdata

from restora.degrade import apply_mask, make_mask
from restora.errors import RestoraError
from restora.io import read_image
from restora.methods.inpainting import hole_window
from restora.methods.learned import restorer_for_net
from restora.metrics import psnr
from restora.nets import build_net
from restora.train import Trainer
from restora.zoo import load_net


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        PILImage.fromarray(getattr(skdata, name)()).resize((128, 96)).save(folder / f"{name}.png")
    return folder


def test_a_tiny_inpainting_recipe_learns_and_beats_its_masked_input(photos, tmp_path):
    recipe = {"task": "inpaint", "seed": 0, "net": {"name": "unet-inpainter", "args": {"channels": 3, "width": 8, "blocks": 1}},
              "data": {"train": str(photos), "val": str(photos), "val_limit": 2, "patch": 48, "batch": 8},
              "degradation": {"kind": "mask", "masks": ["boxes", "strokes"], "val_masks": ["boxes"]},
              "optimizer": {"lr": 0.003}, "train": {"steps": 60, "log_every": 20, "val_every": 60}}
    last = Trainer(recipe, tmp_path / "run", progress=False).run()
    with (tmp_path / "run" / "log.csv").open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[-1] < losses[0]
    clean = read_image(photos / "coffee.png").data
    mask = make_mask("boxes", *clean.shape[1:], seed=3)
    damaged = apply_mask(clean, mask)
    trained = restorer_for_net("inpaint", load_net(tmp_path / "run" / "model.safetensors"), 3)
    filled = trained.restore(damaged, mask=mask)
    assert psnr(filled, clean) > psnr(damaged, clean) + 5
    assert float(last["psnr_boxes"]) > 20  # validation by the inpainting protocol


def test_known_pixels_are_kept_exactly_and_large_photos_work_at_a_reduced_resolution(astronaut):
    net = build_net("unet-inpainter", width=8, blocks=1).eval()
    restorer = restorer_for_net("inpaint", net, 3)
    photo = torch.nn.functional.interpolate(astronaut[None], size=(300, 420), mode="bilinear")[0].clamp(0, 1)
    mask = make_mask("center", 300, 420)
    out = restorer.restore(apply_mask(photo, mask), mask=mask, work=96)
    keep = ~mask.bool().expand_as(photo)
    assert torch.equal(out[keep], photo[keep]) and out.shape == photo.shape
    assert (out[~keep] != 1).any()  # the hole was filled, not left white


def test_the_hole_window_grows_the_hole_and_stays_inside():
    mask = torch.zeros(1, 100, 200)
    mask[:, 40:50, 150:190] = 1
    rows, cols = hole_window(mask)
    assert (rows.start, rows.stop) == (8, 82) and (cols.start, cols.stop) == (118, 200)


@pytest.mark.parametrize("spec", ["freeform:10-20", "freeform:20-30", "freeform:30-40", "freeform:40-50"])
def test_free_form_masks_cover_their_hole_ratio_bin_and_repeat_per_seed(spec):
    lo, hi = (int(v) / 100 for v in spec.split(":")[1].split("-"))
    for seed in range(8):
        mask = make_mask(spec, 321, 481, seed=seed)
        assert mask.shape == (1, 321, 481) and set(mask.unique().tolist()) <= {0.0, 1.0}
        assert lo <= float(mask.mean()) <= hi
        assert torch.equal(mask, make_mask(spec, 321, 481, seed=seed))
    assert not torch.equal(make_mask(spec, 321, 481, seed=0), make_mask(spec, 321, 481, seed=1))


def test_free_form_training_masks_span_one_to_fifty_percent():
    ratios = [float(make_mask("freeform", 160, 160, seed=s).mean()) for s in range(100)]
    assert 0.01 <= min(ratios) < 0.15 and 0.4 < max(ratios) <= 0.5


@pytest.mark.parametrize("spec", ["freeform:50-10", "freeform:abc", "freeform:10-120"])
def test_bad_free_form_specs_are_one_line_errors(spec):
    with pytest.raises(RestoraError, match="freeform"):
        make_mask(spec, 64, 64)
