"""Every request body is bounded while it is read, before anything parses or stores it.

`BodyLimitMiddleware` sits outside the auth middleware and the routes. It refuses a
declared Content-Length over the route's limit without reading a byte, and counts the
bytes of every body (chunked ones included) as they pass through `receive()`: the
chunk that would cross the limit is never handed on, so Starlette's JSON and form
parsers (multipart spools files to disk) see at most the limit. The app then gets
`BodyTooLarge` from `receive()`, a 413 in the API's error shape.

A response sent before the whole body was read (a refusal, a 401 from the policy)
carries `Connection: close`: uvicorn then drops the connection instead of reading and
discarding the rest of a body that may be gigabytes long.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from command_center.api.errors import ApiError

if TYPE_CHECKING:
    from command_center.config import Config

KB = 1024
MB = 1024 * 1024
MULTIPART_SLACK = 64 * KB  # boundaries, part headers and the other fields around an uploaded file
SMALL_BODY = 16 * KB  # a sign-in or a telemetry fix


class LimitsConfig(BaseModel):
    """Size limits on what one request may send or make the server load."""

    model_config = ConfigDict(extra="forbid")

    body_kb: int = Field(default=1024, ge=1, description="largest request body on routes without a limit of their own, KiB")
    map_mb: float = Field(
        default=16.0, gt=0, description="largest grid map sent to PUT /api/grids or POST /api/grids/validate, MiB"
    )
    import_mb: float = Field(
        default=64.0, gt=0, description="largest file sent to POST /api/import/{kind} (a city's roster, cameras, map), MiB"
    )
    photo_mb: float = Field(default=5.0, gt=0, description="largest worker photo (PUT /api/roster/{id}/photo), MiB")
    query_max_cases: int = Field(
        default=200_000, ge=1, description="cases one KPI or hotspot query may load; past it the caller must narrow the range"
    )
    kpi_default_days: int = Field(default=30, ge=1, description="the KPI range when `from` is not given: this many days to `to`")


class BodyTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, "request too large", f"at most {limit} bytes on this route")
        self.limit = limit


LimitOf = Callable[["Config"], int]
# (methods, path) → the limit, read from the config on each request (so a test, or a
# future reload, can change it). Routes not listed get limits.body_kb.
ROUTES: list[tuple[frozenset[str], re.Pattern[str], LimitOf]] = [
    (
        frozenset({"POST"}),
        re.compile(r"^/open311/v2/requests\.(json|xml)$"),
        lambda c: int(c.citizen.max_photo_mb * MB) + MULTIPART_SLACK,
    ),
    (  # a citizen's report with its photos, voice note and video (api/report_media.py)
        frozenset({"POST"}),
        re.compile(r"^/api/citizen/reports$"),
        lambda c: int((c.citizen.max_photo_mb * c.report_media.max_photos + c.report_media.max_voice_mb
                       + c.report_media.max_video_mb) * MB) + 4 * MULTIPART_SLACK,
    ),
    (
        frozenset({"POST"}),
        re.compile(r"^/api/cases/[^/]+/photos$"),
        lambda c: c.dispatch.max_photo_bytes + MULTIPART_SLACK,
    ),
    (
        frozenset({"POST"}),
        re.compile(r"^/api/field-photos$"),
        lambda c: c.dispatch.max_photo_bytes + MULTIPART_SLACK,
    ),
    (frozenset({"PUT"}), re.compile(r"^/api/grids$"), lambda c: map_limit(c)),
    (frozenset({"POST"}), re.compile(r"^/api/import/[a-z]+$"), lambda c: int(c.limits.import_mb * MB)),
    (frozenset({"PUT"}), re.compile(r"^/api/roster/[^/]+/photo$"), lambda c: int(c.limits.photo_mb * MB)),
    (frozenset({"POST"}), re.compile(r"^/api/workers/[^/]+/photo$"), lambda c: int(c.limits.photo_mb * MB)),
    (frozenset({"POST"}), re.compile(r"^/api/grids/validate$"), lambda c: map_limit(c)),
    (frozenset({"POST", "PATCH"}), re.compile(r"^/(whip|whep)/"), lambda c: c.webrtc.max_offer_bytes),
    # Public before any credential is checked, and small by nature: a name and a password, a position.
    (frozenset({"POST"}), re.compile(r"^/api/auth/login$"), lambda _c: SMALL_BODY),
    (frozenset({"POST"}), re.compile(r"^/api/drones/[^/]+/telemetry$"), lambda _c: SMALL_BODY),
]


def map_limit(config: Config) -> int:
    return int(config.limits.map_mb * MB)


def limit_for(config: Config, method: str, path: str) -> int:
    for methods, pattern, limit in ROUTES:
        if method in methods and pattern.match(path):
            return limit(config)
    return config.limits.body_kb * KB


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(self.config, scope.get("method", "GET"), scope["path"])
        declared, chunked = _framing(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)  # nothing read: the connection closes
            return
        body = _BoundedBody(receive, limit, expecting=chunked or bool(declared))
        started = False

        async def send_closing(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if not body.complete:
                    message = _with_close(message)
            await send(message)

        try:
            await self.app(scope, body.receive, send_closing)
        except BodyTooLarge:
            # Raised past every handler (the app's own handler answers it when it can).
            if not started:
                await _too_large(limit)(scope, receive, send)


class _BoundedBody:
    """Hands the body on chunk by chunk while its total stays within the limit."""

    def __init__(self, receive: Receive, limit: int, expecting: bool) -> None:
        self._receive = receive
        self.limit = limit
        self.received = 0
        self.over = False
        self.complete = not expecting  # no body announced: nothing is left unread

    async def receive(self) -> Message:
        if self.over:
            raise BodyTooLarge(self.limit)
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.limit:
                self.over = True
                raise BodyTooLarge(self.limit)
            if not message.get("more_body", False):
                self.complete = True
        return message


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """(declared Content-Length, chunked?) from the request headers."""
    declared: int | None = None
    chunked = False
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None  # uvicorn refuses a malformed length before the app runs
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return declared, chunked


def _with_close(message: Message) -> Message:
    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
    return {**message, "headers": [*headers, (b"connection", b"close")]}


def _too_large(limit: int) -> JSONResponse:
    error = BodyTooLarge(limit)
    return JSONResponse(
        {"error": error.error, "detail": error.payload_detail}, status_code=413, headers={"Connection": "close"}
    )
