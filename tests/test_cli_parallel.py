"""``--workers N`` (restora.cli.parallel): a folder over N processes writes the files one process
writes, byte for byte, and reports a bad image as one does while the rest finish."""
from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image as PILImage
from skimage import data as skdata

from restora.cli.parallel import threads_per_worker


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """photos/: four small crops of real photos (three colour, one gray, one in sub/) and a broken file."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    PILImage.fromarray(skdata.astronaut()[30:126, 150:278]).save(root / "astronaut.png")
    PILImage.fromarray(skdata.coffee()[100:196, 200:328]).save(root / "coffee.png")
    PILImage.fromarray(skdata.chelsea()[50:146, 100:228]).save(root / "chelsea.png")
    PILImage.fromarray(skdata.camera()[60:156, 200:296]).save(root / "sub" / "camera.png")
    (root / "broken.png").write_text("not a png")
    return root


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("task, entry_point", [(["denoise"], True), (["upscale", "--scale", "2"], False)],
                         ids=["denoise", "upscale"])
def test_two_workers_write_the_bytes_of_one_and_report_a_bad_image(cli, cli_inline, photos, tmp_path, task,
                                                                   entry_point):
    one = cli_inline(*task, photos, "-o", "one")
    two = (cli if entry_point else cli_inline)(*task, photos, "-o", "two", "--workers", "2")
    for result in (one, two):
        assert result.returncode == 2, result.stderr
        assert "broken.png" in result.stderr and "1 of 5 images failed" in result.stderr
        assert "Traceback" not in result.stderr
    assert sorted(outputs(tmp_path / "one")) == ["astronaut.png", "chelsea.png", "coffee.png", "sub/camera.png"]
    assert outputs(tmp_path / "two") == outputs(tmp_path / "one")


def test_workers_skip_existing_outputs(cli_inline, photos, tmp_path):
    (photos / "broken.png").unlink()
    assert cli_inline("denoise", photos, "-o", "one").returncode == 0
    coffee = (tmp_path / "one" / "coffee.png").read_bytes()
    (tmp_path / "one" / "coffee.png").unlink()
    kept = (tmp_path / "one" / "astronaut.png").stat().st_mtime_ns
    resumed = cli_inline("denoise", photos, "-o", "one", "--workers", "2", "--skip-existing")
    assert resumed.returncode == 0, resumed.stderr
    assert (tmp_path / "one" / "coffee.png").read_bytes() == coffee
    assert (tmp_path / "one" / "astronaut.png").stat().st_mtime_ns == kept


def test_each_worker_gets_its_share_of_the_cores():
    assert [threads_per_worker(n, cores=8) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
