"""Attendance (考勤): a grid worker's on-duty check-in and check-out inside their own grids,
their track while on duty only, and the monthly summary (input to pay and assessment).

A fix outside every grid of the worker's roster entries is refused (422) with the grid it
fell in and the distance to the nearest of theirs. The track is taken only between a
check-in and its check-out (409 otherwise: off duty nothing is recorded) and deleted after
config `attendance.track_days` by `prune_tracks`, a job the app runs.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from basedata.attendance import Placement, is_late, month_bounds, place_fix
from command_center import audit
from command_center.api import deps
from command_center.api.basedata_views import bad_field
from command_center.api.errors import ApiError, json_body
from command_center.api.patrols import coordinate, now
from command_center.auth.middleware import principal_of
from command_center.config import Config
from command_center.store.patrol_records import AlreadyOnDuty, PatrolRecords, TrackPoint, patrol_store
from dispatch.city.model import Worker

log = logging.getLogger(__name__)
MAX_POINTS = 500  # a phone's batch after a while without signal
FUTURE_SLACK = timedelta(minutes=2)  # a phone's clock a little ahead of ours


def records_of(request: Request) -> PatrolRecords:
    return patrol_store(deps.store(request))


def _own(request: Request) -> tuple[str, list[Worker]]:
    """The worker's id and their roster entries (one per grid), within their area."""
    who = principal_of(request)
    if not who.is_worker or not who.worker_id:
        raise ApiError(403, "forbidden", "only a grid worker checks in and out")
    entries = [w for w in deps.city(request).grids_of(who.worker_id) if who.sees_area(w.grid_code)]
    return who.worker_id, entries


def _placement(request: Request, entries: list[Worker], lon: float, lat: float) -> Placement:
    city = deps.city(request)

    def locate(x: float, y: float) -> str | None:
        found = city.index.locate(x, y)
        return None if found is None else found.grid_code

    def shape(code: str) -> Any:
        area = city.city.areas.get(code)
        return None if area is None else area.polygon

    placed = place_fix(lon, lat, {w.grid_code for w in entries}, locate, shape)
    if not placed.allowed:
        raise ApiError(422, "outside your grids", {"reason": placed.reason, "grid_code": placed.grid_code,
                                                   "distance_m": placed.distance_m})  # fmt: skip
    return placed


async def _fix(request: Request) -> tuple[float, float]:
    body = await json_body(request, required=True)
    return coordinate(body, "lon", -180, 180), coordinate(body, "lat", -90, 90)


async def on_duty(request: Request) -> JSONResponse:
    """Check in: inside one of the worker's grids; late when after that grid's shift start."""
    worker_id, entries = _own(request)
    lon, lat = await _fix(request)
    placed = _placement(request, entries, lon, lat)
    at = now(request)
    shift = next(w.shift for w in entries if w.grid_code == placed.grid_code)
    row = {"worker_id": worker_id, "day": at.date().isoformat(), "on_at": at.isoformat(), "off_at": None,
           "on_lon": lon, "on_lat": lat, "off_lon": None, "off_lat": None, "grid_code": placed.grid_code,
           "late": is_late(at, shift, deps.config(request).attendance.grace_min), "duty_s": None}  # fmt: skip
    try:
        await asyncio.to_thread(records_of(request).start_day, row)
    except AlreadyOnDuty as exc:
        raise ApiError(409, "checked in already today", {"day": exc.row}) from None
    who = principal_of(request)
    await audit.record(deps.store(request), request, who, "attendance.on", worker_id, str(placed.grid_code))
    return JSONResponse(row, status_code=201)


async def off_duty(request: Request) -> JSONResponse:
    """Check out of the open day, inside one of the worker's grids; its hours are counted."""
    worker_id, entries = _own(request)
    lon, lat = await _fix(request)
    records = records_of(request)
    day = await asyncio.to_thread(records.open_day, worker_id)
    if day is None:
        raise ApiError(409, "not on duty", "check in first (POST /api/attendance/on)")
    _placement(request, entries, lon, lat)
    at = now(request)
    duty_s = max(0, int((at - datetime.fromisoformat(day["on_at"])).total_seconds()))
    if not await asyncio.to_thread(records.end_day, worker_id, day["day"], at, lon, lat, duty_s):
        raise ApiError(409, "not on duty", "checked out meanwhile")
    await audit.record(deps.store(request), request, principal_of(request), "attendance.off", worker_id, day["day"])
    closed = day | {"off_at": at.isoformat(), "off_lon": lon, "off_lat": lat, "duty_s": duty_s}
    return JSONResponse(closed)


