"""One error shape for the whole API: {"error": ..., "detail": ...} with a 4xx status."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

N = TypeVar("N", int, float)


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


async def json_body(request: Request, required: bool = False) -> dict[str, Any]:
    """The request's JSON object; an empty body is {} unless required."""
    raw = await request.body()
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


def int_param(request: Request, name: str, default: int, low: int = 0, high: int = 10_000) -> int:
    return _bounded(request, name, default, low, high, int, "an integer")


def bounded_float_param(request: Request, name: str, default: float, low: float, high: float) -> float:
    return _bounded(request, name, default, low, high, float, "a number")


def _bounded(request: Request, name: str, default: N, low: N, high: N, parse: Callable[[str], N], what: str) -> N:
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
