"""The training engine: a tiny recipe learns, resume is exact, torchrun trains identical replicas."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image as PILImage
from skimage import data as skdata

from conftest import interrupt_then_resume
from restora.color import rgb_to_ycbcr
from restora.errors import RestoraError
from restora.nets import build_net
from restora.train import Trainer, apply_overrides, load_recipe, parse_recipe
from restora.train.data import ImageCache, sample_patches, saturate
from restora.train.objectives.restoration import warm_start
from restora.zoo import load_net, read_metadata, save_weights

TINY = {
    "task": "denoise",
    "seed": 3,
    "net": {"name": "ffdnet", "args": {"channels": 1, "depth": 4, "width": 16}},
    "data": {"patch": 32, "batch": 8},
    "degradation": {"kind": "noise", "sigma": [20, 30], "val_sigmas": [25]},
    "loss": "l1",
    "optimizer": {"name": "adam", "lr": 0.003},
    "schedule": {"name": "cosine"},
    "train": {"steps": 120, "log_every": 10, "val_every": 60, "checkpoint_every": 30},
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Real photographs bundled with scikit-image, as a training folder."""
    folder = tmp_path_factory.mktemp("photos")
    for name in ("camera", "astronaut", "coffee", "chelsea"):
        PILImage.fromarray(getattr(skdata, name)()).resize((160, 128)).save(folder / f"{name}.png")
    return folder


def recipe_for(photos: Path, **overrides) -> dict:
    recipe = apply_overrides(TINY, [f"data.train={photos}", f"data.val={photos}", "data.val_limit=2"])
    return apply_overrides(recipe, [f"{k}={v}" for k, v in overrides.items()])


def read_log(run: Path) -> list[dict]:
    with (run / "log.csv").open() as f:
        return list(csv.DictReader(f))


def test_tiny_recipe_learns_and_writes_its_outputs(photos, tmp_path):
    run = tmp_path / "run"
    Trainer(recipe_for(photos), run, progress=False).run()
    rows = read_log(run)
    losses = [float(r["loss"]) for r in rows]
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < 0.8 * first, losses
    assert {"step", "lr", "seconds", "patches_per_s", "loss", "psnr_sigma25", "ssim_sigma25"} <= set(rows[0])
    for name in ("recipe.yaml", "curves.png", "last.pt", "best.pt", "model.safetensors"):
        assert (run / name).is_file(), name
    assert load_recipe(run / "recipe.yaml") == parse_recipe(recipe_for(photos))  # as run, defaults filled
    meta = read_metadata(run / "model.safetensors")
    assert meta["arch"] == "ffdnet" and '"depth": 4' in meta["kwargs"]
    net = load_net(run / "model.safetensors")
    assert net(torch.rand(1, 1, 20, 22), torch.tensor([0.1])).shape == (1, 1, 20, 22)
    # validation PSNR beats the noisy input (sigma 25 is about 20.2 dB)
    assert float(rows[-1]["psnr_sigma25"]) > 22


def test_every_optimizer_and_schedule_runs(photos, tmp_path):
    for i, (opt, sched) in enumerate([("sgd", "step"), ("rmsprop", "constant"), ("adamw", "cosine")]):
        r = recipe_for(photos, **{"optimizer.name": opt, "optimizer.lr": 0.001, "schedule.name": sched,
                                  "train.steps": 4, "data.val": "null"})
        Trainer(r, tmp_path / str(i), progress=False).run()
        assert (tmp_path / str(i) / "model.safetensors").is_file()


def test_the_chart_is_drawn_at_validations_and_at_the_end(photos, tmp_path, monkeypatch):
    import restora.train.plots as plots

    drawn = []
    monkeypatch.setattr(plots, "plot_curves", lambda rows, path: drawn.append(rows[-1]["step"]))
    recipe = recipe_for(photos, **{"train.steps": 25, "train.log_every": 5, "train.val_every": 10})
    Trainer(recipe, tmp_path, progress=False).run()
    assert drawn == [10, 20, 25] and len(read_log(tmp_path)) == 5


def test_resume_after_interrupt_is_bit_exact(photos, tmp_path):
    recipe = recipe_for(photos, **{"train.steps": 20, "data.val": "null"})
    straight = Trainer(recipe, tmp_path / "a", progress=False)
    straight.run()

    resumed = interrupt_then_resume(recipe, tmp_path / "b", at_step=13)
    assert resumed.step == 13
    resumed.run()
    for (k, a), b in zip(straight.objective.net.state_dict().items(), resumed.objective.net.state_dict().values()):
        assert torch.equal(a, b), k


