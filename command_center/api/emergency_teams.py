"""Emergency teams over HTTP, for the emergency page and the terminal.

GET  /api/emergency/teams?near=lon,lat&limit=50
                                         staff: teams in the jurisdiction with their members
                                         (name, on duty, last position, open tasks), nearest first
POST /api/workers/{id}/position          the worker themself, while holding an open emergency
                                         task: {lon, lat, accuracy?}; published on `emergency`

The Teams service comes from the composition root (runtime.py); it seeds the store's teams
on first use when the store has none.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, TypeGuard

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.emergency.service import OPEN_STATES, Who, worker_tasks
from command_center.emergency.teams import nearest_first
from command_center.events import Event

DEFAULT_LIMIT = 50


def local_now(conn: HTTPConnection) -> datetime:
    """Now in the city's zone: shifts are a matter of the local hour."""
    return datetime.now(deps.dispatcher(conn).tz)


async def who_of(request: Request) -> Who:
    """The caller as the timeline names them: a worker by name and team, staff by role."""
    who = principal_of(request)
    if who.is_worker and who.worker_id:
        service = deps.teams(request)
        mine = await asyncio.to_thread(service.of_worker, who.worker_id)
        return {"actor": who.worker_id, "actor_name": service.name(who.worker_id), "actor_role": who.role,
                "actor_team": mine[0]["name"] if mine else None}  # fmt: skip
    return {"actor": who.actor, "actor_name": None, "actor_role": who.role, "actor_team": None}


def open_tasks(modes: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Worker id → the titles of the open tasks they hold, across the active modes."""
    out: dict[str, list[str]] = {}
    for mode in modes:
        for task in mode["tasks"]:
            if task.get("state") in OPEN_STATES:
                for w in task.get("workers") or ():
                    out.setdefault(w, []).append(task["title"])
    return out


def _number(v: object) -> TypeGuard[int | float]:
    return isinstance(v, int | float) and not isinstance(v, bool)


def parse_near(raw: str | None) -> tuple[float, float] | None:
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError:
        raise ApiError(400, "bad near", "near=lon,lat (two numbers)") from None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # nan and inf too: the text, not them, in the answer
        raise ApiError(400, "bad near", {"near": raw, "expected": "lon in -180..180, lat in -90..90"})
    return lon, lat


async def list_teams(request: Request) -> JSONResponse:
    """The nearest `limit` teams (a city has hundreds; the page needs those near the scene)."""
    near = parse_near(request.query_params.get("near"))
    limit = int_param(request, "limit", DEFAULT_LIMIT, 1, 1000)
    who, service = principal_of(request), deps.teams(request)
    stored = await asyncio.to_thread(service.all)
    held = open_tasks(deps.emergency(request).active())
    now = local_now(request)
    mine = [t for t in stored if who.sees_area(t["street_code"])]
    # Ordered by where each street is first, so that only the teams shown are built.
    ordered = nearest_first([service.place(t) for t in mine], near)[:limit]
    items = [service.view(p["team"], now, lambda w: held.get(w, [])) | {"distance_m": p["distance_m"]} for p in ordered]
    await audit_positions(request, who, items)
    return JSONResponse({"items": items, "total": len(mine)})


async def audit_positions(request: Request, who: Principal, items: list[dict[str, Any]]) -> None:
    """Where people are is personal data: a read that shows any position is audited (once per
    user in a while: Positions.read_audit_due)."""
    shown = sum(1 for team in items for m in team.get("members", ()) if m.get("position"))
    if not shown:
        return
    if not deps.teams(request).positions.read_audit_due(who.user):
        return
    await audit.record(deps.store(request), request, who, "team.positions.view", "emergency teams", f"{shown} positions")


def holds_open_task(request: Request, worker_id: str, team_ids: list[str]) -> bool:
    for mode in deps.emergency(request).active():
        if any(t.get("state") in OPEN_STATES for t in worker_tasks(mode, worker_id, team_ids)):
            return True
    return False


async def post_position(request: Request) -> JSONResponse:
    worker_id = str(request.path_params["id"])
    body = await json_body(request, required=True)
    lon, lat, accuracy = body.get("lon"), body.get("lat"), body.get("accuracy")
    if not (_number(lon) and _number(lat)) or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise ApiError(400, "lon and lat required", "numbers: lon in -180..180, lat in -90..90")
    if accuracy is not None and not (_number(accuracy) and 0 <= accuracy <= 100_000):
        raise ApiError(400, "bad accuracy", "metres, 0..100000")
    service = deps.teams(request)
    mine = [t["id"] for t in await asyncio.to_thread(service.of_worker, worker_id)]
    # Only while they work an emergency task: a phone is not tracked otherwise.
    if not holds_open_task(request, worker_id, mine):
        raise ApiError(409, "no open emergency task", "positions are taken only while you hold one")
    fix = service.positions.put(worker_id, float(lon), float(lat), None if accuracy is None else float(accuracy))
    data = {**fix, "name": service.name(worker_id), "location": {"lon": fix["lon"], "lat": fix["lat"]}}
    await deps.bus(request).publish(Event("emergency", "team.position", data))
    return JSONResponse(fix)


def may_work_on(who: Principal, task: dict[str, Any], team_ids: list[str]) -> bool:
    """Staff coordinate every task (officers too); a worker only their own or their team's."""
    if not who.is_worker:
        return True
    return bool(who.worker_id and worker_tasks({"tasks": [task]}, who.worker_id, team_ids))


routes: list[BaseRoute] = [
    Route("/api/workers/{id}/position", post_position, methods=["POST"]),
]
# Ahead of /api/emergency/{id} (api/emergency.py puts it first).
first_routes: list[BaseRoute] = [
    Route("/api/emergency/teams", list_teams, methods=["GET"]),
]
