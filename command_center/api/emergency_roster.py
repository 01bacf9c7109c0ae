"""Emergency teams in the roster, for admins (a district admin: the teams of their district).

GET    /api/roster/teams                        the teams, with their members by name
POST   /api/roster/teams                        {name, street_code, members?: [{worker_id, role}]}
PUT    /api/roster/teams/{id}                   {name?, members?}: members become exactly those
DELETE /api/roster/teams/{id}
POST   /api/roster/teams/{id}/members           {worker_id, role?}: add one, or change their role
DELETE /api/roster/teams/{id}/members/{worker}

A team has at most one leader (the first listed when none is named). Every change is
audited; an edited team is the admins' from then on: a roster import never re-seeds it.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.emergency_teams import local_now
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.store.team_records import ROLES, Row
from dispatch.city.codes import is_code, level_of

MAX_NAME = 50
MAX_MEMBERS = 200


async def _visible(request: Request, team_id: str) -> Row:
    team = await asyncio.to_thread(deps.teams(request).store.get_team, team_id)
    if team is None or not principal_of(request).sees_area(team["street_code"]):
        raise ApiError(404, "team not found", team_id)
    return team


def _name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw.strip()) > MAX_NAME:
        raise ApiError(400, "name required", f"the team's name, 1..{MAX_NAME} characters")
    return raw.strip()


def _members(request: Request, raw: object) -> list[tuple[str, str]]:
    """[(worker_id, role)], the leader first; each worker on the roster (in the district)."""
    if not isinstance(raw, list) or len(raw) > MAX_MEMBERS:
        raise ApiError(400, "members must be a list", f"[{{worker_id, role}}], at most {MAX_MEMBERS}")
    out: dict[str, str] = {}
    for i, item in enumerate(raw):
        worker = item.get("worker_id") if isinstance(item, dict) else None
        role = item.get("role", "member") if isinstance(item, dict) else None
        if not isinstance(worker, str) or role not in ROLES:
            raise ApiError(400, "bad member", {"field": f"members.{i}", "expected": "{worker_id, role: leader|member}"})
        out[worker] = "leader" if role == "leader" else out.get(worker, "member")
    for worker in out:
        _check_worker(request, worker)
    leaders = [w for w, r in out.items() if r == "leader"]
    if len(leaders) > 1:
        raise ApiError(422, "one leader per team", {"leaders": leaders})
    rows = sorted(out.items(), key=lambda wr: wr[1] != "leader")
    if rows and not leaders:
        rows[0] = (rows[0][0], "leader")
    return rows


def _check_worker(request: Request, worker_id: str) -> None:
    grids = deps.city(request).grids_of(worker_id)
    if not grids:
        raise ApiError(422, "no such worker on the roster", {"worker_id": worker_id})
    if not any(principal_of(request).sees_area(w.grid_code) for w in grids):
        raise ApiError(403, "forbidden", f"worker {worker_id} works outside your jurisdiction")


def _view(request: Request, team: Row) -> dict[str, Any]:
    return deps.teams(request).view(team, local_now(request), lambda _w: [])


def _now() -> str:
    return datetime.now(UTC).isoformat()


async def list_teams(request: Request) -> JSONResponse:
    who = principal_of(request)
    stored = await asyncio.to_thread(deps.teams(request).all)
    items = [_view(request, t) for t in stored if who.sees_area(t["street_code"])]
    return JSONResponse({"items": items, "total": len(items)})


async def create_team(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    street = body.get("street_code")
    if not (isinstance(street, str) and is_code(street) and level_of(street) == "street"
            and street in deps.city(request).city.areas):  # fmt: skip
        raise ApiError(422, "street_code must be a street of the map", {"street_code": street})
    who = principal_of(request)
    if not who.sees_area(street):
        raise ApiError(403, "forbidden", f"street {street} is outside your jurisdiction {who.jurisdiction}")
    team = {"id": f"team-{secrets.token_hex(4)}", "name": _name(body.get("name")), "street_code": street,
            "updated_at": _now(), "updated_by": who.user}  # fmt: skip
    members = _members(request, body.get("members", []))
    await asyncio.to_thread(deps.teams(request).store.save_team, team, members)
    await audit.record(deps.store(request), request, who, "team.create", team["id"], team["name"])
    return JSONResponse(_view(request, await _visible(request, team["id"])), status_code=201)


async def update_team(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    team = await _visible(request, request.path_params["id"])
    who = principal_of(request)
    row = {**team, "updated_at": _now(), "updated_by": who.user}
    if "name" in body:
        row["name"] = _name(body["name"])
    members = _members(request, body["members"]) if "members" in body else None
    await asyncio.to_thread(deps.teams(request).store.save_team, row, members)
    await audit.record(deps.store(request), request, who, "team.update", team["id"], row["name"])
    return JSONResponse(_view(request, await _visible(request, team["id"])))


async def delete_team(request: Request) -> JSONResponse:
    team = await _visible(request, request.path_params["id"])
    await asyncio.to_thread(deps.teams(request).store.delete_team, team["id"])
    await audit.record(deps.store(request), request, principal_of(request), "team.delete", team["id"], team["name"])
    return JSONResponse({"id": team["id"], "deleted": True})


async def put_member(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    team = await _visible(request, request.path_params["id"])
    worker, role = body.get("worker_id"), body.get("role", "member")
    if not isinstance(worker, str) or role not in ROLES:
        raise ApiError(400, "worker_id required", "{worker_id, role: leader|member}")
    _check_worker(request, worker)
    who = principal_of(request)
    await asyncio.to_thread(deps.teams(request).store.put_team_member, team["id"], worker, role, _now(), who.user)
    await audit.record(deps.store(request), request, who, "team.member", team["id"], f"+{worker} {role}")
    return JSONResponse(_view(request, await _visible(request, team["id"])))


async def delete_member(request: Request) -> JSONResponse:
    team = await _visible(request, request.path_params["id"])
    worker, who = request.path_params["worker"], principal_of(request)
    gone = await asyncio.to_thread(deps.teams(request).store.delete_team_member, team["id"], worker, _now(), who.user)
    if not gone:
        raise ApiError(404, "not a member of this team", {"team": team["id"], "worker_id": worker})
    await audit.record(deps.store(request), request, who, "team.member", team["id"], f"-{worker}")
    return JSONResponse(_view(request, await _visible(request, team["id"])))


routes: list[BaseRoute] = [
    Route("/api/roster/teams", list_teams, methods=["GET"]),
    Route("/api/roster/teams", create_team, methods=["POST"]),
    Route("/api/roster/teams/{id}", update_team, methods=["PUT"]),
    Route("/api/roster/teams/{id}", delete_team, methods=["DELETE"]),
    Route("/api/roster/teams/{id}/members", put_member, methods=["POST"]),
    Route("/api/roster/teams/{id}/members/{worker}", delete_member, methods=["DELETE"]),
]
