"""The JSON shapes of the web API (pydantic models; they also make the OpenAPI schema)."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel


class OptionInfo(BaseModel):
    name: str
    type: str
    default: Any = None
    help: str = ""
    low: float | None = None
    high: float | None = None


class MethodInfo(BaseModel):
    name: str
    kind: str
    default: bool
    summary: str
    options: list[OptionInfo]


class TaskInfo(BaseModel):
    name: str
    needs_mask: bool
    inputs: list[OptionInfo]
    methods: list[MethodInfo]


class Limits(BaseModel):
    max_upload_bytes: int
    max_pixels: int
    queue_size: int


class MethodsResponse(BaseModel):
    tasks: list[TaskInfo]
    limits: Limits


class JobStatus(BaseModel):
    id: str
    task: str
    method: str
    state: Literal["queued", "running", "done", "failed", "cancelled"]
    progress: float
    queue_position: int
    cancel_requested: bool
    error: str | None
    warnings: list[str]
    created: float
    started: float | None
    finished: float | None
    result_url: str | None


class ErrorResponse(BaseModel):
    detail: str
