"""The page in a real headless Chromium (Debian's ``chromium`` driven by Playwright): upload a
damaged photo, paint over the damage, inpaint with Telea, download and check the result.

Saves screenshots to ``tests/artifacts/`` (or ``$RESTORA_ARTIFACTS``): ``web_e2e_mask.png`` with the
painted mask and ``web_e2e.png`` with the before/after slider, the latter also to ``docs/web.png``
when ``RESTORA_UPDATE_DOCS=1``.
"""
from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from skimage import data as skdata

CHROMIUM = os.environ.get("RESTORA_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
REPO = Path(__file__).resolve().parents[1]
SIZE = 512
LINE = slice(SIZE // 2 - 3, SIZE // 2 + 3), slice(150, 362)  # the scratch: rows 253..258, columns 150..361

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
if not shutil.which(CHROMIUM):
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium, or set RESTORA_CHROMIUM)",
                allow_module_level=True)

from restora.web import Settings, create_app  # noqa: E402


@pytest.fixture
def server():
    """The real app under uvicorn on a free loopback port, in a thread; yields its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(Settings()), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        assert time.time() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)


@pytest.fixture
def browser():
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    return browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True).new_page()


def drag(page, points: list[tuple[float, float]]) -> None:
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def set_range(page, selector: str, value: float) -> None:
    page.eval_on_selector(selector, "(e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }", value)


def test_paint_inpaint_compare_download(server, page, tmp_path):
    damaged = skdata.astronaut()[:SIZE, :SIZE].copy()
    damaged[LINE] = 255  # a white scratch across the photo
    source = tmp_path / "scratched.png"
    PILImage.fromarray(damaged).save(source)

    page.goto(server)
    page.wait_for_selector("#task option[value=inpaint]", state="attached")
    page.set_input_files("#file", str(source))
    page.wait_for_selector("#stage:not([hidden])")
    assert page.inner_text("#file-info") == f"scratched.png: {SIZE} x {SIZE}"
    page.select_option("#task", "inpaint")
    page.select_option("#method", "telea")

    box = page.locator("#mask").bounding_box()
    scale = box["width"] / SIZE
    at = lambda x, y: (box["x"] + x * scale, box["y"] + y * scale)  # noqa: E731 (image -> screen)
    set_range(page, "#size", 24)
    drag(page, [at(100, 80), at(400, 80)])  # a stray stroke, taken back below
    page.click("#undo")
    assert page.is_enabled("#redo")
    drag(page, [at(145, SIZE / 2), at(256, SIZE / 2 + 1), at(367, SIZE / 2)])  # over the scratch
    artifacts = Path(os.environ.get("RESTORA_ARTIFACTS", REPO / "tests" / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=artifacts / "web_e2e_mask.png")

    page.fill("#options input[data-name=radius]", "99")  # the server refuses it, in plain words
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert "option radius=99 is outside [1, 50]" in page.inner_text("#error")
    page.fill("#options input[data-name=radius]", "5")
    page.click("#run")
    page.wait_for_selector("#result-actions:not([hidden])", timeout=120_000)
    assert page.is_hidden("#error") and page.inner_text("#status").startswith("Done in")
    assert page.is_visible("#after") and page.is_visible("#compare")

    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename == "scratched_inpaint.png"
    out_path = tmp_path / "result.png"
    download.value.save_as(out_path)
    out = np.asarray(PILImage.open(out_path))
    assert out.shape == damaged.shape
    scratch = out[LINE].astype(int)
    assert np.abs(scratch - 255).mean() > 40, "the scratch is still there"
    far = np.ones((SIZE, SIZE), bool)
    far[SIZE // 2 - 40:SIZE // 2 + 40, 110:400] = False  # everything away from the painted stroke
    np.testing.assert_array_equal(out[far], damaged[far])  # the undone stroke left no trace either

    page.mouse.move(*at(SIZE * 0.45, SIZE * 0.3))  # park the pointer, then put the divider mid-scratch
    set_range(page, "#compare", 45)
    page.screenshot(path=artifacts / "web_e2e.png")
    if os.environ.get("RESTORA_UPDATE_DOCS") == "1":  # 256 colours: a third of the size, looks the same
        (REPO / "docs").mkdir(exist_ok=True)
        shot = PILImage.open(artifacts / "web_e2e.png").convert("RGB").quantize(256, dither=PILImage.Dither.NONE)
        shot.save(REPO / "docs" / "web.png", optimize=True)


def test_narrow_screen_stacks_without_sideways_scrolling(server, browser, tmp_path):
    """On a phone (390 x 844 CSS pixels) the controls sit above the image, full width, and nothing
    is wider than the screen, before and after an image is opened."""
    photo = tmp_path / "photo.png"
    PILImage.fromarray(skdata.astronaut()).save(photo)
    page = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.goto(server)
    page.wait_for_selector("#task option[value=inpaint]", state="attached")
    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#stage:not([hidden])")
    page.select_option("#task", "inpaint")
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert widths[0] <= widths[1] == 390
    panel, viewer = page.locator("#panel").bounding_box(), page.locator("#viewer").bounding_box()
    stage, run = page.locator("#stage").bounding_box(), page.locator("#run").bounding_box()
    assert panel["width"] == 390 and viewer["y"] >= panel["y"] + panel["height"] - 1  # stacked
    assert 0 <= stage["x"] and stage["x"] + stage["width"] <= 390 and stage["width"] > 300
    assert run["width"] > 150  # the buttons share the row
    artifacts = Path(os.environ.get("RESTORA_ARTIFACTS", REPO / "tests" / "artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=artifacts / "web_narrow.png", full_page=True)
