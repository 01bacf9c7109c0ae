"""The HTTP and websocket application over a Runtime."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from command_center.api import cameras, cases, grids, health, incidents, kpi, open311, webrtc
from command_center.api.errors import error_response, handle_http_error
from command_center.config import Config
from command_center.runtime import Runtime

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).resolve().parent.parent / "ui"


def page(relative: str) -> Route:
    async def endpoint(_request: Request) -> FileResponse:
        return FileResponse(UI_DIR / relative, headers={"Cache-Control": "no-cache"})

    return endpoint  # type: ignore[return-value]


async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal error", type(exc).__name__)


def build_app(rt: Runtime) -> Starlette:
    async def ws(websocket: WebSocket) -> None:
        await rt.hub.serve(websocket)

    async def root(_request: Request) -> RedirectResponse:
        return RedirectResponse("/wall")

    routes: list[BaseRoute] = [
        *health.routes(rt),
        *cameras.routes(rt),
        *incidents.routes(rt),
        *cases.routes(rt),
        *grids.routes(rt),
        *kpi.routes(rt),
        *open311.routes(rt),
        *webrtc.routes(rt),
        WebSocketRoute("/ws", ws),
        Route("/", root),
        Route("/wall", page("wall/index.html")),
        Route("/terminal", page("terminal/index.html")),
        Route("/citizen", page("citizen/index.html")),
        Mount("/ui", StaticFiles(directory=UI_DIR), name="ui"),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await rt.start()
        try:
            yield
        finally:
            await webrtc.close(rt)  # first: ending the publishers releases the WHIP sources' waits
            await rt.stop()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: handle_http_error, Exception: handle_unexpected},
    )
    app.state.runtime = rt
    return app


def create_app(config: Config) -> Starlette:
    return build_app(Runtime(config))
