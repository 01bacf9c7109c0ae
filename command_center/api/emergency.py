"""Emergency mode over HTTP: start, list, tasks (assign, ack, done), timeline notes, end,
CAP 1.2 export; a worker's own tasks (`mine`).

Every change is published on the `emergency` channel as emergency.started, .updated
or .ended with the event shape of command_center.emergency.service.event_view; a change
to tasks names the workers concerned (`task_assignees`), whose terminals the hub then
tells on their own channels (hub_feed.task_posts).

Plan tasks go to people: at the start each to the team of the street where the emergency
is (or a team the plan names; its leader or everyone), and staff reassign any to a named
member or another team. Staff work every task of a mode they see; a worker only theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeGuard

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps, emergency_plans, emergency_teams
from command_center.api.emergency_teams import may_work_on, who_of
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.emergency.cap import cap_alert
from command_center.emergency.plans import CLASSES, Plan
from command_center.emergency.service import Assignee, EmergencyError, brief, event_view, links, worker_tasks
from command_center.emergency.teams import Teams
from command_center.events import Event
from command_center.store.team_records import Row

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


async def call_pair(work: Callable[[], tuple[dict[str, Any], list[str]]]) -> tuple[dict[str, Any], list[str]]:
    try:
        return await asyncio.to_thread(work)
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


async def announce(
    request: Request, type_: str, mode: dict[str, Any], notify: list[str] | None = None
) -> JSONResponse:
    """Publish the change; `notify` (None for a note): tasks changed, and these workers
    lost one (see event_view)."""
    await deps.bus(request).publish(Event("emergency", type_, event_view(mode, notify)))
    return JSONResponse(view(mode), status_code=201 if type_ == "emergency.started" else 200)


def default_assignees(plan: Plan, service: Teams, grid_code: str | None) -> list[Assignee | None]:
    """Each plan task's first assignee: the team it names, else the street's; the whole
    team or its leader, as the plan says. None where there is no such team."""
    stored = service.all()
    by_id = {t["id"]: t for t in stored}
    street = service.street_team(grid_code, stored)
    out: list[Assignee | None] = []
    for template in plan.tasks:
        team = by_id.get(template.team) if template.team else None
        team = team or street
        out.append(service.assignee(team, template.assign == "leader") if team and team["members"] else None)
    return out


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
    plan = await emergency_plans.current_plan(request, cls)
    assignees = await asyncio.to_thread(default_assignees, plan, deps.teams(request), code)
    modes, by = deps.emergency(request), await who_of(request)
    mode = await call(
        lambda: modes.start(
            cls, title.strip()[:MAX_TITLE], (lon, lat), cameras, drones, who.actor, incident_id, code,
            area.name if area else None, plan=plan, assignees=assignees, who=by,
        )
    )  # fmt: skip
    await audit.record(store, request, who, "emergency.start", mode["id"], f"{cls}: {mode['title']}")
    return await announce(request, "emergency.started", mode, [])


async def list_modes(request: Request) -> JSONResponse:
    who = principal_of(request)
    items = [view(m) for m in deps.emergency(request).listing() if who.sees_area(m.get("grid_code"))]
    return JSONResponse({"items": items, "total": len(items), "active": sum(1 for m in items if m["active"])})


async def get_mode(request: Request) -> JSONResponse:
    return JSONResponse(view(visible_mode(request, request.path_params["id"])))


async def task_of(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mode and task of the path, if the caller may work on it: staff any task of a
    mode they see, a worker one named to them or to their team (403 otherwise)."""
    mode_id, task_id = request.path_params["id"], request.path_params["task_id"]
    who = principal_of(request)
    if who.is_worker:  # their jurisdiction is their own tasks, not the mode's place
        try:
            mode = deps.emergency(request).get(mode_id)
        except EmergencyError as exc:
            raise ApiError(exc.status, exc.error, exc.detail) from None
    else:
        mode = visible_mode(request, mode_id)
    task = next((t for t in mode["tasks"] if t["id"] == task_id), None)
    if task is None:
        raise ApiError(404, "task not found", {"mode": mode_id, "task": task_id})
    mine: list[Row] = []
    if who.is_worker and who.worker_id:
        mine = await asyncio.to_thread(deps.teams(request).of_worker, who.worker_id)
    if not may_work_on(who, task, [t["id"] for t in mine]):
        raise ApiError(403, "forbidden", "this task is neither yours nor your team's")
    return mode, task


async def task_done(request: Request) -> JSONResponse:
    body = await json_body(request)
    mode, task = await task_of(request)
    note = str(body.get("note") or "")[:MAX_NOTE]
    who, by = principal_of(request), await who_of(request)
    mode = await call(lambda: deps.emergency(request).task_done(mode["id"], task["id"], who.actor, note, by))
    target, detail = f"{mode['id']}/{task['id']}", note[:AUDIT_TEXT] or None
    await audit.record(deps.store(request), request, who, "emergency.task_done", target, detail)
    return await announce(request, "emergency.updated", mode, [])


