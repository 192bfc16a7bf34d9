"""The web app behind ``restora serve``: the page and a small JSON API over the method registry.

API (every error is JSON ``{"detail": "<one plain sentence>"}``):

- ``GET /api/methods``: tasks, their inputs (sigma, scale, kernel, ...) from the task table
  (restora.methods.tasks) and their methods with options from :func:`restora.methods.list_methods`,
  plus the server's limits.
- ``POST /api/jobs`` (multipart: ``image``, ``task``, ``method``, ``options`` JSON object,
  optional ``mask`` image, white = missing): queues a job, answers its status (202).
- ``GET /api/jobs/{id}``: state, progress 0..1, error, warnings.
- ``GET /api/jobs/{id}/result``: the result as PNG (the input's bit depth, alpha and ICC profile kept).
- ``DELETE /api/jobs/{id}``: cancel a job, or forget a finished one and delete its result.

Uploads are judged by decoding them, never by name, and are stored under server-made names
(the job's uuid); nothing from a request names a file (an input that could name one, such as a
kernel or a mask, takes only the values its ``safe`` pattern allows). Limits answer 413 (too
large, too many pixels), 415 (not an image), 400 (bad task, method, option or mask use) and 429
(queue full). An uploaded mask is read as the CLI reads a mask file (restora.degrade.read_mask);
one of another size than the image is resized to it (nearest neighbour) with a warning.
"""
from __future__ import annotations

import json
import math
import re
import shutil
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from restora import reporting
from restora.degrade import read_mask
from restora.errors import RestoraError
from restora.io import read_image, write_image
from restora.methods import TASKS, get_method, list_methods
from restora.web.jobs import Job, JobQueue, QueueFull
from restora.web.schemas import (ErrorResponse, JobStatus, Limits, MethodInfo, MethodsResponse, OptionInfo,
                                  TaskInfo)

MB = 1_000_000
FORMATS = ["PNG", "JPEG", "TIFF", "WEBP", "BMP"]  # what Pillow may decode an upload as
STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
CSP = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'"
MASK = "mask"  # the task input the page paints (or takes as an uploaded image)


