"""The command line: in this process through ``restora.cli.main.main`` (fast), and through the installed
entry point and ``python -m restora`` in a subprocess for two of them."""
from __future__ import annotations

import json

import torch
from conftest import read_u8
from PIL import Image as PILImage

from restora.degrade import gaussian_noise, imresize
from restora.io import Image, read_image, write_image
from restora.methods import TASKS, get_method
from restora.metrics import psnr


def assert_one_line_error(result, *names: str) -> None:
    """Exit code 2, no traceback, and every stderr line a one-line error (naming ``names``)."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("restora: error: ") for line in lines), result.stderr
    for name in names:
        assert any(name in line for line in lines), (name, result.stderr)


def test_denoise_one_file(cli_inline, camera, tmp_path):
    noisy = gaussian_noise(camera, 25, seed=0)
    write_image(Image(data=noisy), tmp_path / "noisy.png")
    result = cli_inline("denoise", "noisy.png", "-o", "clean.png", "--sigma", "25", "--method", "nlm", "--opt", "factor=1.0")
    assert result.returncode == 0, result.stderr
    clean = read_image(tmp_path / "clean.png")
    assert clean.channels == 1 and clean.bits == 8
    assert psnr(clean.data, camera) > psnr(noisy, camera) + 4


def test_denoise_folder_mirrors_the_tree_and_resumes(cli_inline, image_dir, tmp_path):
    result = cli_inline("denoise", image_dir, "-o", "out", "--method", "nlm")
    assert result.returncode == 0, result.stderr
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*.png")) == [
        "astronaut.png", "sub/camera.png"]
    assert "estimated sigma" in result.stderr  # no --sigma: estimated and reported per file
    gray = read_u8(tmp_path / "out" / "sub" / "camera.png")
    assert gray.ndim == 2  # gray stays gray

    before = (tmp_path / "out" / "astronaut.png").read_bytes()
    again = cli_inline("denoise", image_dir, "-o", "out", "--method", "nlm", "--sigma", "50")
    assert_one_line_error(again, "astronaut.png", "camera.png", "2 of 2")
    assert (tmp_path / "out" / "astronaut.png").read_bytes() == before  # never overwritten

    (tmp_path / "out" / "sub" / "camera.png").unlink()
    resumed = cli_inline("denoise", image_dir, "-o", "out", "--method", "nlm", "--sigma", "50", "--skip-existing")
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "out" / "astronaut.png").read_bytes() == before
    assert (tmp_path / "out" / "sub" / "camera.png").is_file()


def test_bad_file_in_a_batch_is_reported_and_the_rest_done(cli_inline, image_dir, tmp_path):
    (image_dir / "broken.png").write_text("not a png")
    result = cli_inline("upscale", image_dir, "-o", "big", "--scale", "2")
    assert_one_line_error(result, "broken.png", "1 of 3")
    assert PILImage.open(tmp_path / "big" / "astronaut.png").size == (128, 96)
    assert PILImage.open(tmp_path / "big" / "sub" / "camera.png").size == (80, 80)


def test_single_bad_inputs_give_one_line(cli_inline, tmp_path, image_dir):
    (tmp_path / "fake.jpg").write_text("hello")
    assert_one_line_error(cli_inline("denoise", "fake.jpg", "-o", "x.png"), "fake.jpg")
    assert_one_line_error(cli_inline("denoise", "missing.png", "-o", "x.png"), "missing.png")
    assert_one_line_error(cli_inline("denoise", image_dir / "astronaut.png", "-o", "x.png", "--max-pixels", "100"),
                          "astronaut.png", "limit")
    assert_one_line_error(cli_inline("denoise", image_dir / "astronaut.png", "-o", "x.png", "--opt", "bogus=1"),
                          "bogus")
    assert_one_line_error(cli_inline("inpaint", image_dir / "astronaut.png", "-o", "x.png", "--mask", "triangle"),
                          "triangle")
    assert_one_line_error(cli_inline("deblur", image_dir / "astronaut.png", "-o", "x.png", "--kernel", "wobble:3"),
                          "wobble")
    assert not (tmp_path / "x.png").exists()


def test_input_is_never_overwritten(cli_inline, image_dir):
    src = image_dir / "astronaut.png"
    before = src.read_bytes()
    assert_one_line_error(cli_inline("denoise", src, "-o", src, "--sigma", "10", "--overwrite"), "astronaut.png")
    assert src.read_bytes() == before


def test_degrade_then_restore_each_task(cli, cli_inline, image_dir, tmp_path):
    """In this process, but the last step through ``python -m restora``."""
    args = ["degrade", image_dir / "astronaut.png", "-o", "bad.png", "--noise", "white:300", "--blur", "disk:2",
            "--downscale", "2", "--mask", "boxes", "--seed", "5"]
    assert cli_inline(*args).returncode == 0
    first = (tmp_path / "bad.png").read_bytes()
    assert PILImage.open(tmp_path / "bad.png").size == (32, 24)
    assert PILImage.open(tmp_path / "bad_mask.png").size == (32, 24)
    assert PILImage.open(tmp_path / "bad_kernel.png").size == (5, 5)
    assert cli_inline(*args, "--overwrite").returncode == 0
    assert (tmp_path / "bad.png").read_bytes() == first  # deterministic by seed

    for command, option, value in (("inpaint", "--mask", "bad_mask.png"), ("deblur", "--kernel", "bad_kernel.png")):
        result = cli_inline(command, "bad.png", "-o", f"{command}.png", option, value)
        assert result.returncode == 0, result.stderr
    result = cli("upscale", "bad.png", "-o", "upscale.png", "--scale", "3", module=True)
    assert result.returncode == 0, result.stderr
    assert PILImage.open(tmp_path / "upscale.png").size == (96, 72)
    assert PILImage.open(tmp_path / "inpaint.png").size == (32, 24)


def test_methods_json(cli_inline):
    result = cli_inline("methods", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert all({"task", "name", "kind", "default"} <= set(row) for row in rows)
    assert {row["kind"] for row in rows} <= {"classical", "learned", "pipeline"}
    assert {row["task"] for row in rows if row["default"]} == set(TASKS)  # every task has a default method
    assert "bm3d" in cli_inline("methods").stdout


def test_metrics_files_and_folders(cli_inline, image_dir, tmp_path):
    assert cli_inline("degrade", image_dir, "-o", "noisy", "--noise", "gaussian:20").returncode == 0
    single = cli_inline("metrics", image_dir / "astronaut.png", "noisy/astronaut.png", "--json")
    assert single.returncode == 0, single.stderr
    report = json.loads(single.stdout)
    assert report["images"] == 1 and 20 < report["mean"]["psnr"] < 25 and 0 < report["mean"]["ssim"] < 1
    folders = json.loads(cli_inline("metrics", image_dir, "noisy", "--json", "--y", "--crop", "2").stdout)
    assert [p["b"] for p in folders["pairs"]] == ["noisy/astronaut.png", "noisy/sub/camera.png"]
    assert folders["mean"]["psnr"] == sum(p["psnr"] for p in folders["pairs"]) / 2
    table = cli_inline("metrics", image_dir, "noisy")
    assert "mean of 2" in table.stdout
    mismatched = cli_inline("metrics", image_dir / "astronaut.png", image_dir / "sub" / "camera.png")
    assert_one_line_error(mismatched, "astronaut.png", "differ")


def test_bench_json(cli_inline, image_dir):
    result = cli_inline("bench", "denoise", "--data", image_dir, "--sigma", "15,25", "--methods", "nlm", "--limit", "1",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [(r["method"], r["setting"]) for r in rows] == [("input", "sigma=15"), ("input", "sigma=25"),
                                                          ("nlm", "sigma=15"), ("nlm", "sigma=25")]
    assert all(list(r) == ["task", "method", "dataset", "setting", "psnr", "ssim", "seconds_per_image", "mp_per_s",
                           "images"] for r in rows)
    assert all(r["images"] == 1 for r in rows)
    assert_one_line_error(cli_inline("bench", "denoise", "--data", image_dir, "--sigma", "a,b"), "sigma")


def test_bench_readme_fills_the_table_of_its_subset(cli_inline, image_dir, tmp_path):
    name = f"denoise-{image_dir.name}"
    readme = tmp_path / "R.md"
    readme.write_text(f"<!-- bench:{name} -->\nall\n<!-- /bench:{name} -->\n"
                      f"<!-- bench:{name}[1:2] -->\none\n<!-- /bench:{name}[1:2] -->\n")
    result = cli_inline("bench", "denoise", "--data", image_dir, "--sigma", "15", "--methods", "nlm", "--offset", "1",
                 "--limit", "1", "--readme", readme)
    assert result.returncode == 0, result.stderr
    full, subset = readme.read_text().split(f"<!-- /bench:{name} -->")
    assert "all" in full and "one" not in subset and "| nlm |" in subset


def test_every_command_is_listed(cli):
    out = cli("--help")
    for command in ("denoise", "upscale", "inpaint", "deblur", "degrade", "metrics", "bench", "methods", "train",
                    "models", "serve"):
        assert command in out.stdout, command


def test_train_through_the_cli_and_resume(cli_inline, image_dir, tmp_path):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(f"""
net: {{name: ffdnet, args: {{channels: 1, depth: 3, width: 8}}}}
data: {{train: {image_dir}, patch: 24, batch: 4}}
degradation: {{kind: noise, sigma: [5, 50]}}
train: {{steps: 6, log_every: 3, val_every: 6, checkpoint_every: 3}}
""")
    first = cli_inline("train", recipe, "--out", "run", "--quiet", "--set", "train.steps=3")
    assert first.returncode == 0, first.stderr
    again = cli_inline("train", recipe, "--out", "run", "--quiet")
    assert_one_line_error(again, "--resume")
    resumed = cli_inline("train", recipe, "--out", "run", "--quiet", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "'step': 6" in resumed.stdout
    assert (tmp_path / "run" / "model.safetensors").is_file()
    assert cli_inline("models", "--json").returncode == 0


def test_upscale_keeps_mode_alpha_and_bit_depth(cli_inline, tiny_sr, image_dir, tmp_path):
    # no --method: the best learned upscaler (here the temporary zoo's tiny-sr) is the default
    assert cli_inline("upscale", image_dir, "-o", "big", "--scale", "2").returncode == 0
    assert read_u8(tmp_path / "big" / "sub" / "camera.png").shape == (80, 80)  # gray stays gray
    colour = read_image(tmp_path / "big" / "astronaut.png")
    assert colour.channels == 3 and colour.size == (96, 128)
    expected = get_method("upscale", tiny_sr)(read_image(image_dir / "astronaut.png"), scale=2)
    assert (colour.data - expected.data).abs().max() <= 0.5 / 255 + 1e-6

    ramp = torch.linspace(0, 1, 64).expand(1, 48, 64).contiguous()
    rgba = read_image(image_dir / "astronaut.png").data
    write_image(Image(data=rgba, alpha=ramp, bits=16), tmp_path / "rgba16.png")
    write_image(Image(data=rgba.mean(0, keepdim=True), bits=16), tmp_path / "gray16.png")
    for name in ("rgba16", "gray16"):
        assert cli_inline("upscale", f"{name}.png", "-o", f"{name}-x3.png", "--scale", "3").returncode == 0
    out = read_image(tmp_path / "rgba16-x3.png")
    assert out.bits == 16 and out.channels == 3 and out.size == (144, 192)
    alpha = imresize(read_image(tmp_path / "rgba16.png").alpha, 3).clamp(0, 1)
    assert (out.alpha - alpha).abs().max() <= 0.5 / 65535 + 1e-7  # alpha kept, resized by MATLAB bicubic
    assert ((out.data * 65535).round() % 257 != 0).any()  # 16-bit precision, not 8 bits widened
    gray = read_image(tmp_path / "gray16-x3.png")
    assert gray.bits == 16 and gray.channels == 1 and gray.alpha is None and gray.size == (144, 192)
