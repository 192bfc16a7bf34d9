"""restora.bench: protocols, rows, formats, README splicing."""
from __future__ import annotations

import csv
import io
import json

import pytest
from PIL import Image as PILImage
from skimage import data as skdata

from restora.bench import FIELDS, format_rows, run_bench, splice_markdown
from restora.methods.tasks import split_kernel_specs
from restora.errors import RestoraError


def test_denoise_rows_follow_the_protocol(image_dir):
    calls = []
    rows = run_bench("denoise", image_dir, [15, 50], ["nlm"], progress=lambda done, total: calls.append((done, total)))
    assert [(r["method"], r["setting"]) for r in rows] == [("input", "sigma=15"), ("input", "sigma=50"),
                                                          ("nlm", "sigma=15"), ("nlm", "sigma=50")]
    for row in rows:
        assert tuple(row) == FIELDS and row["task"] == "denoise" and row["dataset"] == "photos" and row["images"] == 2
    by = {(r["method"], r["setting"]): r for r in rows}
    for label in ("sigma=15", "sigma=50"):
        assert by["nlm", label]["psnr"] > by["input", label]["psnr"] + 2
        assert by["nlm", label]["seconds_per_image"] > 0 and by["nlm", label]["mp_per_s"] > 0
        assert by["input", label]["seconds_per_image"] is None
    assert by["input", "sigma=15"]["psnr"] > by["input", "sigma=50"]["psnr"] + 8
    assert calls[-1] == (4, 4)
    scores = [(r["method"], r["setting"], r["psnr"], r["ssim"]) for r in rows]
    again = run_bench("denoise", image_dir, [15, 50], ["nlm"])  # same seeds, same scores
    assert [(r["method"], r["setting"], r["psnr"], r["ssim"]) for r in again] == scores


def test_upscale_uses_set5_layout_and_crops_to_the_scale(tmp_path):
    folder = tmp_path / "mini5" / "image_SRF_3"
    folder.mkdir(parents=True)
    PILImage.fromarray(skdata.astronaut()[:100, :98]).save(folder / "a_SRF_3_HR.png")  # not a multiple of 3
    PILImage.fromarray(skdata.astronaut()[:33, :32]).save(folder / "a_SRF_3_LR.png")
    rows = run_bench("upscale", tmp_path / "mini5", [3], ["bicubic"])
    assert [(r["method"], r["setting"], r["images"]) for r in rows] == [("bicubic", "x3", 1)]
    assert 20 < rows[0]["psnr"] < 40
    with pytest.raises(RestoraError, match="image_SRF_2"):
        run_bench("upscale", tmp_path / "mini5", [2], ["bicubic"])


def test_inpaint_and_deblur_improve_on_the_input(image_dir):
    for task, setting, method in (("inpaint", "center", "telea"), ("deblur", "gaussian:1.5", "richardson-lucy")):
        rows = run_bench(task, image_dir, [setting], [method], limit=1)
        assert [r["method"] for r in rows] == ["input", method] and rows[0]["images"] == 1
        assert rows[1]["psnr"] > rows[0]["psnr"]


def test_bad_requests(image_dir, tmp_path):
    with pytest.raises(RestoraError, match="unknown task"):
        run_bench("colourise", image_dir)
    with pytest.raises(RestoraError, match="no such folder"):
        run_bench("denoise", tmp_path / "nothing")
    with pytest.raises(RestoraError, match="unknown denoise method"):
        run_bench("denoise", image_dir, [25], ["magic"])
    with pytest.raises(RestoraError, match="NAME:OPTION=VALUE"):
        run_bench("denoise", image_dir, [25], ["nlm:factor"])
    with pytest.raises(RestoraError, match="has no option strength"):
        run_bench("denoise", image_dir, [25], ["nlm:strength=2"])
    with pytest.raises(RestoraError, match="outside"):
        run_bench("denoise", image_dir, [25], ["nlm:factor=99"])


def test_a_method_runs_with_options_under_its_own_name(image_dir):
    rows = run_bench("denoise", image_dir, [25], ["nlm", "nlm:factor=3"], limit=1)
    scores = {r["method"]: r["psnr"] for r in rows}
    assert set(scores) == {"input", "nlm", "nlm:factor=3"}
    assert scores["nlm:factor=3"] < scores["nlm"]  # three times the default strength over-smooths


ROWS = [{"task": "denoise", "method": m, "dataset": "set", "setting": s, "psnr": p, "ssim": 0.5,
         "seconds_per_image": t, "mp_per_s": t and 2.0, "images": 3}
        for m, s, p, t in [("input", "sigma=15", 24.6, None), ("input", "sigma=25", 20.2, None),
                           ("nlm", "sigma=15", 30.1, 0.5), ("nlm", "sigma=25", 27.5, 0.7)]]


def test_formats():
    assert json.loads(format_rows(ROWS, "json")) == ROWS
    parsed = list(csv.DictReader(io.StringIO(format_rows(ROWS, "csv"))))
    assert tuple(parsed[0]) == FIELDS and parsed[2]["psnr"] == "30.1"
    md = format_rows(ROWS, "md").splitlines()
    assert md[2] == "| method | sigma=15 | sigma=25 | s / image | MP/s |"
    assert md[4] == "| input | 24.60 / 0.5000 | 20.20 / 0.5000 | – | – |"
    assert md[5] == "| nlm | 30.10 / 0.5000 | 27.50 / 0.5000 | 0.600 | 2.00 |"
    with pytest.raises(RestoraError, match="format"):
        format_rows(ROWS, "xml")


def test_splice_markdown(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# T\n<!-- bench:denoise-set -->\nold\n<!-- /bench:denoise-set -->\nend\n")
    splice_markdown(readme, "denoise-set", "| new |\n")
    assert readme.read_text() == "# T\n<!-- bench:denoise-set -->\n| new |\n<!-- /bench:denoise-set -->\nend\n"
    with pytest.raises(RestoraError, match="markers"):
        splice_markdown(readme, "upscale-set5", "x")


def test_kernel_lists_keep_commas_inside_specs():
    assert split_kernel_specs("gaussian:2,motion:15,45,disk:3") == ["gaussian:2", "motion:15,45", "disk:3"]
    assert split_kernel_specs("motion:9, 30 ,kernels/k.png") == ["motion:9,30", "kernels/k.png"]