@dataclass
class Settings:
    """Server limits. ``result_dir`` None: a private temporary folder removed at shutdown."""

    max_upload_bytes: int = 50 * MB
    max_pixels: int = 40_000_000
    workers: int = 1
    queue_size: int = 8
    result_dir: str | None = None
    result_cap_bytes: int = 1000 * MB
    result_ttl_s: float = 3600.0


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorResponse} for code in codes}


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets 413 before it is read in full."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            return await self._too_large()(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise HTTPException(413, self._message())
            return message

        await self.app(scope, counted, send)

    def _message(self) -> str:
        return f"the request is larger than {_mb(self.limit)}; upload a smaller image"

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"detail": self._message()}, status_code=413, headers={"Connection": "close"})


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app with its own :class:`JobQueue`, closed when the app shuts down."""
    settings = settings or Settings()
    queue = JobQueue(settings.workers, settings.queue_size, settings.result_dir, settings.result_cap_bytes,
                     settings.result_ttl_s)
    static = {name: (resources.files("restora.web") / "static" / name).read_bytes() for name in STATIC}

    @asynccontextmanager
    async def lifespan(_app):
        yield
        queue.close()

    app = FastAPI(title="restora", version="1", lifespan=lifespan,
                  description="Repair images in the browser: denoise, upscale, inpaint, deblur. Jobs run one "
                              "after another in a bounded queue; poll a job, then fetch its result.")
    app.add_middleware(BodyLimit, limit=2 * settings.max_upload_bytes + MB)

    @app.exception_handler(RestoraError)
    async def restora_error(_request: Request, exc: RestoraError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(QueueFull)
    async def queue_full(_request: Request, exc: QueueFull) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "5"})

    @app.get("/", response_class=HTMLResponse, summary="The page",
             description="The single-page interface: upload, paint a mask, run, compare, download.")
    def index() -> Response:
        return Response(static["index.html"], media_type="text/html", headers={"Content-Security-Policy": CSP})

    @app.get("/static/{name}", summary="Page assets", responses=_errors(404),
             description="The page's script and style sheet, served from memory (no file lookup).")
    def asset(name: str) -> Response:
        if name not in static or name == "index.html":
            raise HTTPException(404, f"no asset '{name}'")
        return Response(static[name], media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    @app.get("/api/methods", response_model=MethodsResponse, summary="Tasks, methods and options",
             description="Every registered method grouped by task, with option metadata (type, default, range, "
                         "help) for building forms, each task's own inputs, and the server's upload limits.")
    def methods() -> MethodsResponse:
        rows = list_methods()
        tasks = [TaskInfo(name=task, needs_mask=_needs_mask(task),
                          inputs=[OptionInfo(**i.describe()) for i in spec.inputs if i.name != MASK],
                          methods=[MethodInfo(**{k: r[k] for k in MethodInfo.model_fields}) for r in rows
                                   if r["task"] == task]) for task, spec in TASKS.items()]
        return MethodsResponse(tasks=tasks, limits=Limits(max_upload_bytes=settings.max_upload_bytes,
                                                          max_pixels=settings.max_pixels,
                                                          queue_size=settings.queue_size))

    @app.post("/api/jobs", response_model=JobStatus, status_code=202, summary="Submit a job",
              responses=_errors(400, 413, 415, 429),
              description="Multipart form: `image` (PNG, JPEG, TIFF, WebP or BMP), `task`, `method` (empty: the "
                          "task's default), `options` (JSON object of task inputs such as sigma, scale or kernel "
                          "and method options), and for inpainting `mask` (white = missing; resized to the image "
                          "with a warning when its size differs). 413: file or pixel count over the limit; 415: "
                          "not an image; 429: the queue is full.")
    def submit(image: UploadFile = File(..., description="the image to restore"),
               task: str = Form(..., description="denoise, upscale, inpaint or deblur"),
               method: str = Form("", description="method name; empty for the task's default"),
               options: str = Form("{}", description='JSON object, e.g. {"sigma": 25, "factor": 0.9}'),
               mask: UploadFile | None = File(None, description="inpainting mask, white = missing")) -> JobStatus:
        given = _options_object(options)
        restorer = get_method(task, method or None, given)
        inputs, method_options = _parse_options(given, task, restorer)
        if _needs_mask(task) and mask is None and MASK not in inputs:
            raise RestoraError(f"{task} needs a mask: paint over the damaged part or upload a mask image")
        if not _needs_mask(task) and mask is not None:
            raise RestoraError(f"{task} takes no mask; remove it or choose inpaint")
        queue.ensure_room()  # before decoding anything
        job_id, saved, warnings = queue.new_id(), [], []
        label = f"'{_safe_name(image.filename, 'upload')}'"
        try:
            saved.append(image_path := queue.path(job_id, ".image"))
            image_size = _save_checked(image, image_path, label, settings)
            mask_path = None
            if mask is not None:
                saved.append(mask_path := queue.path(job_id, ".mask"))
                mask_size = _save_checked(mask, mask_path, f"mask '{_safe_name(mask.filename, 'mask')}'", settings)
                if mask_size != image_size:
                    warnings.append(f"the mask is {mask_size[0]}x{mask_size[1]} but the image is "
                                    f"{image_size[0]}x{image_size[1]}: the mask was resized to fit "
                                    "(nearest neighbour)")
            job = Job(id=job_id, task=task, method=restorer.name, inputs=saved, warnings=warnings,
                      work=_restore_work(restorer, inputs, method_options, image_path, mask_path, label,
                                         settings.max_pixels),
                      download_name=f"{Path(_safe_name(image.filename, 'image')).stem}_{task}.png")
            queue.submit(job)
        except Exception:
            for path in saved:
                path.unlink(missing_ok=True)
            raise
        return _status(queue, job)

    @app.get("/api/jobs/{job_id}", response_model=JobStatus, summary="Job status", responses=_errors(404),
             description="State (queued, running, done, failed, cancelled), progress 0..1, queue position, "
                         "error message and warnings; `result_url` once done.")
    def status(job_id: str) -> JobStatus:
        return _status(queue, _job(queue, job_id))

    @app.get("/api/jobs/{job_id}/result", summary="Job result", responses={
        200: {"content": {"image/png": {}}, "description": "the restored image as PNG"}, **_errors(404, 409, 410)},
             description="The restored image as PNG with the input's bit depth, alpha and colour profile. "
                         "409 while the job is not done; 410 when the result was deleted (expiry or size cap).")
    def result(job_id: str) -> FileResponse:
        job = _job(queue, job_id)
        if job.state != "done":
            raise HTTPException(409, f"job {job_id} is {job.state}; there is no result"
                                + (f" ({job.error})" if job.error else ""))
        path = job.result_path
        if path is None:
            raise HTTPException(410, "the result was deleted to keep the server's disk use bounded; run it again")
        return FileResponse(path, media_type="image/png", filename=job.download_name)

    @app.delete("/api/jobs/{job_id}", response_model=JobStatus, summary="Cancel or discard a job",
                responses=_errors(404),
                description="A waiting job is cancelled at once; a running one stops at its next step "
                            "(`cancel_requested` is true until then). A finished job is forgotten and its "
                            "result deleted.")
    def cancel(job_id: str) -> JobStatus:
        job = queue.cancel(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id}")
        return _status(queue, job)

    return app


def _mb(size: int) -> str:
    return f"{size / MB:.3g} MB"


def _needs_mask(task: str) -> bool:
    return any(i.name == MASK for i in TASKS[task].inputs)


def _options_object(text: str) -> dict[str, Any]:
    """The ``options`` JSON as a dict (non-finite numbers refused); RestoraError when it is not one."""
    try:
        given = json.loads(text or "{}", parse_constant=_finite, parse_float=_finite)
    except json.JSONDecodeError:
        raise RestoraError(f"options must be a JSON object such as {{\"sigma\": 25}}, not {text[:80]!r}") from None
    if not isinstance(given, dict):
        raise RestoraError("options must be a JSON object such as {\"sigma\": 25}")
    return given


def _parse_options(given: dict[str, Any], task: str, restorer) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``options`` object -> (task inputs such as sigma or kernel, checked as the task table says
    and limited to their safe values; checked method options). ``given`` is emptied."""
    spec = TASKS[task]
    allowed = [o.name for o in spec.inputs + restorer.options]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise RestoraError(f"{task} with {restorer.name} has no option {', '.join(unknown)} "
                           f"(it takes: {', '.join(allowed) or 'none'})")
    inputs = {}
    for task_input in spec.inputs:
        value = given.pop(task_input.name, None)
        if value is None or value == "":
            if task_input.required and task_input.name != MASK:
                raise RestoraError(f"{task} needs {task_input.name} ({task_input.help})")
            continue
        value = task_input.check(value)
        if task_input.safe and not task_input.safe.match(str(value)):
            raise RestoraError(f"bad {task_input.name} '{str(value)[:40]}': {task_input.help}")
        inputs[task_input.name] = value
    return inputs, restorer.check_options(given)


