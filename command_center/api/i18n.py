"""GET /api/i18n/{lang}: a language's message catalogue, for the pages (public: the
sign-in form is translated too), with the city's time zone in `X-Time-Zone` (the pages show
every time in it, not in the browser's)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.i18n import LANGUAGES, catalogue


async def get_catalogue(request: Request) -> JSONResponse:
    lang = request.path_params["lang"]
    if lang not in LANGUAGES:
        raise ApiError(404, "no such language", {"known": list(LANGUAGES)})
    zone = deps.config(request).dispatch.timezone
    return JSONResponse(catalogue(lang), headers={"Cache-Control": "no-cache", "X-Time-Zone": zone})


routes: list[BaseRoute] = [Route("/api/i18n/{lang}", get_catalogue, methods=["GET"])]
