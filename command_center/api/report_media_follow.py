"""Duplicates (同一问题？关注它) and the citizens' page as an installable app (PWA).

Before a report is sent the page asks GET /api/citizen/nearby for open cases of the same matter
within `report_media.duplicate_radius_m` (made in the last `duplicate_days`); it offers to
follow one instead of making a new case. A follow (POST /api/residents/me/follows) needs a
signed-in resident; it is stored once per case and resident, and 我的上报 lists the followed
cases with their status (GET /api/residents/me/follows).

The service worker is served from /citizen-sw.js (a worker's scope cannot reach above its own
folder: from the root it may take the page /citizen), the manifest from
/citizen/manifest.webmanifest with its own content type.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError, json_body
from command_center.api.limits import SMALL_BODY
from command_center.api.residents import resident_of
from command_center.store import Store
from command_center.store.report_media_records import report_media_store
from command_center.store.resident_views import STATUS_WORDS, followed
from dispatch.cases import DONE_STATES
from dispatch.catalog import Catalog
from dispatch.city import City

CITIZEN_UI = Path(__file__).resolve().parents[2] / "ui" / "citizen"  # as app.UI_DIR
EARTH_M = 6_371_000.0
MAX_NEARBY = 5


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance (haversine): what "within 50 m" means on the ground."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(math.sqrt(h))


def _float(request: Request, name: str, low: float, high: float) -> float:
    try:
        value = float(request.query_params[name])
    except KeyError:
        raise ApiError(400, f"{name} is required", {"field": name}) from None
    except ValueError:
        raise ApiError(400, f"{name} must be a number", {"field": name}) from None
    if not (low <= value <= high) or math.isnan(value):
        raise ApiError(400, f"{name} out of range", {"field": name})
    return value


async def nearby(request: Request) -> Response:
    """Open cases of the matter near the point, nearest first (at most 5)."""
    code = request.query_params.get("service_code", "")
    catalog, city = deps.catalog(request), deps.city(request).city
    try:
        catalog.get(code)
    except KeyError:
        raise ApiError(400, "unknown service_code", {"field": "service_code"}) from None
    lat, lon = _float(request, "lat", -90, 90), _float(request, "long", -180, 180)
    config = deps.config(request).report_media
    since = datetime.now(UTC) - timedelta(days=config.duplicate_days)
    store = deps.store(request)
    found = await asyncio.to_thread(
        store.open_cases_of_matter, code, since, (lon, lat, config.duplicate_radius_m)
    )
    near = sorted(
        (_metres(lon, lat, c.lon, c.lat), c) for c in found if c.lon is not None and c.lat is not None
    )
    near = [(d, c) for d, c in near if d <= config.duplicate_radius_m][:MAX_NEARBY]
    records = report_media_store(store)
    items = []
    for distance, case in near:
        area = city.areas.get(case.grid_code)
        items.append({
            "case_id": case.id, "matter": catalog.get(case.matter_code).name, "grid": area.name if area else None,
            "distance_m": round(distance), "status_text": STATUS_WORDS.get(case.state, case.state.value),
            "reported_at": case.created_at.isoformat(),
            "followers": await asyncio.to_thread(records.followers, case.id),
        })  # fmt: skip
    located = deps.city(request).index.locate(lon, lat)
    area = city.areas.get(located.grid_code or located.community_code or "") if located else None
    here = {"code": area.code, "name": area.name} if area else None  # the grid shown under the point
    return JSONResponse({"radius_m": config.duplicate_radius_m, "grid": here, "items": items})


async def follow(request: Request) -> Response:
    resident = await resident_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    case_id = body.get("case_id")
    if not isinstance(case_id, str) or not case_id or len(case_id) > 64:
        raise ApiError(400, "case_id is required", {"field": "case_id"})
    case = await asyncio.to_thread(followed, deps.store(request), case_id)
    if case is None:
        raise ApiError(404, "没有这个问题", {"field": "case_id"})
    if case.state in DONE_STATES:
        raise ApiError(409, "该问题已办结，无需关注", {"case_id": case.id})
    added = await asyncio.to_thread(
        report_media_store(deps.store(request)).follow, case.id, resident.id, datetime.now(UTC)
    )
    return JSONResponse(
        {"case_id": case.id, "followed": True, "new": added}, status_code=201 if added else 200
    )


def _follow_view(store: Store, city: City, catalog: Catalog, case_id: str, at: str) -> dict[str, Any]:
    case = followed(store, case_id)
    if case is None:
        return {"case_id": case_id, "followed_at": at, "status": "open", "status_text": "—"}
    area = city.areas.get(case.grid_code)
    reply = next((e for e in reversed(case.timeline) if e.action == "feedback" and e.note), None)
    return {
        "case_id": case_id, "followed_at": at, "matter": catalog.get(case.matter_code).name,
        "grid": area.name if area else None, "status": "closed" if case.state in DONE_STATES else "open",
        "status_text": STATUS_WORDS.get(case.state, case.state.value), "reply": reply.note if reply else None,
        "updated_at": (case.updated_at or case.created_at).isoformat(),
    }  # fmt: skip


async def my_follows(request: Request) -> Response:
    resident = await resident_of(request)
    store, city, catalog = deps.store(request), deps.city(request).city, deps.catalog(request)
    follows = await asyncio.to_thread(report_media_store(store).follows_of, resident.id)

    def build() -> list[dict[str, Any]]:
        return [_follow_view(store, city, catalog, case_id, at) for case_id, at in follows]

    return JSONResponse({"items": await asyncio.to_thread(build)})


async def service_worker(_request: Request) -> Response:
    # no-cache: an updated worker is picked up on the next load; scope: the page /citizen
    return FileResponse(_ui("sw.js"), media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/citizen"})  # fmt: skip


async def manifest(_request: Request) -> Response:
    return FileResponse(_ui("manifest.webmanifest"), media_type="application/manifest+json",
                        headers={"Cache-Control": "no-cache"})  # fmt: skip


def _ui(name: str) -> Path:
    return CITIZEN_UI / name


routes: list[BaseRoute] = [
    Route("/api/citizen/nearby", nearby, methods=["GET"]),
    Route("/api/residents/me/follows", follow, methods=["POST"]),
    Route("/api/residents/me/follows", my_follows, methods=["GET"]),
    Route("/citizen-sw.js", service_worker, methods=["GET"]),
    Route("/citizen/manifest.webmanifest", manifest, methods=["GET"]),
]
