"""Emergency mode over HTTP: start, list, tasks, timeline notes, end, CAP 1.2 export.

Every change is published on the `emergency` channel as emergency.started, .updated
or .ended with the event shape of command_center.emergency.service.event_view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.emergency.cap import cap_alert
from command_center.emergency.plans import CLASSES
from command_center.emergency.service import EmergencyError, event_view
from command_center.events import Event

if TYPE_CHECKING:
    from command_center.config import Config

MAX_TITLE = 200
MAX_NOTE = 2000
AUDIT_TEXT = 500  # of a note, in its audit row (the mode's own timeline keeps it whole)


async def call(work: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """The service on a worker thread (it fsyncs), its refusals as API errors."""
    try:
        return await asyncio.to_thread(work, *args)
    except EmergencyError as exc:
        raise ApiError(exc.status, exc.error, exc.detail) from None


def visible_mode(request: Request, mode_id: str) -> dict[str, Any]:
    """The mode, if it is in the caller's jurisdiction; otherwise 404, as if it did not exist."""
    try:
        mode = deps.emergency(request).get(mode_id)
    except EmergencyError as exc:
        raise ApiError(exc.status, exc.error, exc.detail) from None
    if not principal_of(request).sees_area(mode.get("grid_code")):
        raise ApiError(404, "emergency mode not found", mode_id)
    return mode


async def announce(request: Request, type_: str, mode: dict[str, Any]) -> JSONResponse:
    await deps.bus(request).publish(Event("emergency", type_, event_view(mode)))
    return JSONResponse(view(mode), status_code=201 if type_ == "emergency.started" else 200)


async def start_mode(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    who, store, config = principal_of(request), deps.store(request), deps.config(request)
    cls = body.get("class")
    if cls not in CLASSES:
        raise ApiError(400, "unknown emergency class", {"class": cls, "known": list(CLASSES)})
    incident_id = body.get("incident_id")
    title = body.get("title")
    if incident_id is not None:
        incident = await asyncio.to_thread(store.get_incident, str(incident_id))
        if incident is None or not who.sees_area(incident.get("grid_code")):
            raise ApiError(404, "incident not found", incident_id)
        lon, lat = incident["location"]["lon"], incident["location"]["lat"]
        title = title or f"{incident.get('matter_name') or incident['rule']} @ {incident['camera_id']}"
    else:
        lon, lat = _point(body)
    if not isinstance(title, str) or not title.strip():
        raise ApiError(400, "title required", "a short headline of the incident")
    city_map = deps.city(request)
    located = city_map.index.locate(lon, lat)
    if located is None:
        raise ApiError(400, "this place is outside the city's grids", {"lon": lon, "lat": lat})
    code = located.grid_code or located.community_code
    if not who.sees_area(code):
        raise ApiError(403, "forbidden", f"this place is outside your jurisdiction {who.jurisdiction}")
    area = city_map.city.areas.get(code) if code else None
    cameras = [(c.id, c.location.lon, c.location.lat) for c in config.cameras]
    drones = drone_ids(config, deps.cameras(request).tracks)
    mode = await call(
        deps.emergency(request).start, cls, title.strip()[:MAX_TITLE], (lon, lat), cameras, drones, who.actor,
        incident_id, code, area.name if area else None,
    )  # fmt: skip
    await audit.record(store, request, who, "emergency.start", mode["id"], f"{cls}: {mode['title']}")
    return await announce(request, "emergency.started", mode)


async def list_modes(request: Request) -> JSONResponse:
    who = principal_of(request)
    items = [view(m) for m in deps.emergency(request).listing() if who.sees_area(m.get("grid_code"))]
    return JSONResponse({"items": items, "total": len(items), "active": sum(1 for m in items if m["active"])})


async def get_mode(request: Request) -> JSONResponse:
    return JSONResponse(view(visible_mode(request, request.path_params["id"])))


async def task_done(request: Request) -> JSONResponse:
    body = await json_body(request)
    mode_id, task_id = request.path_params["id"], request.path_params["task_id"]
    visible_mode(request, mode_id)
    note = str(body.get("note") or "")[:MAX_NOTE]
    who = principal_of(request)
    mode = await call(deps.emergency(request).task_done, mode_id, task_id, who.actor, note)
    target, detail = f"{mode_id}/{task_id}", note[:AUDIT_TEXT] or None
    await audit.record(deps.store(request), request, who, "emergency.task_done", target, detail)
    return await announce(request, "emergency.updated", mode)


async def add_note(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    mode_id = request.path_params["id"]
    visible_mode(request, mode_id)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "text required", "the note to add to the timeline")
    who = principal_of(request)
    mode = await call(deps.emergency(request).note, mode_id, who.actor, text.strip()[:MAX_NOTE])
    await audit.record(deps.store(request), request, who, "emergency.note", mode_id, text.strip()[:AUDIT_TEXT])
    return await announce(request, "emergency.updated", mode)


async def end_mode(request: Request) -> JSONResponse:
    body = await json_body(request)
    mode_id = request.path_params["id"]
    visible_mode(request, mode_id)
    who = principal_of(request)
    note = str(body.get("note") or "")[:MAX_NOTE]
    mode = await call(deps.emergency(request).end, mode_id, who.actor, note)
    await audit.record(deps.store(request), request, who, "emergency.end", mode_id, note or None)
    return await announce(request, "emergency.ended", mode)


async def cap_export(request: Request) -> Response:
    mode = visible_mode(request, request.path_params["id"])
    plan = deps.emergency(request).plans.get(mode["class"])
    xml = cap_alert(mode, plan, f"command-center@{deps.config(request).server.host}")
    headers = {"Content-Disposition": f'attachment; filename="{mode["id"]}.cap.xml"'}
    return Response(xml, media_type="application/cap+xml", headers=headers)


def view(mode: dict[str, Any]) -> dict[str, Any]:
    return {**mode, "active": mode["ended_at"] is None}


def drone_ids(config: Config, tracks: Mapping[str, object]) -> list[str]:
    """Feeds from drones: a drone source, or any feed that has sent a position (a drone
    over WHIP is a plain `whip` camera until its telemetry arrives: its id is in `tracks`),
    or named as one."""
    return [
        c.id for c in config.cameras
        if c.kind == "drone" or c.url.startswith("sim://drone") or c.id in tracks or c.id.startswith("drone")
    ]  # fmt: skip


def _number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _point(body: dict[str, Any]) -> tuple[float, float]:
    center = body.get("center")
    where: dict[str, Any] = center if isinstance(center, dict) else body
    lon, lat = where.get("lon"), where.get("lat")
    if not (_number(lon) and _number(lat)):
        raise ApiError(400, "place required", "give incident_id, or lon and lat (numbers)")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ApiError(400, "bad coordinates", {"lon": lon, "lat": lat})
    return float(lon), float(lat)


routes: list[BaseRoute] = [
    Route("/api/emergency", start_mode, methods=["POST"]),
    Route("/api/emergency", list_modes, methods=["GET"]),
    Route("/api/emergency/{id}", get_mode, methods=["GET"]),
    Route("/api/emergency/{id}/tasks/{task_id}/done", task_done, methods=["POST"]),
    Route("/api/emergency/{id}/timeline", add_note, methods=["POST"]),
    Route("/api/emergency/{id}/end", end_mode, methods=["POST"]),
    Route("/api/emergency/{id}/cap.xml", cap_export, methods=["GET"]),
]
