"""``--ray`` (restora.cli.cluster) on a local Ray instance with 2 CPUs and 20 small photos: the files
of a local run, byte for byte; a bad image reported while the rest finish; a worker killed
mid-run changes nothing; a rerun with --skip-existing does only the missing images."""
from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from PIL import Image as PILImage
from skimage import data as skdata

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'restora[cluster]')")

TASK = ["denoise", "--sigma", "25"]


@pytest.fixture(scope="module")
def local_ray():
    """A Ray instance of this test process with 2 CPUs, which ``--ray auto`` uses."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """20 crops (128x128) of four real photos."""
    root = tmp_path_factory.mktemp("photos")
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        image = getattr(skdata, name)()
        for i in range(5):
            PILImage.fromarray(image[10 + 35 * i:138 + 35 * i, 60 + 40 * i:188 + 40 * i]).save(root / f"{name}{i}.png")
    return root


@pytest.fixture(scope="module")
def local_run(photos, tmp_path_factory) -> dict[str, bytes]:
    """The outputs of a local run on ``photos``."""
    from restora.cli.main import main

    out = tmp_path_factory.mktemp("local")
    with pytest.raises(SystemExit) as exit_info:
        main([*TASK, str(photos), "-o", str(out)])
    assert exit_info.value.code == 0
    return outputs(out)


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def test_an_address_where_nothing_answers_is_a_prompt_one_line_error(cli_inline, photos, tmp_path):
    """Before any Ray instance starts in this module: Ray itself would retry for minutes."""
    from test_cli import assert_one_line_error

    result = cli_inline(*TASK, photos, "-o", "out", "--ray", "127.0.0.1:1")
    assert_one_line_error(result, "Ray at '127.0.0.1:1': nothing answers there")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_ray_writes_the_local_files_and_reports_a_bad_image(local_ray, cli_inline, photos, local_run, tmp_path):
    (tmp_path / "in").mkdir()
    for path in photos.iterdir():
        shutil.copy(path, tmp_path / "in")
    (tmp_path / "in" / "broken.png").write_text("not a png")
    result = cli_inline(*TASK, "in", "-o", "out", "--ray", "auto", "--workers", "2")
    assert result.returncode == 2, result.stderr
    assert "in/broken.png: not an image file" in result.stderr and "1 of 21 images failed" in result.stderr
    assert outputs(tmp_path / "out") == local_run


def test_ray_survives_a_killed_worker_and_resumes(local_ray, cli_inline, photos, local_run, tmp_path):
    killed = []
    watcher = threading.Thread(target=kill_a_worker_once_one_output_is_written, args=(tmp_path / "out", killed))
    watcher.start()
    result = cli_inline(*TASK, photos, "-o", "out", "--ray", "auto", "--workers", "2")
    watcher.join()
    assert result.returncode == 0, result.stderr
    assert killed, "no Ray worker was killed"
    assert outputs(tmp_path / "out") == local_run

    missing = sorted(local_run)[::4]
    for name in missing:
        (tmp_path / "out" / name).unlink()
    kept = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.png")}
    resumed = cli_inline(*TASK, photos, "-o", "out", "--ray", "auto", "--skip-existing")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stderr.count("exists, skipped") == len(local_run) - len(missing)
    assert outputs(tmp_path / "out") == local_run
    assert {name: (tmp_path / "out" / name).stat().st_mtime_ns for name in kept} == kept


def kill_a_worker_once_one_output_is_written(out: Path, killed: list[int], timeout: float = 120) -> None:
    """SIGKILL one Ray actor process restoring images (a descendant of this process) when ``out``
    holds its first image; its pid goes in ``killed``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and not (out.is_dir() and any(out.glob("*.png"))):
        time.sleep(0.02)
    workers = [pid for pid in descendants(os.getpid()) if "MapWorker" in command_line(pid)]
    if workers:
        os.kill(workers[0], signal.SIGKILL)
        killed.append(workers[0])


def descendants(root: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def command_line(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