def _finite(text: str) -> float:
    """A JSON number as a float; NaN, Infinity (which Python's json accepts) and overflowing numbers
    such as 1e999 are refused."""
    value = float(text)
    if not math.isfinite(value):
        raise RestoraError(f"options hold {text[:40]}, which is not a finite number")
    return value


class _JobReporter(reporting.Listener):
    """A job's reports: its method's progress moves the job from 0.1 to 0.9 (the first loop's
    steps; the job's progress never goes back), its notes become the job's warnings."""

    def __init__(self, job: Job, hide: dict[str, str]) -> None:
        self.job, self.hide = job, hide

    def progress(self, done: int, total: int, unit: str) -> None:
        self.job.advance(0.1 + 0.8 * done / total)

    def note(self, message: str) -> None:
        self.job.warnings.append(_hidden(message, self.hide))


def _hidden(message: str, hide: dict[str, str]) -> str:
    """``message`` with each key of ``hide`` (a server path) replaced by its value (a name to show)."""
    for private, shown in hide.items():
        message = message.replace(private, shown)
    return message


def _save_checked(upload: UploadFile, path: Path, label: str, settings: Settings) -> tuple[int, int]:
    """Copy an upload to ``path`` and decode it; returns its (width, height) after EXIF rotation.

    413 when it is over the byte or pixel limit, 415 when it does not decode as an image.
    """
    if upload.size is not None and upload.size > settings.max_upload_bytes:
        raise HTTPException(413, f"{label} is {_mb(upload.size)}, over the upload limit of "
                                 f"{_mb(settings.max_upload_bytes)}")
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    try:
        with PILImage.open(path, formats=FORMATS) as pil:
            width, height = pil.size
            if width * height > settings.max_pixels:
                raise HTTPException(413, f"{label} is {width}x{height} = {width * height / 1e6:.3g} megapixels, "
                                         f"over the server's limit of {settings.max_pixels / 1e6:.3g} megapixels")
            if pil.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated a quarter turn by its EXIF orientation
                width, height = height, width
            pil.load()
    except PILImage.DecompressionBombError:
        raise HTTPException(413, f"{label} has too many pixels") from None
    except UnidentifiedImageError:
        raise HTTPException(415, f"{label} is not an image this server reads (PNG, JPEG, TIFF, WebP or BMP)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise HTTPException(415, f"{label} is damaged or incomplete and cannot be decoded ({exc})") from None
    return width, height


def _restore_work(restorer, inputs: dict[str, Any], options: dict[str, Any], image_path: Path,
                  mask_path: Path | None, label: str, max_pixels: int):
    """The job function: decode, resolve the task inputs (restora.methods.tasks), restore, write the
    PNG. Progress 0.1 decoded, 0.9 restored, and in between the method's own (:class:`_JobReporter`)."""
    hide = {str(image_path): label, **({str(mask_path): "the mask"} if mask_path else {})}  # no server paths shown

    def work(job: Job, out: Path) -> None:
        with reporting.listening(_JobReporter(job, hide)):
            try:
                image = read_image(image_path, max_pixels=max_pixels)
                given = dict(inputs)
                if mask_path is not None:
                    given[MASK] = read_mask(mask_path, *image.size, fit=True)
                task_inputs, notes = TASKS[restorer.task].resolve(given, image.data, source=image)
                job.warnings.extend(notes)
            except RestoraError as exc:
                raise RestoraError(_hidden(str(exc), hide)) from None
            job.advance(0.1)
            job.check_cancelled()
            restored = restorer(image, **task_inputs, **options)
            job.advance(0.9)
            job.check_cancelled()
            write_image(replace(restored, source=None), out, overwrite=True)
    return work


def _safe_name(name: str | None, fallback: str) -> str:
    """A display name for an uploaded file: its last component, plain characters only, at most 60."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", (name or "").replace("\\", "/").rsplit("/", 1)[-1])[:60]
    return cleaned.strip("._") or fallback


def _job(queue: JobQueue, job_id: str) -> Job:
    job = queue.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id[:40]} (finished jobs are forgotten after a while)")
    return job


def _status(queue: JobQueue, job: Job) -> JobStatus:
    return JobStatus(id=job.id, task=job.task, method=job.method, state=job.state, progress=round(job.progress, 3),
                     queue_position=queue.position(job), cancel_requested=job.cancel_requested.is_set(),
                     error=job.error, warnings=job.warnings, created=job.created, started=job.started,
                     finished=job.finished, result_url=f"/api/jobs/{job.id}/result" if job.result_path else None)
