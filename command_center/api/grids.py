"""Grids and workers: point → grid, an area with its children, a worker, and the map itself.

`PUT /api/grids` re-draws the map without a restart: the new FeatureCollection is
validated against the current map (levels it leaves out are kept), and only a clean
one is swapped in, saved under the data dir, and announced on the `grids` channel.
Open cases keep the grid code they were filed under; new cases use the new map.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import asdict
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, float_param, read_capped
from command_center.api.limits import map_limit
from command_center.auth.middleware import principal_of
from command_center.events import Event
from dispatch.city import LEVELS, Area, City, Report, Worker, build_city, city_to_geojson, validate_map
from dispatch.city.codes import is_code, level_of, significant_digits

MAX_LISTED = 1000  # problems spelled out in one answer; the counts cover the rest


def map_lock(request: Request) -> asyncio.Lock:
    """One map check or import at a time, per app: each parses a body of up to
    limits.map_mb and checks every polygon (seconds of CPU on the shared thread pool)."""
    state = request.app.state
    lock: asyncio.Lock | None = getattr(state, "map_lock", None)
    if lock is None:  # no await since the look-up: no second lock can slip in
        lock = state.map_lock = asyncio.Lock()
    return lock


def one_at_a_time(request: Request) -> asyncio.Lock:
    """The map lock, if free: a second check or import is refused at once, before its
    body is read, rather than queued."""
    lock = map_lock(request)
    if lock.locked():
        raise ApiError(409, "a map check or import is already running", "retry when it is done")
    return lock


async def locate(request: Request) -> JSONResponse:
    lon, lat = float_param(request, "lon"), float_param(request, "lat")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ApiError(400, "coordinates out of range", {"lon": lon, "lat": lat})
    index = deps.city(request).index
    located = index.locate(lon, lat)
    if located is None:
        raise ApiError(
            404,
            "no grid or community near this point",
            {"lon": lon, "lat": lat, "reason": f"outside the city: over {index.max_fallback_m:.0f} m from every community"},
        )
    return JSONResponse(located.to_dict())


async def get_area(request: Request) -> JSONResponse:
    code = request.path_params["code"]
    city = deps.city(request).city  # one map for the whole answer, even if a re-draw lands meanwhile
    found = city.areas.get(code)
    if found is None:
        raise ApiError(404, "area not found", {"code": code, "hint": "a 15-digit area code"})
    counts = await asyncio.to_thread(deps.store(request).open_counts_by_grid, _prefix(found))
    children = city.children(code)
    per_child: Counter[str] = Counter()
    for grid_code, n in counts.items():
        per_child[_child_of(found, children, grid_code)] += n
    now = datetime.now(deps.dispatcher(request).tz)
    workers = _workers_under(city, found)
    child_workers = Counter(_child_of(found, children, w.grid_code) for w in workers)
    body: dict[str, Any] = {
        "code": found.code,
        "name": found.name,
        "level": found.level,
        "parent": found.parent,
        "path": [{"code": a.code, "name": a.name, "level": a.level} for a in city.path(code)],
        "centre": {"lon": found.lon, "lat": found.lat},
        "open_cases": sum(counts.values()),
        # filed under the area itself rather than a child: points in no grid (属地兜底)
        "open_cases_direct": per_child.get(found.code, 0),
        "worker_counts": _worker_counts(workers, now),
        "children": [
            {
                "code": c.code,
                "name": c.name,
                "level": c.level,
                "open_cases": per_child.get(c.code, 0),
                "workers": child_workers.get(c.code, 0),
            }
            for c in children
        ],
    }
    if found.level == "grid":
        body["workers"] = [worker_view(w, city, now) for w in workers]
    return JSONResponse(body)


def worker_view(worker: Worker, city: City, now: datetime) -> dict[str, object]:
    view: dict[str, object] = asdict(worker)
    view.pop("away", None)  # leave instants (not JSON): on_duty below says what they mean now
    area = city.areas.get(worker.grid_code)
    view["grid_name"] = area.name if area else None
    # A point inside the grid: where the terminal files a clue when the phone has no GPS fix.
    view["grid_center"] = {"lon": area.lon, "lat": area.lat} if area else None
    view["on_duty"] = worker.on_duty(now)
    return view


async def get_worker(request: Request) -> JSONResponse:
    city_map = deps.city(request)
    worker = city_map.workers.get(request.path_params["id"])
    # Staff see the workers of their jurisdiction; one outside answers as a missing one
    # (a worker may look up only themself: the policy checks that).
    if worker is None or not principal_of(request).sees_area(worker.grid_code):
        raise ApiError(404, "worker not found", request.path_params["id"])
    return JSONResponse(worker_view(worker, city_map.city, datetime.now(deps.dispatcher(request).tz)))


async def export_map(request: Request) -> JSONResponse:
    raw = request.query_params.get("levels", "district,street,community,grid")
    levels = [lv for lv in raw.split(",") if lv]
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown or not levels:
        raise ApiError(400, "bad query parameter 'levels'", {"unknown": unknown, "known": list(LEVELS)})
    doc = await asyncio.to_thread(city_to_geojson, deps.city(request).city, levels)
    return JSONResponse(doc)


async def check_map(request: Request) -> JSONResponse:
    async with one_at_a_time(request):
        report = await _validated(request)
    return JSONResponse({"ok": report.ok, **_problems(report)}, status_code=200 if report.ok else 422)


async def replace_map(request: Request) -> JSONResponse:
    city_map, store = deps.city(request), deps.store(request)
    async with one_at_a_time(request):
        report = await _validated(request)
        if not report.ok:
            raise ApiError(422, "invalid map: nothing was changed", _problems(report))
        old = city_map.city
        new = await asyncio.to_thread(build_city, report, old)  # 20k areas: off the event loop
        await asyncio.to_thread(city_map.replace_city, new, True)  # saved under the data dir and in the store
        await deps.registry(request).changed("grids")  # the other nodes load it within a second
        counts = await asyncio.to_thread(store.open_counts_by_grid, "")
        summary = {
            **report.summary(),
            "areas": len(new.areas),
            "grids": len(new.grids),
            "kept_levels": sorted({a.level for a in old.areas.values()} - report.levels, key=LEVELS.index),
            "grids_without_workers": sum(1 for g in new.grids if g.code not in new.workers_by_grid),
            "workers_without_grid": sum(1 for w in new.workers if w.grid_code not in new.areas),
            # they keep their grid code: reassign by hand if the grid is gone for good
            "open_cases_on_removed_areas": sum(n for c, n in counts.items() if c not in new.areas),
        }
        # Done and saved: who re-drew the city's map, and what it now holds (finding 19).
        shown = {k: summary[k] for k in ("areas", "grids", "kept_levels", "open_cases_on_removed_areas")}
        await audit.record(store, request, principal_of(request), "grids.replace", "map", json.dumps(shown))
        await deps.bus(request).publish(Event("grids", "grids.replaced", summary))
        warnings = [p.to_dict() for p in report.warnings[:MAX_LISTED]]
        return JSONResponse({"replaced": True, **summary, "warnings": warnings})


async def _validated(request: Request) -> Report:
    raw = await read_capped(request, map_limit(deps.config(request)), "map")
    if not raw:
        raise ApiError(400, "request body required", "send a GeoJSON FeatureCollection")
    try:
        data = await asyncio.to_thread(json.loads, raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "malformed JSON", str(exc)) from None
    return await asyncio.to_thread(validate_map, data, deps.city(request).city)


def _problems(report: Report) -> dict[str, Any]:
    return {
        "summary": report.summary(),
        "problems": [p.to_dict() for p in report.problems[:MAX_LISTED]],
        "listed": min(len(report.problems), MAX_LISTED),
    }


def _prefix(area: Area) -> str:
    """The significant digits that every code under `area` starts with."""
    if is_code(area.code) and level_of(area.code) == area.level:
        return area.code[: significant_digits(area.level)]
    return area.code


def _child_of(area: Area, children: list[Area], code: str) -> str:
    """Which child of `area` a code under it falls in; the area itself when none does."""
    if children and is_code(code):
        level = children[0].level
        child = code[: significant_digits(level)].ljust(len(code), "0")
        if level_of(code) != area.level:
            return child
    return area.code


def _workers_under(city: City, area: Area) -> list[Worker]:
    if area.level == "grid":
        return list(city.workers_by_grid.get(area.code, ()))
    prefix = _prefix(area)
    return [w for w in city.workers if w.grid_code.startswith(prefix)]


def _worker_counts(workers: list[Worker], now: datetime) -> dict[str, int]:
    return {
        "total": len(workers),
        "full_time": sum(w.kind == "full_time" for w in workers),
        "on_duty": sum(w.on_duty(now) for w in workers),
    }


routes: list[BaseRoute] = [
    Route("/api/grids", export_map, methods=["GET"]),
    Route("/api/grids", replace_map, methods=["PUT"]),
    Route("/api/grids/validate", check_map, methods=["POST"]),
    Route("/api/grids/locate", locate),
    Route("/api/grids/{code}", get_area),
    Route("/api/workers/{id}", get_worker),
]
