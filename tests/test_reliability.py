"""Reliability (issue 25): tiny and very thin images through every method, folder runs that survive
any failure, memory that stays linear in the pixels, progress of long runs, and one-line errors for
unwritable outputs, unknown formats, odd TIFFs and non-finite numbers."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import nullcontext

import numpy as np
import pytest
import tifffile
import torch
from conftest import read_u8
from PIL import Image as PILImage
from skimage import data as skdata

import restora.cli.common as common
from restora import reporting
from restora.errors import RestoraError
from restora.io import Image, read_image
from restora.methods import TASKS, Denoiser, get_method, list_methods
from restora.reporting import RestoraWarning

TINY = [(1, 1), (3, 3), (4, 4), (3, 50), (50, 3)]  # (height, width)
TASK_ARGS = {"denoise": ["--sigma", "20"], "upscale": ["--scale", "2"], "inpaint": ["--mask", "center"],
             "deblur": ["--kernel", "gaussian:0.3"], "dejpeg": ["--quality", "30"],
             "restore": ["--scale", "2"]}  # a 3x3 kernel


def one_line_errors(result, *names: str) -> list[str]:
    """Exit code 2, no traceback, every stderr line a one-line error; each of ``names`` in one of them."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines and all(line.startswith("restora: error: ") for line in lines), result.stderr
    assert all(any(name in line for line in lines) for name in names), result.stderr
    return lines


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """An RGB crop of the astronaut of that size, from a seeded position."""
    rng = np.random.default_rng(seed)
    top, left = rng.integers(0, 512 - height), rng.integers(0, 512 - width)
    return skdata.astronaut()[top:top + height, left:left + width]


# ---------- tiny and thin images ----------

@pytest.mark.parametrize("task", list(TASKS))
def test_tiny_images_through_each_task_default_are_restored_or_refused_in_one_line(cli_inline, tmp_path, task):
    """Denoise, upscale and inpaint restore every tiny image (padded inside, cropped back); deblur
    restores it or says in one line why not (a kernel larger than the image, a noise level that
    cannot be estimated from so few pixels)."""
    for height, width in TINY:
        name = f"tiny{height}x{width}.png"
        PILImage.fromarray(photo(height, width)).save(tmp_path / name)
        result = cli_inline(task, name, "-o", f"out-{name}", *TASK_ARGS[task])
        if task == "deblur" and result.returncode != 0:
            assert len(one_line_errors(result, name)) == 1
            continue
        assert result.returncode == 0, (name, result.stderr)
        factor = 2 if task in ("upscale", "restore") else 1
        assert read_u8(tmp_path / f"out-{name}").shape == (height * factor, width * factor, 3)


def test_every_method_restores_or_refuses_the_smallest_and_a_thin_image():
    """Every listed method on a 1x1 gray+alpha and a 3x50 RGBA image: the right output size (alpha
    kept, values finite); a deblurrer may refuse with RestoraError instead (its 3x3 kernel does
    not fit 1x1; pnp cannot estimate the noise of 3x50)."""
    fast = {"gan-prior": {"iterations": 2, "starts": 1}, "pnp": {"iterations": 1}}
    inputs = {"denoise": {"sigma": 20}, "upscale": {"scale": 2}, "inpaint": {"mask": "center"},
              "deblur": {"kernel": "gaussian:0.3"}, "dejpeg": {"quality": 30}, "restore": {"scale": 2}}
    refused = []
    for row in list_methods():
        for (height, width), channels in [((1, 1), 1), ((3, 50), 3)]:
            pixels = photo(height, width)[:, :, :channels]
            image = Image.from_array(np.dstack([pixels, np.full((height, width), 200, np.uint8)]))
            given, _ = TASKS[row["task"]].resolve(inputs[row["task"]], image.data)
            method = get_method(row["task"], row["name"])
            try:
                with pytest.warns(RestoraWarning) if row["name"] == "gan-prior" else nullcontext():  # no face crop
                    out = method(image, **given, **fast.get(row["name"], {}))
            except RestoraError:
                assert row["task"] == "deblur", row["name"]
                refused.append((row["name"], height, width))
                continue
            factor = 2 if row["task"] in ("upscale", "restore") else 1
            assert out.data.shape == (channels, height * factor, width * factor), row["name"]
            assert out.alpha is not None and torch.isfinite(out.data).all(), row["name"]
    assert ("wiener", 3, 50) not in refused and ("richardson-lucy", 3, 50) not in refused


