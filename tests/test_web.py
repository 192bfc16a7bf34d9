"""The web API (restora.web) through FastAPI's test client: every endpoint, every limit, and
denoise / inpaint round trips on real photos."""
from __future__ import annotations

import io
import json
import threading
import time
import uuid
import warnings

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # starlette's note that its test client will move from httpx to httpx2
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image as PILImage  # noqa: E402

from restora.errors import RestoraError  # noqa: E402
from restora.methods import Denoiser, list_methods  # noqa: E402
from restora.web import Settings, create_app  # noqa: E402
from restora.web.jobs import Job, JobQueue  # noqa: E402


def png(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    PILImage.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def u8(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) in [0, 1] -> (H, W) or (H, W, 3) uint8."""
    a = (t.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return a[:, :, 0] if a.shape[2] == 1 else a


def decode(data: bytes) -> np.ndarray:
    with PILImage.open(io.BytesIO(data)) as im:
        return np.asarray(im).copy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255**2 / mse)


@pytest.fixture
def make_client(tmp_path):
    """make_client(**settings) -> a TestClient with its lifespan running (closed at teardown)."""
    clients = []

    def make(**kwargs) -> TestClient:
        kwargs.setdefault("result_dir", str(tmp_path / "results"))
        client = TestClient(create_app(Settings(**kwargs)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def submit(client, image: bytes, task: str, method: str = "", options: dict | None = None,
           mask: bytes | None = None, name: str = "photo.png"):
    files = {"image": (name, image, "image/png")}
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return client.post("/api/jobs", files=files,
                       data={"task": task, "method": method, "options": json.dumps(options or {})})


def wait(client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {status['state']} after {timeout} s")


def run_job(client, *args, **kwargs) -> tuple[dict, bytes]:
    r = submit(client, *args, **kwargs)
    assert r.status_code == 202, r.text
    status = wait(client, r.json()["id"])
    assert status["state"] == "done", status
    result = client.get(status["result_url"])
    assert result.status_code == 200 and result.headers["content-type"] == "image/png"
    return status, result.content


# ---------- endpoints ----------

def test_methods_come_from_the_registry(client):
    body = client.get("/api/methods").json()
    listed = {(t["name"], m["name"]) for t in body["tasks"] for m in t["methods"]}
    assert listed == {(r["task"], r["name"]) for r in list_methods()}
    tasks = {t["name"]: t for t in body["tasks"]}
    assert tasks["inpaint"]["needs_mask"] and not tasks["denoise"]["needs_mask"]
    assert [o["name"] for o in tasks["denoise"]["inputs"]] == ["sigma"]
    telea = next(m for m in tasks["inpaint"]["methods"] if m["name"] == "telea")
    assert telea["options"][0] == {"name": "radius", "type": "int", "default": 5,
                                   "help": "neighbourhood radius in pixels", "low": 1, "high": 50}
    assert body["limits"] == {"max_upload_bytes": 50_000_000, "max_pixels": 40_000_000, "queue_size": 8}


def test_a_new_method_shows_up_without_page_changes(client, extra_method):
    class Plain(Denoiser):
        name, summary = "test-plain", "returns its input"

        def denoise(self, x, sigma):
            return x

    extra_method(Plain)
    denoise = next(t for t in client.get("/api/methods").json()["tasks"] if t["name"] == "denoise")
    assert "test-plain" in [m["name"] for m in denoise["methods"]]


def test_page_and_assets(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js"' in page.text and "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/app.py").status_code == 404


def test_openapi_documents_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    expected = {("/", "get"), ("/static/{name}", "get"), ("/api/methods", "get"), ("/api/jobs", "post"),
                ("/api/jobs/{job_id}", "get"), ("/api/jobs/{job_id}", "delete"), ("/api/jobs/{job_id}/result", "get")}
    assert {(p, m) for p, ops in paths.items() for m in ops} == expected
    for path, method in expected:
        op = paths[path][method]
        assert op["summary"] and op["description"], (path, method)
    assert set(paths["/api/jobs"]["post"]["responses"]) >= {"202", "400", "413", "415", "429"}
    assert "JobStatus" in json.dumps(paths["/api/jobs/{job_id}"]["get"]["responses"]["200"])


def test_unknown_job_is_404(client):
    missing = uuid.uuid4().hex
    for r in (client.get(f"/api/jobs/{missing}"), client.get(f"/api/jobs/{missing}/result"),
              client.delete(f"/api/jobs/{missing}"), client.get("/api/jobs/..%5C..%5Cetc%5Cpasswd/result")):
        assert r.status_code == 404 and "no job" in r.json()["detail"]


# ---------- round trips ----------

def test_denoise_round_trip(client, camera):
    clean = u8(camera)
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 25, clean.shape), 0, 255).astype(np.uint8)
    status, data = run_job(client, png(noisy), "denoise", "bm3d", {"sigma": 25})
    out = decode(data)
    assert out.shape == clean.shape and out.dtype == np.uint8
    assert status["progress"] == 1.0 and status["error"] is None
    assert psnr(out, clean) > psnr(noisy, clean) + 3


def test_inpaint_round_trip(client, astronaut):
    image = u8(astronaut)
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[40:56, 20:76] = 255  # a painted stroke
    _, data = run_job(client, png(image), "inpaint", "telea", {"radius": 3}, mask=png(mask))
    out = decode(data)
    assert out.shape == image.shape
    assert np.abs(out[40:56, 20:76].astype(int) - image[40:56, 20:76]).mean() > 2
    far = np.ones(mask.shape, bool)
    far[30:66, 10:86] = False
    np.testing.assert_array_equal(out[far], image[far])


def test_result_keeps_16_bits_and_download_name(client):
    ramp = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    _, data = run_job(client, png(ramp), "upscale", "bicubic", {"scale": 2}, name="../../scan.png")
    with PILImage.open(io.BytesIO(data)) as im:
        assert im.size == (64, 64) and im.mode.startswith("I")
    job = submit(client, png(ramp), "upscale", name="../../scan.png").json()
    wait(client, job["id"])
    disposition = client.get(f"/api/jobs/{job['id']}/result").headers["content-disposition"]
    assert 'filename="scan_upscale.png"' in disposition


def test_files_are_named_by_the_server(make_client, tmp_path, camera):
    client = make_client()
    status, _ = run_job(client, png(u8(camera)), "denoise", "nlm", {"sigma": 10}, name="../../../evil.png")
    assert uuid.UUID(hex=status["id"]).hex == status["id"]
    assert [p.name for p in (tmp_path / "results").iterdir()] == [f"{status['id']}.png"]
    assert not (tmp_path / "evil.png").exists()


# ---------- limits ----------

def test_oversize_upload_is_413(make_client, camera):
    client = make_client(max_upload_bytes=2_000)
    r = submit(client, png(u8(camera)), "denoise")
    assert r.status_code == 413 and "over the upload limit of 0.002 MB" in r.json()["detail"]
    r = submit(client, b"\0" * 10_000, "denoise")  # refused for its size before it is decoded
    assert r.status_code == 413 and "0.01 MB" in r.json()["detail"]


def test_oversize_request_is_cut_off_before_it_is_read(make_client):
    client = make_client(max_upload_bytes=1_000)  # requests over 2 x 1000 + 1 MB are refused
    body = b"--b\r\n" + b"x" * 1_100_000
    r = client.post("/api/jobs", content=body, headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]
    chunks = (b"x" * 100_000 for _ in range(11))  # no Content-Length: counted while streaming
    r = client.post("/api/jobs", content=chunks, headers={"content-type": "multipart/form-data; boundary=b"})
    assert r.status_code == 413 and "larger than" in r.json()["detail"]


def test_too_many_pixels_is_413(make_client):
    client = make_client(max_pixels=1_000)
    r = submit(client, png(np.zeros((40, 40), np.uint8)), "denoise")
    assert r.status_code == 413 and "40x40 = 0.0016 megapixels, over the server's limit of 0.001 megapixels" in r.json()["detail"]


def test_non_image_upload_is_415(client, camera):
    r = submit(client, b"GIF89a? not really\n" * 20, "denoise", name="photo.png")
    assert r.status_code == 415 and "'photo.png' is not an image" in r.json()["detail"]
    r = submit(client, b"Shopping list\n- milk\n- bread\n", "denoise", name="notes.png")  # a text file renamed
    assert r.status_code == 415 and "'notes.png' is not an image" in r.json()["detail"]
    r = submit(client, png(u8(camera))[:500], "denoise")
    assert r.status_code == 415 and "damaged or incomplete" in r.json()["detail"]
    r = submit(client, png(u8(camera)), "inpaint", mask=b"not a mask")
    assert r.status_code == 415 and "mask 'mask.png' is not an image" in r.json()["detail"]


def test_float_tiff_is_read_and_its_scaling_reported(client, camera):
    """A float32 TIFF with values up to 2 is divided into [0, 1]; the note names the upload, not a
    server path."""
    values = camera[0].numpy().copy()
    values[0, 0] = 1
    buf = io.BytesIO()
    PILImage.fromarray(values * 2, mode="F").save(buf, format="TIFF")
    status, data = run_job(client, buf.getvalue(), "upscale", "bicubic", {"scale": 1}, name="depth.tif")
    assert status["warnings"] == ["'depth.tif': floating-point samples up to 2: divided by 2 into [0, 1]"]
    assert np.abs(decode(data) / 65535 - values).max() < 1e-4  # 16 bits kept


def test_wrong_mask_size_is_resized_with_a_warning(client, astronaut):
    image = u8(astronaut)
    half = np.zeros((48, 48), np.uint8)
    half[20:28, 10:38] = 255  # -> rows 40:56, columns 20:76 at full size
    status, data = run_job(client, png(image), "inpaint", "telea", mask=png(half))
    assert status["warnings"] == ["the mask is 48x48 but the image is 96x96: the mask was resized to fit "
                                  "(nearest neighbour)"]
    out = decode(data)
    assert np.abs(out[40:56, 20:76].astype(int) - image[40:56, 20:76]).mean() > 2
    np.testing.assert_array_equal(out[:30], image[:30])


@pytest.mark.parametrize("task, method, options, mask, message", [
    ("denoise", "nope", {}, None, "unknown denoise method 'nope' (available: "),
    ("sharpen", "", {}, None, "unknown task 'sharpen'"),
    ("denoise", "nlm", {"strength": 3}, None, "denoise with nlm has no option strength (it takes: sigma, factor)"),
    ("denoise", "nlm", {"factor": 99}, None, "option factor=99.0 is outside [0.1, 5.0]"),
    ("denoise", "nlm", {"sigma": "loud"}, None, "option sigma='loud' is not a float"),
    ("denoise", "nlm", {"sigma": float("nan")}, None, "options hold NaN, which is not a finite number"),
    ("denoise", "nlm", {"sigma": float("inf")}, None, "options hold Infinity, which is not a finite number"),
    ("denoise", "nlm", {"factor": float("-inf")}, None, "options hold -Infinity, which is not a finite number"),
    ("denoise", "nlm", {"sigma": "nan"}, None, "option sigma is not a number"),
    ("deblur", "wiener", {"kernel": "/etc/passwd"}, None, "bad kernel '/etc/passwd'"),
    ("inpaint", "telea", {}, None, "inpaint needs a mask"),
    ("denoise", "", {}, b"mask", "denoise takes no mask"),
])
def test_bad_requests_are_400(client, camera, task, method, options, mask, message):
    r = submit(client, png(u8(camera)), task, method, options, mask=mask)
    assert r.status_code == 400 and message in r.json()["detail"], r.text


def test_bad_options_json_and_missing_fields(client, camera):
    r = client.post("/api/jobs", files={"image": ("a.png", png(u8(camera)), "image/png")},
                    data={"task": "denoise", "options": "sigma=25"})
    assert r.status_code == 400 and "options must be a JSON object" in r.json()["detail"]
    r = client.post("/api/jobs", files={"image": ("a.png", png(u8(camera)), "image/png")},
                    data={"task": "denoise", "options": '{"sigma": 1e999}'})  # json reads it as inf
    assert r.status_code == 400 and "1e999, which is not a finite number" in r.json()["detail"]
    assert client.post("/api/jobs", data={"task": "denoise"}).status_code == 422


class Blocker(Denoiser):
    """A denoiser that waits until released: keeps the single worker busy."""

    name, summary = "test-blocker", "waits for the test"
    started = threading.Event()
    release = threading.Event()

    def denoise(self, x, sigma):
        Blocker.started.set()
        Blocker.release.wait(60)
        return x


@pytest.fixture
def blocker(extra_method):
    Blocker.started.clear()
    Blocker.release.clear()
    extra_method(Blocker)
    yield Blocker
    Blocker.release.set()


def test_full_queue_is_429_and_cancel(make_client, blocker, camera):
    client = make_client(workers=1, queue_size=1)
    image = png(u8(camera))
    running = submit(client, image, "denoise", "test-blocker", {"sigma": 5}).json()
    assert blocker.started.wait(30)
    waiting = submit(client, image, "denoise", "nlm", {"sigma": 5})
    assert waiting.status_code == 202 and waiting.json()["state"] == "queued"
    full = submit(client, image, "denoise", "nlm", {"sigma": 5})
    assert full.status_code == 429 and full.headers["retry-after"] == "5"
    assert "busy: 1 jobs are waiting already" in full.json()["detail"]

    assert client.get(f"/api/jobs/{waiting.json()['id']}/result").status_code == 409
    cancelled = client.delete(f"/api/jobs/{waiting.json()['id']}").json()
    assert cancelled["state"] == "cancelled"
    stopping = client.delete(f"/api/jobs/{running['id']}").json()
    assert stopping["state"] == "running" and stopping["cancel_requested"]
    blocker.release.set()
    assert wait(client, running["id"])["state"] == "cancelled"
    assert submit(client, image, "denoise", "nlm", {"sigma": 5}).status_code == 202  # room again


def test_deleting_a_finished_job_deletes_its_result(make_client, tmp_path, camera):
    client = make_client()
    status, _ = run_job(client, png(u8(camera)), "denoise", "nlm", {"sigma": 10})
    assert client.delete(f"/api/jobs/{status['id']}").status_code == 200
    assert client.get(f"/api/jobs/{status['id']}").status_code == 404
    assert list((tmp_path / "results").iterdir()) == []


def test_results_over_the_cap_are_deleted_oldest_first(make_client, camera):
    client = make_client(result_cap_bytes=1)
    first, _ = run_job(client, png(u8(camera)), "denoise", "nlm", {"sigma": 10})
    second, _ = run_job(client, png(u8(camera)), "denoise", "nlm", {"sigma": 20})
    gone = client.get(f"/api/jobs/{first['id']}/result")
    assert gone.status_code == 410 and "deleted" in gone.json()["detail"]
    assert client.get(f"/api/jobs/{second['id']}/result").status_code == 200  # the newest is kept


def test_finished_jobs_expire(tmp_path):
    queue = JobQueue(workers=1, queue_size=2, result_dir=tmp_path, ttl_s=0.2)
    job = queue.submit(Job(id=queue.new_id(), task="denoise", method="x",
                           work=lambda job, path: path.write_bytes(b"png")))
    for _ in range(100):
        if job.state == "done":
            break
        time.sleep(0.02)
    assert job.state == "done" and job.result_path.exists()
    time.sleep(0.3)
    assert queue.get(job.id) is None and list(tmp_path.iterdir()) == []
    queue.close()


class Broken(Denoiser):
    name, summary = "test-broken", "fails"

    def denoise(self, x, sigma):
        raise {"user": RestoraError("the image is too dark"), "bug": ZeroDivisionError("division by zero")}[
            "user" if sigma < 10 else "bug"]


def test_a_failing_job_reports_its_error(client, extra_method, camera):
    extra_method(Broken)
    r = submit(client, png(u8(camera)), "denoise", "test-broken", {"sigma": 5})
    status = wait(client, r.json()["id"])
    assert status["state"] == "failed" and status["error"] == "the image is too dark"
    result = client.get(f"/api/jobs/{status['id']}/result")
    assert result.status_code == 409 and "the image is too dark" in result.json()["detail"]
    r = submit(client, png(u8(camera)), "denoise", "test-broken", {"sigma": 20})
    status = wait(client, r.json()["id"])
    assert status["error"] == "internal error: ZeroDivisionError: division by zero"


def test_a_painted_full_size_photo_is_filled_by_the_default_photo_inpainter(client, data_dir):
    """A 12-megapixel photo (McMaster's first image enlarged) with a painted stroke, the method left to
    the task's default: the learned photo inpainter fills the stroke and keeps every other pixel."""
    path = sorted((data_dir / "denoise" / "color" / "mcmaster").glob("*.png"))[0]
    photo = np.asarray(PILImage.open(path).convert("RGB").resize((4000, 3000), PILImage.BICUBIC))
    mask = np.zeros(photo.shape[:2], np.uint8)
    mask[1400:1460, 1000:2600] = 255  # a painted stroke across the photo
    status, data = run_job(client, png(photo), "inpaint", "", mask=png(mask))
    assert status["method"] == "photo-inpainter"
    out = decode(data)
    assert out.shape == photo.shape
    keep = mask == 0
    np.testing.assert_array_equal(out[keep], photo[keep])
    assert np.abs(out[~keep].astype(int) - 255).mean() > 40  # filled, not left white
