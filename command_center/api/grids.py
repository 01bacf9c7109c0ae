"""Grids and workers: point → grid, an area with its children, a worker."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from command_center.api.errors import ApiError, float_param
from command_center.runtime import Runtime
from command_center.store import CaseQuery


def routes(rt: Runtime) -> list[Route]:
    async def locate(request: Request) -> JSONResponse:
        lon, lat = float_param(request, "lon"), float_param(request, "lat")
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ApiError(400, "coordinates out of range", {"lon": lon, "lat": lat})
        located = rt.index.locate(lon, lat)
        if located is None:
            raise ApiError(404, "no grid or community near this point", {"lon": lon, "lat": lat})
        return JSONResponse(asdict(located))

    async def area(request: Request) -> JSONResponse:
        code = request.path_params["code"]
        found = rt.city.areas.get(code)
        if found is None:
            raise ApiError(404, "area not found", code)
        prefix = code.rstrip("0") or code
        _, open_cases = await asyncio.to_thread(rt.store.list_cases, CaseQuery(open_only=True, grid_prefix=prefix, limit=1))
        return JSONResponse(
            {
                "code": found.code,
                "name": found.name,
                "level": found.level,
                "parent": found.parent,
                "path": [{"code": a.code, "name": a.name, "level": a.level} for a in rt.city.path(code)],
                "centre": {"lon": found.lon, "lat": found.lat},
                "children": [{"code": c.code, "name": c.name, "level": c.level} for c in rt.city.children(code)],
                "workers": [worker_view(w) for w in rt.city.workers_by_grid.get(code, ())],
                "open_cases": open_cases,
            }
        )

    def worker_view(worker: object) -> dict[str, object]:
        view = asdict(worker)  # type: ignore[call-overload]
        area = rt.city.areas.get(view["grid_code"])
        view["grid_name"] = area.name if area else None
        view["on_duty"] = worker.on_duty(datetime.now(rt.dispatcher.tz))  # type: ignore[attr-defined]
        return view

    async def get_worker(request: Request) -> JSONResponse:
        worker = rt.workers.get(request.path_params["id"])
        if worker is None:
            raise ApiError(404, "worker not found", request.path_params["id"])
        return JSONResponse(worker_view(worker))

    return [
        Route("/api/grids/locate", locate),
        Route("/api/grids/{code}", area),
        Route("/api/workers/{id}", get_worker),
    ]