def test_a_used_run_folder_needs_resume(photos, tmp_path):
    recipe = recipe_for(photos, **{"train.steps": 2, "data.val": "null"})
    Trainer(recipe, tmp_path, progress=False).run()
    with pytest.raises(Exception, match="--resume"):
        Trainer(recipe, tmp_path, progress=False)


def test_torchrun_two_processes_end_with_identical_weights(photos, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import os, torch
        from restora.train import Trainer, apply_overrides, load_recipe, parse_recipe
        recipe = {recipe_for(photos, **{"train.steps": 6, "data.val": "null"})!r}
        trainer = Trainer(recipe, {str(tmp_path / "run")!r}, progress=False)
        trainer.run()
        rank = int(os.environ["RANK"])
        torch.save(trainer.objective.net.state_dict(), {str(tmp_path)!r} + f"/rank{{rank}}.pt")
        torch.save(trainer.gen.get_state(), {str(tmp_path)!r} + f"/gen{{rank}}.pt")
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_port=29517",
                    str(script)], check=True, env=env, cwd=tmp_path, timeout=300)
    a, b = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert all(torch.equal(a[k], b[k]) for k in a)
    # each rank drew its own patches
    assert not torch.equal(torch.load(tmp_path / "gen0.pt"), torch.load(tmp_path / "gen1.pt"))
    assert (tmp_path / "run" / "model.safetensors").is_file()


def test_training_data_may_be_a_list_of_sources(photos, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    PILImage.fromarray(skdata.rocket()).resize((96, 64)).save(other / "rocket.png")
    cache = ImageCache([str(photos), str(other)], "rgb", min_side=32)
    assert len(cache) == 5 and cache.labels is None
    assert [tuple(img.shape) for img in cache.images[-2:]] == [(3, 128, 160), (3, 64, 96)]
    weighted = ImageCache([str(photos), {"path": str(other), "repeat": 3}], "rgb", min_side=32)
    assert len(weighted) == 7 and weighted.images[-1] is weighted.images[-3]
    for bad in ({"path": str(other), "repeat": 0}, {"folder": str(other)}):
        with pytest.raises(RestoraError, match="repeat|PATH"):
            ImageCache([str(photos), bad], "rgb")
    run = tmp_path / "run"
    Trainer(recipe_for(photos, **{"data.train": f"[{photos}, {other}]", "train.steps": 20}), run, progress=False).run()
    assert (run / "model.safetensors").exists()


def test_saturation_augmentation_scales_colour_around_luma(photos, tmp_path):
    patch = torch.tensor([0.2, 0.5, 0.4]).view(3, 1, 1).expand(3, 4, 4)
    assert torch.allclose(saturate(patch, 1.0), patch)
    vivid = saturate(patch, 2.0)  # luma 0.3989: twice as far from it, luma kept
    assert torch.allclose(vivid[:, 0, 0], torch.tensor([0.0011, 0.6011, 0.4011]), atol=1e-4)
    assert torch.allclose(rgb_to_ycbcr(vivid, luma_only=True), rgb_to_ycbcr(patch, luma_only=True), atol=1e-4)
    gray = sample_patches(ImageCache(str(photos), "rgb"), 3, 32, torch.Generator().manual_seed(0),
                          saturation=(0.0, 0.0))
    assert gray.std(1).max() < 1e-6 and gray.std() > 0.05


def test_augmentation_ranges_outside_their_rule_are_one_line_recipe_errors(photos, tmp_path):
    for key, bad in (("saturation", "[2, 1]"), ("saturation", "1.5"), ("rescale", "[0, 1]"),
                     ("rescale", "[0.6, 2]"), ("rescale", "[a, 1]")):
        with pytest.raises(RestoraError, match=f"data.{key} must be"):
            Trainer(recipe_for(photos, **{f"data.{key}": bad}), tmp_path / "run", progress=False)


def test_a_deeper_network_grown_from_a_shallower_one_starts_with_the_same_output(tmp_path):
    shallow = build_net("unet-denoiser", channels=3, width=8, blocks=1)
    save_weights(shallow, tmp_path / "shallow.safetensors", "unet-denoiser", {"channels": 3, "width": 8, "blocks": 1})
    deep = build_net("unet-denoiser", channels=3, width=8, blocks=3)
    warm_start(deep, tmp_path / "shallow.safetensors")
    x, sigma = torch.rand(2, 3, 24, 24), torch.tensor([0.1, 0.2])
    with torch.no_grad():
        assert torch.allclose(deep(x, sigma), shallow(x, sigma), atol=1e-6)
        assert deep.mid[2].body[0].weight.abs().sum() > 0  # new blocks can learn: only the last conv is zero


def test_a_model_trained_in_stages_starts_from_the_last_and_ships_with_every_stage(photos, tmp_path, monkeypatch,
                                                                                   cli_inline):
    """The card is a function of the run folder alone: shipped after configs/ is gone, from elsewhere."""
    import shutil

    import yaml

    monkeypatch.chdir(tmp_path)
    first = recipe_for(photos, **{"train.steps": 40, "train.val_every": 20})
    second = apply_overrides(first, ["init=runs/first/model.safetensors", "seed=4"])
    (tmp_path / "configs").mkdir()
    for name, recipe in (("first", first), ("second", second)):
        (tmp_path / "configs" / f"{name}.yaml").write_text(yaml.safe_dump(recipe))
    Trainer(first, "runs/first", progress=False, recipe_file="configs/first.yaml").run()
    trainer = Trainer(second, "runs/second", progress=False, recipe_file="configs/second.yaml")
    trained = load_net("runs/first/model.safetensors").state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in trainer.objective.net.state_dict().items())
    trainer.run()
    shutil.rmtree(tmp_path / "configs")
    shutil.move(tmp_path / "runs", tmp_path / "elsewhere")

    shipped = cli_inline("ship", tmp_path / "elsewhere" / "second", "--name", "tiny", "--method", "tiny-dn",
                         "--summary", "a test model", "--zoo", tmp_path / "zoo")
    assert shipped.returncode == 0, shipped.stderr
    card = (tmp_path / "zoo" / "cards" / "tiny.md").read_text()
    assert "| 1 | `configs/first.yaml` | 40 |" in card and "| 2 | `configs/second.yaml` | 40 |" in card
    assert "`OMP_NUM_THREADS=1 restora train configs/first.yaml`, then `OMP_NUM_THREADS=1 restora train " \
           "configs/second.yaml`" in card
    assert "### Stage 1 validation curve (`configs/first.yaml`)" in card
    threads = torch.get_num_threads()
    assert "in all stages" in card and f"{'one torch thread' if threads == 1 else f'{threads} torch threads'} on a" in card
    assert "(every tensor whose name and shape match) |" in card  # FFDNet has no residual blocks to grow
    assert load_net(tmp_path / "zoo" / "weights" / "tiny.safetensors") is not None
    assert json.loads((tmp_path / "zoo" / "models.json").read_text())[0]["method"] == "tiny-dn"