async def task_ack(request: Request) -> JSONResponse:
    mode, task = await task_of(request)
    who, by = principal_of(request), await who_of(request)
    mode = await call(deps.emergency(request).ack, mode["id"], task["id"], by)
    await audit.record(deps.store(request), request, who, "emergency.task_ack", f"{mode['id']}/{task['id']}")
    return await announce(request, "emergency.updated", mode, [])


async def task_assign(request: Request) -> JSONResponse:
    """To a named member ({worker}) or a team ({team}, optionally {leader: true})."""
    body = await json_body(request, required=True)
    mode = visible_mode(request, request.path_params["id"])
    task_id = request.path_params["task_id"]
    service = deps.teams(request)
    worker, team_id = body.get("worker"), body.get("team")
    if (worker is None) == (team_id is None) or not isinstance(worker or team_id, str):
        raise ApiError(400, "worker or team required", "give one: a worker id, or a team id")
    if worker is not None:
        if not service.name(worker):
            raise ApiError(422, "no such worker", {"worker": worker})
        assignee = await asyncio.to_thread(service.worker_assignee, worker)
    else:
        team = next((t for t in await asyncio.to_thread(service.all) if t["id"] == team_id), None)
        if team is None or not team["members"]:
            raise ApiError(422, "no such team, or it has no members", {"team": team_id})
        assignee = service.assignee(team, body.get("leader") is True)
    who, by = principal_of(request), await who_of(request)
    changed, lost = await call_pair(lambda: deps.emergency(request).assign(mode["id"], task_id, assignee, by))
    await audit.record(deps.store(request), request, who, "emergency.task_assign", f"{mode['id']}/{task_id}",
                       f"{assignee['kind']}:{assignee['id']}")  # fmt: skip
    return await announce(request, "emergency.updated", changed, lost)


async def mine(request: Request) -> JSONResponse:
    """The signed-in worker's open tasks across the active modes (the terminal's first load)."""
    who = principal_of(request)
    if not (who.is_worker and who.worker_id):
        return JSONResponse({"items": []})
    team_ids = [t["id"] for t in await asyncio.to_thread(deps.teams(request).of_worker, who.worker_id)]
    items = []
    for mode in deps.emergency(request).active():
        tasks = [t for t in worker_tasks(mode, who.worker_id, team_ids) if not t["done"]]
        if tasks:
            items.append({"mode": brief(mode), "tasks": tasks})
    return JSONResponse({"items": items})


async def add_note(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    mode_id = request.path_params["id"]
    visible_mode(request, mode_id)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "text required", "the note to add to the timeline")
    who, by = principal_of(request), await who_of(request)
    mode = await call(deps.emergency(request).note, mode_id, who.actor, text.strip()[:MAX_NOTE], by)
    await audit.record(deps.store(request), request, who, "emergency.note", mode_id, text.strip()[:AUDIT_TEXT])
    return await announce(request, "emergency.updated", mode)


async def end_mode(request: Request) -> JSONResponse:
    body = await json_body(request)
    mode_id = request.path_params["id"]
    visible_mode(request, mode_id)
    who, by = principal_of(request), await who_of(request)
    note = str(body.get("note") or "")[:MAX_NOTE]
    mode = await call(deps.emergency(request).end, mode_id, who.actor, note, by)
    await audit.record(deps.store(request), request, who, "emergency.end", mode_id, note or None)
    return await announce(request, "emergency.ended", mode, [])  # the terminals drop its tasks


async def cap_export(request: Request) -> Response:
    mode = visible_mode(request, request.path_params["id"])
    plan = plan_of(request, mode)
    xml = cap_alert(mode, plan, f"command-center@{deps.config(request).server.host}")
    headers = {"Content-Disposition": f'attachment; filename="{mode["id"]}.cap.xml"'}
    return Response(xml, media_type="application/cap+xml", headers=headers)


def plan_of(request: Request, mode: dict[str, Any]) -> Plan:
    """The plan the mode started with (kept on it), else the configured one."""
    if mode.get("plan_doc"):
        return Plan.model_validate(mode["plan_doc"])
    return deps.emergency(request).plans.get(mode["class"])


def view(mode: dict[str, Any]) -> dict[str, Any]:
    shown = {k: v for k, v in mode.items() if k != "plan_doc"}
    return {**shown, "active": mode["ended_at"] is None, "links": links(mode["id"])}


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
    # names that /api/emergency/{id} would otherwise take
    Route("/api/emergency/mine", mine, methods=["GET"]),
    *emergency_teams.first_routes,
    *emergency_plans.first_routes,
    Route("/api/emergency/{id}", get_mode, methods=["GET"]),
    Route("/api/emergency/{id}/tasks/{task_id}/done", task_done, methods=["POST"]),
    Route("/api/emergency/{id}/tasks/{task_id}/ack", task_ack, methods=["POST"]),
    Route("/api/emergency/{id}/tasks/{task_id}/assign", task_assign, methods=["POST"]),
    Route("/api/emergency/{id}/timeline", add_note, methods=["POST"]),
    Route("/api/emergency/{id}/end", end_mode, methods=["POST"]),
    Route("/api/emergency/{id}/cap.xml", cap_export, methods=["GET"]),
]