def _points(body: dict[str, Any], since: datetime, at: datetime) -> list[TrackPoint]:
    """{lon, lat} or {points: [{lon, lat, at?}]}: each at a time within the duty (default now)."""
    raw = body.get("points", [body])
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_POINTS:
        raise bad_field("points", f"a list of 1 to {MAX_POINTS} {{lon, lat, at}}")
    out = []
    for n, point in enumerate(raw):
        if not isinstance(point, dict):
            raise bad_field(f"points[{n}]", "an object {lon, lat, at}")
        when = at
        if point.get("at") is not None:
            try:
                when = datetime.fromisoformat(str(point["at"]))
            except ValueError:
                raise bad_field(f"points[{n}].at", "an ISO 8601 time with its offset") from None
            if when.tzinfo is None:
                raise bad_field(f"points[{n}].at", "an ISO 8601 time with its offset")
            if not since <= when <= at + FUTURE_SLACK:
                raise bad_field(f"points[{n}].at", "a time while you were on duty")
        try:
            lon, lat = coordinate(point, "lon", -180, 180), coordinate(point, "lat", -90, 90)
        except ApiError:
            raise bad_field(f"points[{n}]", "lon from -180 to 180 and lat from -90 to 90") from None
        out.append(TrackPoint(when, lon, lat))
    return out


async def track(request: Request) -> JSONResponse:
    """Positions while on duty only: 409 off duty, nothing stored."""
    worker_id, _entries = _own(request)
    body = await json_body(request, required=True)
    records = records_of(request)
    day = await asyncio.to_thread(records.open_day, worker_id)
    if day is None:
        raise ApiError(409, "not on duty", "the track is recorded only between check-in and check-out")
    points = _points(body, datetime.fromisoformat(day["on_at"]), now(request))
    added = await asyncio.to_thread(records.add_track, worker_id, points)
    return JSONResponse({"added": added, "sent": len(points)}, status_code=201)


async def month(request: Request) -> JSONResponse:
    """A worker's month (`worker`, default the caller; `month` YYYY-MM, default this one):
    days present, hours on duty, late starts, computed by the database. A worker sees their
    own; staff a worker with a grid in their jurisdiction."""
    who = principal_of(request)
    worker_id = request.query_params.get("worker") or (who.worker_id if who.is_worker else None)
    if not worker_id or len(worker_id) > 64 or "\x00" in worker_id:
        raise ApiError(400, "bad query parameter 'worker'", "a worker id")
    if who.is_worker and worker_id != who.worker_id:
        raise ApiError(403, "forbidden", "a worker sees only their own attendance")
    grids = [w.grid_code for w in deps.city(request).grids_of(worker_id)]
    if not who.is_worker and not any(who.sees_area(g) for g in grids):
        raise ApiError(404, "no such worker in your area", worker_id)
    asked = request.query_params.get("month") or now(request).strftime("%Y-%m")
    try:
        first, after = month_bounds(asked)
    except ValueError as exc:
        raise ApiError(400, "bad query parameter 'month'", str(exc)) from None
    summary = await asyncio.to_thread(records_of(request).month, worker_id, asked, first, after)
    return JSONResponse(summary.model_dump(mode="json"))


async def prune_tracks(store: object, config: Config) -> None:
    """The retention job: track points older than `attendance.track_days` deleted, every
    `attendance.track_every_s`; an error is logged and the next sweep goes on."""
    settings = config.attendance
    while True:
        try:
            cutoff = datetime.now(UTC) - timedelta(days=settings.track_days)
            removed = await asyncio.to_thread(patrol_store(store).prune_track, cutoff)
            if removed:
                log.info("attendance: %d track points older than %d days deleted", removed, settings.track_days)
        except Exception:  # a store hiccup must not end retention for good
            log.exception("attendance: the track sweep failed")
        await asyncio.sleep(settings.track_every_s)


routes: list[BaseRoute] = [
    Route("/api/attendance/on", on_duty, methods=["POST"]),
    Route("/api/attendance/off", off_duty, methods=["POST"]),
    Route("/api/attendance/track", track, methods=["POST"]),
    Route("/api/attendance/month", month, methods=["GET"]),
]