def _validation_and_bench(task: str, method: str, weights: str, data: dict, setting, folder: Path,
                          tmp_path: Path) -> tuple[float, float]:
    """(validation PSNR by the training engine, restora bench PSNR) of a shipped model on one folder."""
    from restora.bench import run_bench
    from restora.zoo import PACKAGE_ZOO

    path = PACKAGE_ZOO / "weights" / f"{weights}.safetensors"
    meta = read_metadata(path)
    recipe = {"task": task, "init": str(path), "net": {"name": meta["arch"], "args": json.loads(meta["kwargs"])},
              "data": {"train": str(folder), "val": str(folder), "patch": 32, **data},
              "train": {"steps": 1}}
    if task == "denoise":
        recipe["degradation"] = {"kind": "noise", "val_sigmas": [setting]}
    else:
        recipe["degradation"] = {"kind": "downscale", "scale": setting}
    scores = Trainer(recipe, tmp_path / "run", progress=False).objective.validate()
    row = run_bench(task, folder, [setting], [method])[-1]
    return scores["psnr"], row["psnr"]


def test_validation_during_training_equals_restora_bench(tmp_path):
    folder = tmp_path / "gray"
    folder.mkdir()
    for name in ("camera", "moon"):
        PILImage.fromarray(getattr(skdata, name)()[:200, :176]).save(folder / f"{name}.png")
    validation, bench = _validation_and_bench("denoise", "unet-denoiser", "unet-denoiser-gray", {}, 25, folder,
                                              tmp_path)
    assert abs(validation - bench) < 1e-6


def test_super_resolution_validation_equals_restora_bench_on_set5(set5, tmp_path):
    validation, bench = _validation_and_bench("upscale", "espcn", "espcn-x3", {"color": "y"}, 3, set5, tmp_path)
    assert abs(validation - bench) < 1e-6
