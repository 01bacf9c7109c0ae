"""The map settings the pages read: `GET /api/map/config` → `{"basemap": {...} | null}`.

A street basemap is the city's own tile server, configured under `map.basemap`
(command_center/map_config.py); the pages draw it under the grid outlines, and without one
(the default) their maps work offline as before. Any signed-in role may read it: the wall,
the terminal and the emergency page all draw maps.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps


async def map_config(request: Request) -> JSONResponse:
    basemap = deps.config(request).map.basemap
    return JSONResponse({"basemap": None if basemap is None else basemap.model_dump()})


routes: list[BaseRoute] = [Route("/api/map/config", map_config, methods=["GET"])]
