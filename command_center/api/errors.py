"""One error shape for the whole API: {"error": ..., "detail": ...} with a 4xx status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

N = TypeVar("N", int, float)
JSON_LIMIT = 1024 * 1024  # a JSON command is small: the largest is a case report with its text


class ApiError(HTTPException):
    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(status, error)
        self.error = error
        self.payload_detail = detail


def error_response(status: int, error: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


async def handle_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return error_response(exc.status_code, exc.error, exc.payload_detail)
    return error_response(exc.status_code, exc.detail or "error")


async def json_body(request: Request, required: bool = False, limit: int = JSON_LIMIT) -> dict[str, Any]:
    """The request's JSON object; an empty body is {} unless required. Read in chunks and
    refused with 413 past `limit` (the body-limit middleware bounds it too; this holds even
    where an app runs without it)."""
    raw = await read_capped(request, limit)
    if not raw.strip():
        if required:
            raise ApiError(400, "request body required", "send a JSON object")
        return {}
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed JSON", str(exc)) from None
    if not isinstance(body, dict):
        raise ApiError(400, "malformed JSON", "expected a JSON object")
    return body


async def read_capped(request: Request, limit: int, what: str = "request") -> bytes:
    """The whole body, 413 ("<what> too large") as soon as it is known to pass `limit`: by its
    declared length before reading anything, or while reading one sent without a length
    (chunked). The body-limit middleware bounds every route already; this is the route's
    own, often tighter, limit."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"{what} too large", f"at most {limit} bytes on this route")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, f"{what} too large", f"at most {limit} bytes on this route")
    # Kept where Starlette keeps what request.body() read, so a later body() or json() still works.
    request._body = bytes(body)
    return request._body


def int_param(request: Request, name: str, default: int, low: int = 0, high: int = 10_000) -> int:
    return _bounded(request, name, default, low, high, int, "an integer")


FLAGS = {"0": False, "false": False, "1": True, "true": True}


def flag_param(request: Request, name: str) -> bool:
    """A yes/no query parameter: absent is no; given, it must be 1, 0, true or false (400)."""
    if name not in request.query_params:
        return False
    value = request.query_params[name].lower()
    if value not in FLAGS:
        raise ApiError(400, f"bad query parameter {name!r}", "1 or 0")
    return FLAGS[value]


def text_param(request: Request, name: str, limit: int = 200) -> str | None:
    """A text query parameter, or None; 400 for one no database would store (too long, NUL)."""
    raw = request.query_params.get(name)
    if raw and (len(raw) > limit or "\x00" in raw):
        raise ApiError(400, f"bad query parameter {name!r}", f"up to {limit} characters, no NUL")
    return raw or None


def bounded_float_param(request: Request, name: str, default: float, low: float, high: float) -> float:
    return _bounded(request, name, default, low, high, float, "a number")


def _bounded(
    request: Request, name: str, default: N, low: N, high: N, parse: Callable[[str], N], what: str
) -> N:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ApiError(400, f"bad query parameter {name!r}", f"expected {what}, got {raw!r}") from None
    if not low <= value <= high:
        raise ApiError(400, f"bad query parameter {name!r}", f"must be within {low}..{high}")
    return value


def float_param(request: Request, name: str) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        raise ApiError(400, f"missing query parameter {name!r}")
    try:
        return float(raw)
    except ValueError:
        raise ApiError(400, f"bad query parameter {name!r}", f"expected a number, got {raw!r}") from None