def test_noise_level_of_a_tiny_image_is_not_estimated(cli_inline, tmp_path):
    PILImage.fromarray(photo(4, 4)).save(tmp_path / "tiny.png")
    one_line_errors(cli_inline("denoise", "tiny.png", "-o", "out.png"), "tiny.png", "too small to estimate")


# ---------- folder runs ----------

def test_a_folder_run_finishes_the_other_files_and_reports_failures_at_the_end(cli_inline, tmp_path):
    """A folder with a normal photo, a 1x1 image and a 50x3 strip, deblurred with a 5x5 kernel: the
    photo and the strip are written, the 1x1 is reported in one line, then the count."""
    folder = tmp_path / "photos"
    folder.mkdir()
    PILImage.fromarray(photo(40, 48)).save(folder / "photo.png")
    PILImage.fromarray(photo(1, 1)).save(folder / "dot.png")
    PILImage.fromarray(photo(50, 5)).save(folder / "strip.png")
    result = cli_inline("deblur", "photos", "-o", "out", "--kernel", "gaussian:0.5", "--method", "wiener")
    lines = one_line_errors(result, "dot.png", "1 of 3 images failed")
    assert len(lines) == 2
    assert read_u8(tmp_path / "out" / "photo.png").shape == (40, 48, 3)
    assert read_u8(tmp_path / "out" / "strip.png").shape == (50, 5, 3)


class Fragile(Denoiser):
    """A denoiser with a bug: a plain exception on images narrower than 40 pixels."""

    name, summary = "test-fragile", "fails on narrow images"

    def denoise(self, x, sigma):
        if x.shape[-1] < 40:
            raise ValueError("index 7 is out of bounds\nfor axis 1")
        return x


def test_an_unexpected_exception_fails_one_file_of_a_folder_in_one_line(cli_inline, tmp_path, extra_method):
    extra_method(Fragile)
    folder = tmp_path / "photos"
    folder.mkdir()
    PILImage.fromarray(photo(40, 48)).save(folder / "a.png")
    PILImage.fromarray(photo(40, 8)).save(folder / "b.png")
    result = cli_inline("denoise", "photos", "-o", "out", "--sigma", "5", "--method", "test-fragile")
    lines = one_line_errors(result, "b.png", "1 of 2 images failed")
    assert "unexpected ValueError: index 7 is out of bounds for axis 1" in lines[0]
    assert (tmp_path / "out" / "a.png").is_file() and not (tmp_path / "out" / "b.png").exists()
    with pytest.raises(ValueError):  # a single file keeps the traceback of a bug
        cli_inline("denoise", "photos/b.png", "-o", "b.png", "--sigma", "5", "--method", "test-fragile")


# ---------- memory ----------

# Runs the command line with sys.argv[1:], then prints the process's own peak resident memory
# (VmHWM: the ru_maxrss of a child also counts the memory of the parent it was forked from).
PEAK_MEMORY = """
import atexit, sys
atexit.register(lambda: print(next(line for line in open("/proc/self/status") if line.startswith("VmHWM:")),
                              file=sys.stderr))
from restora.cli.main import main
main(sys.argv[1:])
"""


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs Linux's /proc")


