"""/api/roster: the grid workers in the store, who works which grid (with history) and
their leave; the admin console's roster page.

Admins only (auth/policy.py). A district admin sees and changes the workers of their
district: a worker is theirs when any current grid is in it; one outside answers 404,
and giving anyone a grid outside it answers 403. Every change is audited and applied
live (registry "roster": city_map.reload on every node), so dispatch follows at once.
Assignments are history: a change closes the rows that end and opens new ones.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body
from command_center.api.roster_body import grid_list, leave_body, worker_fields, worker_view
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.store.roster_records import RosterChanges, RosterQuery
from dispatch.city.codes import is_code

MAX_PAGE = 500
BOOLS = {"1": True, "true": True, "0": False, "false": False}


def _query(request: Request, principal: Principal) -> RosterQuery:
    params = request.query_params
    area, grid = params.get("area"), params.get("grid")
    if area is not None and not (area.isascii() and area.isdigit() and len(area) <= 15):
        raise ApiError(400, "bad query parameter 'area'", "a grid-code prefix of 1 to 15 digits")
    if grid is not None and not (grid.isascii() and is_code(grid)):
        raise ApiError(400, "bad query parameter 'grid'", "a 15-digit grid code")
    active = params.get("active")
    if active is not None and active not in BOOLS:
        raise ApiError(400, "bad query parameter 'active'", "true, false, 1 or 0")
    return RosterQuery(
        q=params.get("q", "")[:64], grid=grid or "", area=area or "", scope=principal.jurisdiction,
        active=None if active is None else BOOLS[active],
        limit=int_param(request, "limit", 50, 1, MAX_PAGE), offset=int_param(request, "offset", 0, 0, 10**7),
    )  # fmt: skip


def _in_scope(principal: Principal, row: dict[str, Any]) -> bool:
    return not principal.jurisdiction or any(principal.sees_area(g["grid_code"]) for g in row["grids"])


def _check_grids(principal: Principal, grids: list[tuple[str, str]]) -> None:
    outside = [code for code, _ in grids if not principal.sees_area(code)]
    if outside:
        raise ApiError(403, "grid outside your district", outside)
    if principal.jurisdiction and not grids:
        raise ApiError(403, "a worker of your district needs a grid in it", principal.jurisdiction)


def _now(request: Request) -> datetime:
    return datetime.now(deps.dispatcher(request).tz)


async def _worker(request: Request, principal: Principal) -> dict[str, Any]:
    worker_id = request.path_params["id"]
    row = await asyncio.to_thread(deps.store(request).roster_worker, worker_id)
    if row is None or not _in_scope(principal, row):
        raise ApiError(404, "worker not found", worker_id)
    return row


async def _changed(request: Request, principal: Principal, action: str, target: str, detail: str) -> None:
    await audit.record(deps.store(request), request, principal, action, target, detail)
    await deps.registry(request).changed("roster")


async def _shown(request: Request, worker_id: str, status: int = 200) -> JSONResponse:
    row = await asyncio.to_thread(deps.store(request).roster_worker, worker_id)
    if row is None:
        raise ApiError(404, "worker not found", worker_id)
    return JSONResponse(worker_view(row, deps.city(request).city, _now(request)), status_code=status)


async def list_roster(request: Request) -> JSONResponse:
    query = _query(request, principal_of(request))
    rows, total = await asyncio.to_thread(deps.store(request).list_roster, query)
    city, now = deps.city(request).city, _now(request)
    return JSONResponse({"items": [worker_view(r, city, now) for r in rows], "total": total})


def next_code(codes: list[str], district: str) -> str:
    """The next worker number of a district: <district 6 digits>-<4-digit sequence>."""
    taken = [int(c.rsplit("-", 1)[1]) for c in codes if c.rsplit("-", 1)[-1].isdigit() and "-" in c]
    return f"{district}-{max(taken, default=0) + 1:04d}"


async def create_worker(request: Request) -> JSONResponse:
    principal, store = principal_of(request), deps.store(request)
    body = await json_body(request, required=True)
    fields = worker_fields(body, creating=True)
    grids = grid_list(body.get("grids", []), deps.city(request).city)
    _check_grids(principal, grids)
    if await asyncio.to_thread(store.roster_worker, fields["id"]) is not None:
        raise ApiError(409, "worker id taken", fields["id"])
    if "code" not in fields:
        root = deps.city(request).city.root
        district = grids[0][0][:6] if grids else (root.code[:6] if root else "000000")
        fields["code"] = next_code(await asyncio.to_thread(store.worker_codes, district + "-"), district)
    elif fields["code"] in await asyncio.to_thread(store.worker_codes, fields["code"]):
        raise ApiError(409, "worker number taken", fields["code"])
    fields.setdefault("level", "basic")
    changes = RosterChanges(datetime.now(UTC).isoformat(), f"admin:{principal.user}", principal.user)
    changes.insert_workers.append(fields)
    changes.open.extend((fields["id"], code, shift) for code, shift in grids)
    await asyncio.to_thread(store.apply_roster, changes)
    await _changed(request, principal, "roster.create", fields["id"], ", ".join(c for c, _ in grids))
    return await _shown(request, fields["id"], 201)


async def get_worker(request: Request) -> JSONResponse:
    row = await _worker(request, principal_of(request))
    return JSONResponse(worker_view(row, deps.city(request).city, _now(request)))


async def update_worker(request: Request) -> JSONResponse:
    principal, store = principal_of(request), deps.store(request)
    row = await _worker(request, principal)
    fields = worker_fields(await json_body(request, required=True), creating=False)
    if fields.get("code", row["code"]) != row["code"]:
        owners = await asyncio.to_thread(store.worker_codes, fields["code"])
        if fields["code"] in owners:
            raise ApiError(409, "worker number taken", fields["code"])
    changed = {k: v for k, v in fields.items() if row[k] != v}
    if changed:
        base = {k: row[k] for k in ("id", "code", "name", "phone", "kind", "level", "active")}
        changes = RosterChanges(datetime.now(UTC).isoformat(), f"admin:{principal.user}", principal.user)
        changes.update_workers.append(base | changed)
        await asyncio.to_thread(store.apply_roster, changes)
        await _changed(request, principal, "roster.update", row["id"], ", ".join(sorted(changed)))
    return await _shown(request, row["id"])


async def set_grids(request: Request) -> JSONResponse:
    principal, store = principal_of(request), deps.store(request)
    row = await _worker(request, principal)
    body = await json_body(request, required=True)
    grids = grid_list(body.get("grids"), deps.city(request).city)
    _check_grids(principal, grids)
    changes = RosterChanges(datetime.now(UTC).isoformat(), f"admin:{principal.user}", principal.user)
    current = {(g["grid_code"], g["shift"]): g["seq"] for g in row["grids"]}
    changes.close = [seq for key, seq in current.items() if key not in grids]
    changes.open = [(row["id"], code, shift) for code, shift in grids if (code, shift) not in current]
    if changes:
        await asyncio.to_thread(store.apply_roster, changes)
        detail = ", ".join(f"{c}:{s}" for c, s in grids) or "none"
        await _changed(request, principal, "roster.grids", row["id"], detail)
    return await _shown(request, row["id"])


async def add_leave(request: Request) -> JSONResponse:
    principal, store = principal_of(request), deps.store(request)
    row = await _worker(request, principal)
    starts, ends, note = leave_body(await json_body(request, required=True), deps.dispatcher(request).tz)
    seq = await asyncio.to_thread(store.add_leave, row["id"], starts, ends, note, principal.user)
    await _changed(request, principal, "roster.leave", row["id"], f"{starts} – {ends}")
    return JSONResponse({"id": seq, "starts": starts, "ends": ends, "note": note}, status_code=201)


async def delete_leave(request: Request) -> JSONResponse:
    principal, store = principal_of(request), deps.store(request)
    row = await _worker(request, principal)
    raw = request.path_params["leave_id"]
    if not raw.isdigit() or not await asyncio.to_thread(store.delete_leave, row["id"], int(raw)):
        raise ApiError(404, "leave not found", raw)
    await _changed(request, principal, "roster.leave_delete", row["id"], raw)
    return JSONResponse({"deleted": int(raw)})


async def history(request: Request) -> JSONResponse:
    principal = principal_of(request)
    worker, grid = request.query_params.get("worker", "")[:32], request.query_params.get("grid")
    if grid is not None and not (grid.isascii() and is_code(grid)):
        raise ApiError(400, "bad query parameter 'grid'", "a 15-digit grid code")
    limit = int_param(request, "limit", 100, 1, 1000)
    rows = await asyncio.to_thread(
        deps.store(request).roster_history, worker, grid or "", principal.jurisdiction, limit
    )
    city = deps.city(request).city
    items = [
        {
            "seq": r["seq"], "worker_id": r["worker_id"], "worker_name": r["name"], "grid_code": r["grid_code"],
            "grid_name": area.name if (area := city.areas.get(r["grid_code"])) else None, "shift": r["shift"],
            "valid_from": r["valid_from"], "valid_to": r["valid_to"], "source": r["source"],
        }
        for r in rows
    ]  # fmt: skip
    return JSONResponse({"items": items})


routes: list[BaseRoute] = [
    Route("/api/roster", list_roster, methods=["GET"]),
    Route("/api/roster", create_worker, methods=["POST"]),
    Route("/api/roster/history", history, methods=["GET"]),
    Route("/api/roster/{id}", get_worker, methods=["GET"]),
    Route("/api/roster/{id}", update_worker, methods=["PATCH"]),
    Route("/api/roster/{id}/grids", set_grids, methods=["PUT"]),
    Route("/api/roster/{id}/leave", add_leave, methods=["POST"]),
    Route("/api/roster/{id}/leave/{leave_id}", delete_leave, methods=["DELETE"]),
]