def peak_mb(*args) -> float:
    """Peak resident memory in MB of ``restora ARGS`` in a process of its own (PEAK_MEMORY)."""
    result = subprocess.run([sys.executable, "-c", PEAK_MEMORY, *map(str, args)], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return int(result.stderr.split("VmHWM:")[1].split()[0]) / 1024


def strip(path, height: int, width: int):
    """Write a photo-like RGB strip (the astronaut and its mirror images, tiled) of that size; returns ``path``."""
    tile = skdata.astronaut()
    row = np.concatenate([tile, tile[:, ::-1]], 1)
    block = np.concatenate([row, row[::-1]], 0)
    PILImage.fromarray(np.tile(block, (height // 1024 + 1, width // 1024 + 1, 1))[:height, :width]).save(path)
    return path


@needs_proc
def test_thin_images_upscale_in_memory_linear_in_pixels(tmp_path):
    """A 4x20000 and a 3x100000 strip upscaled x2 by MATLAB bicubic in a process that peaks under
    600 MB (about 300 MB of it imports; the dense resize weights alone needed 6.4 and 160 GB)."""
    (tmp_path / "strips").mkdir()
    for height, width in [(4, 20000), (3, 100000)]:
        pixels = np.tile(skdata.astronaut()[200:200 + height], (1, width // 512 + 1, 1))[:, :width]
        PILImage.fromarray(pixels).save(tmp_path / "strips" / f"{height}x{width}.png")
    peak = peak_mb("upscale", tmp_path / "strips", "-o", tmp_path / "big", "--scale", "2", "--method", "bicubic")
    assert peak < 600
    assert read_u8(tmp_path / "big" / "4x20000.png").shape == (8, 40000, 3)
    assert read_u8(tmp_path / "big" / "3x100000.png").shape == (6, 200000, 3)


@needs_proc
def test_learned_upscaling_x4_makes_the_output_without_float_copies(tmp_path, tiny_sr):
    """Between a 200x1500 and a 200x6000 strip upscaled x4 by a (tiny) learned upscaler, peak memory
    grows by 7-9 bytes per output pixel (the 8-bit result, and Pillow's copy of it when writing),
    not the 17-19 it took when float copies of the output were made: the luma is made band by band
    and each band quantised straight into the result."""
    peaks = [peak_mb("upscale", strip(tmp_path / f"{height}.png", height, 200), "-o", tmp_path / f"{height}x4.bmp",
                     "--scale", "4", "--method", tiny_sr) for height in (1500, 6000)]
    assert (peaks[1] - peaks[0]) * 2**20 / (4500 * 200 * 16) < 12
    assert read_u8(tmp_path / "6000x4.bmp").shape == (24000, 800, 3)


@needs_proc
def test_pnp_deblurs_in_tiles_of_bounded_memory(tmp_path):
    """Between a 128x1000 and a 128x4000 strip deblurred by pnp (one iteration, tiles of 256), peak
    memory grows by about 20 bytes per pixel, not the 700 it took in one piece (its float64 FFTs of
    the whole padded photo)."""
    peaks = [peak_mb("deblur", strip(tmp_path / f"{height}.png", height, 128), "-o", tmp_path / f"{height}d.png",
                     "--kernel", "gaussian:2", "--opt", "iterations=1", "--opt", "tile=256") for height in (1000, 4000)]
    assert (peaks[1] - peaks[0]) * 2**20 / (3000 * 128) < 100


class Greedy(Denoiser):
    """A denoiser that runs out of memory as torch does."""

    name, summary = "test-greedy", "asks for too much"

    def denoise(self, x, sigma):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] err == 0. DefaultCPUAllocator: can't allocate "
                           "memory: you tried to allocate 1099511627776 bytes. Error code 12")


def test_running_out_of_memory_anyway_is_one_line(cli_inline, tmp_path, extra_method):
    extra_method(Greedy)
    PILImage.fromarray(photo(16, 16)).save(tmp_path / "photo.png")
    result = cli_inline("denoise", "photo.png", "-o", "out.png", "--sigma", "5", "--method", "test-greedy")
    one_line_errors(result, "photo.png: not enough memory for this image: [enforce fail")


def test_an_image_too_large_for_memory_is_refused_before_decoding(cli_inline, tmp_path, monkeypatch):
    PILImage.fromarray(photo(64, 80)).save(tmp_path / "photo.png")
    monkeypatch.setattr(common, "available_memory", lambda: 2_000_000)
    monkeypatch.setattr(common, "read_image", lambda *a, **k: pytest.fail("decoded"))
    result = cli_inline("upscale", "photo.png", "-o", "big.png", "--scale", "4")
    need = (common.BASE_BYTES + max(common.BYTES_PER_INPUT_PIXEL, 16 * common.BYTES_PER_OUTPUT_PIXEL) * 80 * 64) / 1e6
    one_line_errors(result, "photo.png", f"80x64 image needs about {need:.0f} MB of memory", "2 MB is available")
    assert not (tmp_path / "big.png").exists()


# ---------- progress ----------

class Slow(Denoiser):
    """Three steps of 0.1 s, each reported."""

    name, summary = "test-slow", "takes its time"

    def denoise(self, x, sigma):
        for step in range(1, 4):
            time.sleep(0.1)
            reporting.progress(step, 3, "steps")
        return x


def test_a_long_run_reports_progress_lines_and_a_summary_off_a_terminal(cli_inline, tmp_path, monkeypatch,
                                                                        extra_method):
    extra_method(Slow)
    monkeypatch.setattr(common, "PROGRESS_EVERY_S", 0.05)
    PILImage.fromarray(photo(40, 48)).save(tmp_path / "photo.png")
    result = cli_inline("denoise", "photo.png", "-o", "out.png", "--sigma", "5", "--method", "test-slow")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert any("1/3 steps done, about" in line and "left" in line for line in lines), lines
    assert lines[-1].startswith("photo.png: finished in") and lines[-1].endswith("(3 steps)")


def test_a_short_run_is_quiet(cli_inline, tmp_path):
    PILImage.fromarray(photo(40, 48)).save(tmp_path / "photo.png")
    result = cli_inline("upscale", "photo.png", "-o", "big.png", "--method", "bicubic")
    assert result.returncode == 0 and result.stderr == ""


# ---------- writing ----------

def test_unwritable_output_folder_is_one_line_naming_it(cli_inline, tmp_path):
    PILImage.fromarray(photo(16, 16)).save(tmp_path / "photo.png")
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    result = cli_inline("denoise", "photo.png", "-o", "notes.txt/out.png", "--sigma", "5")
    one_line_errors(result, "notes.txt/out.png", "cannot write there")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as root: a read-only folder stays writable")
        result = cli_inline("denoise", "photo.png", "-o", "locked/out.png", "--sigma", "5")
        one_line_errors(result, "locked/out.png", "Permission denied")
        assert list(locked.iterdir()) == []  # no partial file
    finally:
        locked.chmod(0o700)


def test_unknown_output_format_is_an_error_not_a_folder(cli_inline, tmp_path):
    PILImage.fromarray(photo(16, 16)).save(tmp_path / "photo.png")
    result = cli_inline("upscale", "photo.png", "-o", "big.xyz", "--method", "bicubic")
    one_line_errors(result, "big.xyz", "unknown image format '.xyz'", ".png", ".jpg", ".tif")
    assert not (tmp_path / "big.xyz").exists()


def test_jpeg_drops_alpha_and_16_bits_with_one_warning_line(cli_inline, tmp_path):
    rgba = np.dstack([photo(16, 16), np.full((16, 16), 128, np.uint8)])
    PILImage.fromarray(rgba).save(tmp_path / "rgba.png")
    result = cli_inline("upscale", "rgba.png", "-o", "big.jpg", "--method", "bicubic")
    assert result.returncode == 0
    assert result.stderr == "big.jpg: JPEG cannot store its alpha channel; written without it\n"
    assert read_u8(tmp_path / "big.jpg").shape == (32, 32, 3)
    deep = photo(16, 16)[:, :, 0].astype(np.uint16) * 257
    PILImage.fromarray(deep).save(tmp_path / "deep.png")
    result = cli_inline("upscale", "deep.png", "-o", "deep.jpg", "--method", "bicubic")
    assert result.stderr == "deep.jpg: JPEG cannot store 16 bits per sample; written without it\n"
    assert np.abs(read_u8(tmp_path / "deep.jpg")[::2, ::2].astype(int) - deep // 257).mean() < 4  # not clipped


# ---------- reading ----------

def test_floating_point_tiffs_are_read(cli_inline, tmp_path):
    """Gray float32 (Pillow's mode F) in [0, 1] as it is; RGB float32 (Pillow cannot open it) above 1
    divided by its maximum, with a note; complex samples refused in one line saying so."""
    gray = photo(20, 24)[:, :, 0].astype(np.float32) / 255
    PILImage.fromarray(gray, mode="F").save(tmp_path / "gray.tif")
    assert torch.allclose(read_image(tmp_path / "gray.tif").data[0], torch.from_numpy(gray))
    rgb = photo(20, 24).astype(np.float32) / 100
    rgb[0, 0] = 2.5
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    result = cli_inline("upscale", "rgb.tif", "-o", "big.png", "--method", "bicubic", "--scale", "1")
    assert result.returncode == 0, result.stderr
    assert "rgb.tif: floating-point samples up to 2.5: divided by 2.5 into [0, 1]" in result.stderr
    big = read_image(tmp_path / "big.png")
    assert big.bits == 16 and torch.allclose(big.data, torch.from_numpy(rgb / 2.5).permute(2, 0, 1), atol=1e-4)
    tifffile.imwrite(tmp_path / "complex.tif", np.ones((4, 5), np.complex64))
    result = cli_inline("upscale", "complex.tif", "-o", "c.png")
    one_line_errors(result, "complex.tif", "complex64 samples: unsupported type")


@pytest.mark.parametrize("args, message", [(["--sigma", "nan"], "option sigma is not a number"),
                                           (["--sigma", "inf"], "option sigma=inf is outside [0, 255]"),
                                           (["--sigma", "5", "--method", "nlm", "--opt", "factor=nan"],
                                            "option factor is not a number")])
def test_non_finite_numbers_are_refused_on_the_command_line(cli_inline, tmp_path, args, message):
    PILImage.fromarray(photo(16, 16)).save(tmp_path / "photo.png")
    one_line_errors(cli_inline("denoise", "photo.png", "-o", "out.png", *args), message)
