"""The special-group ledger (特殊群体台账, basedata/care.py): memberships with their care plan
and pairing (结对), visits recorded on the terminal, and what is overdue.

Who sees it: membership of a group is sensitive (who is mentally ill, who lives on 低保),
so only the roles in config `basedata.care_roles` (default officer, admin, worker); an
officer or admin within their jurisdiction, a worker only the people paired with them or
living in their grids. Anything else reads as missing (404); asking for an area outside
one's own is refused (403). Every read of the ledger is audited, once per user in
READ_AUDIT_S (a list the terminal reloads would otherwise flood the log).
Officers and admins add and change memberships (auth/policy.py); a visit is recorded by
the paired worker, or by staff.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from basedata.care import GROUP_NAMES, Membership, Visit, escalation_level, new_membership, overdue
from command_center import audit
from command_center.api import deps, field_photos
from command_center.api.basedata_views import area_param, area_prefixes, bad_field, invalid, today
from command_center.api.errors import ApiError, flag_param, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.store.basedata_records import base_data_store
from command_center.store.care_records import (
    CareRecords,
    CareScope,
    MembershipExists,
    MembershipNotFound,
    VersionConflict,
    care_store,
)

READ_AUDIT_S = 600.0  # one audit row per user per 10 minutes of reading the ledger
FORM_LIMIT = 64 * 1024
CREATE_FIELDS = frozenset({"person_id", "group", "since", "plan", "paired_with", "visit_every_days"})
CHANGE_FIELDS = frozenset({"group", "plan", "paired_with", "visit_every_days", "active"})
VISIT_FIELDS = frozenset({"at", "lon", "lat", "note", "photos", "outcome"})
_audited: dict[str, float] = {}  # user → when their last read was audited (this process)
_audit_lock = threading.Lock()


def records_of(request: Request) -> CareRecords:
    return care_store(deps.store(request))


def _allowed(request: Request) -> Principal:
    who = principal_of(request)
    if who.role not in deps.config(request).basedata.care_roles:
        raise ApiError(403, "forbidden", "your role does not see the special-group ledger (config basedata.care_roles)")
    return who


def scope_of(request: Request, area: str | None = None) -> CareScope:
    """The caller's memberships: a jurisdiction narrowed to `area`; a worker's grids (under
    `area`) and, with no area asked, the people paired with them wherever they live."""
    who = _allowed(request)
    if who.is_worker and not who.worker_id:
        return CareScope(())
    prefixes = area_prefixes(request, who, area)
    # With no area asked, a worker also sees the people paired with them, wherever they live.
    return CareScope(prefixes, paired=who.worker_id if who.is_worker and area is None else None)


async def audit_read(request: Request, target: str, shown: int) -> None:
    """Reading who is in which group is audited: once per user per READ_AUDIT_S."""
    if not shown:
        return
    who = principal_of(request)
    now = time.monotonic()
    with _audit_lock:
        if now - _audited.get(who.user, -READ_AUDIT_S) < READ_AUDIT_S:
            return
        _audited[who.user] = now
    await audit.record(deps.store(request), request, who, "care.read", target, f"{shown} memberships")


def view(m: Membership, on: date) -> dict[str, Any]:
    """A membership as the API shows it, with where its visit stands today."""
    days = overdue(m, on)
    shown: dict[str, Any] = m.model_dump(mode="json")
    shown |= {"group_name": GROUP_NAMES[m.group], "days_overdue": days, "due": m.active and m.next_visit_due <= on}
    return shown


def _worker_param(request: Request) -> str | None:
    worker = request.query_params.get("worker") or None
    if worker is not None and (len(worker) > 64 or "\x00" in worker):
        raise ApiError(400, "bad query parameter 'worker'", "a worker id")
    who = principal_of(request)
    if worker is not None and who.is_worker and worker != who.worker_id:
        raise ApiError(403, "forbidden", "a worker lists only their own pairs")
    return worker


async def list_memberships(request: Request) -> JSONResponse:
    """A page of the caller's memberships; `due=1`: due today or before, most overdue first;
    `worker`: those paired with that worker."""
    area, due, worker = area_param(request), flag_param(request, "due"), _worker_param(request)
    limit, offset = int_param(request, "limit", 100, 1, 1000), int_param(request, "offset", 0, 0, 10_000_000)
    scope, on = scope_of(request, area), today(request)
    items, total = await asyncio.to_thread(
        records_of(request).list, scope, worker=worker, due_by=on if due else None, limit=limit, offset=offset
    )
    await audit_read(request, f"care memberships {area or 'all'}", len(items))
    return JSONResponse({"items": [view(m, on) for m in items], "total": total, "limit": limit, "offset": offset})


async def overdue_list(request: Request) -> JSONResponse:
    """The caller's overdue visits, most overdue first, each with its level; and per grid
    the members, the visits due and overdue (counted by the database)."""
    area = area_param(request)
    limit = int_param(request, "limit", 100, 1, 1000)
    scope, on = scope_of(request, area), today(request)
    records, policy = records_of(request), deps.config(request).basedata.care

    def gather() -> tuple[list[Membership], int, list[dict[str, Any]]]:
        items, total = records.list(scope, due_by=on - timedelta(days=1), limit=limit)
        grids = [row for prefix in scope.prefixes for row in records.counts_by_grid(prefix, on)]
        return items, total, sorted(grids, key=lambda row: str(row["grid_code"]))

    items, total, grids = await asyncio.to_thread(gather)
    shown = [view(m, on) | {"level": escalation_level(overdue(m, on), policy)} for m in items]
    await audit_read(request, f"care overdue {area or 'all'}", len(items))
    return JSONResponse({"items": shown, "total": total, "grids": grids})


async def _visible(request: Request, key: str) -> Membership:
    """The membership if the caller may see it; 404 as if missing otherwise."""
    found = await asyncio.to_thread(records_of(request).get, key) if len(key) <= 80 else None
    if found is None or not scope_of(request).covers(found):
        raise ApiError(404, "no such care membership", key)
    return found


async def get_membership(request: Request) -> JSONResponse:
    """One membership and its latest visits."""
    m = await _visible(request, request.path_params["id"])
    visits = await asyncio.to_thread(records_of(request).visits, m.id, 20)
    await audit_read(request, m.id, 1)
    return JSONResponse(view(m, today(request)) | {"visits": [v.model_dump(mode="json") for v in visits]})


def _only(body: dict[str, Any], allowed: frozenset[str]) -> None:
    for name, value in body.items():
        if name not in allowed:
            raise bad_field(name, f"not a field here; one of {', '.join(sorted(allowed))}")
        if isinstance(value, str) and "\x00" in value:
            raise bad_field(name, "no NUL characters")


def _check_worker(request: Request, worker: Any) -> None:
    if worker is not None and not (isinstance(worker, str) and deps.city(request).grids_of(worker)):
        raise bad_field("paired_with", "the id of a worker on the roster")


async def create(request: Request) -> JSONResponse:
    """A person joins a group: their grid is their household's (base data), which must be
    in the caller's jurisdiction; the visit frequency defaults to the group's."""
    who = _allowed(request)
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    _only(body, CREATE_FIELDS)
    person_id = body.get("person_id")
    if not isinstance(person_id, str) or not 0 < len(person_id) <= 80:
        raise bad_field("person_id", "a person's id (base data)")
    person = await asyncio.to_thread(base_data_store(deps.store(request)).get, "person", person_id)
    scope = scope_of(request)
    if person is None or not scope.covers_grid(person.grid_code):
        raise bad_field("person_id", f"no person {person_id} in your area")
    _check_worker(request, body.get("paired_with"))
    on = today(request)
    try:
        since = date.fromisoformat(body.pop("since", on.isoformat()))
    except (TypeError, ValueError):
        raise bad_field("since", "a date, YYYY-MM-DD") from None
    if since > on:
        raise bad_field("since", "not in the future")
    fields = {k: v for k, v in body.items() if k not in ("person_id", "group")}
    try:
        m = new_membership(f"C{secrets.token_hex(8)}", person_id, body.get("group"), person.grid_code, since,  # type: ignore[arg-type]
                           deps.config(request).basedata.care, **fields)  # fmt: skip
    except ValidationError as exc:
        raise invalid(exc) from None
    try:
        await asyncio.to_thread(records_of(request).add, m, who.actor)
    except MembershipExists as exc:
        raise ApiError(409, "the person is in this group already", {"id": exc.current.id}) from None
    await audit.record(deps.store(request), request, who, "care.create", m.id, f"{person_id} {m.group}")
    return JSONResponse(view(m, on), status_code=201)


async def update(request: Request) -> JSONResponse:
    """Change the plan, the pairing, the frequency (the due date follows it) or end the
    membership, on the version the form read (409 with the current one otherwise)."""
    who = _allowed(request)
    changes = await json_body(request, required=True, limit=FORM_LIMIT)
    version = changes.pop("version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad_field("version", "the version the form read: a whole number from 1")
    _only(changes, CHANGE_FIELDS)
    if not changes:
        raise ApiError(422, "nothing to change", f"send one of {', '.join(sorted(CHANGE_FIELDS))}")
    _check_worker(request, changes.get("paired_with"))
    current = await _visible(request, request.path_params["id"])
    every = changes.get("visit_every_days")
    if isinstance(every, int) and not isinstance(every, bool) and 1 <= every <= 366:
        changes["next_visit_due"] = (current.last_visit_at or current.since) + timedelta(days=every)
    try:
        after = await asyncio.to_thread(records_of(request).update, current.id, changes, version, who.actor)
    except VersionConflict as exc:
        raise ApiError(409, "changed meanwhile: the membership has a newer version",
                       {"current": view(exc.current, today(request))}) from None  # fmt: skip
    except MembershipNotFound:
        raise ApiError(404, "no such care membership", current.id) from None
    except ValidationError as exc:
        raise invalid(exc) from None
    await audit.record(deps.store(request), request, who, "care.update", current.id, ", ".join(sorted(changes)))
    return JSONResponse(view(after, today(request)))


async def add_visit(request: Request) -> JSONResponse:
    """A visit by the paired worker (or staff in whose area the person lives): kept with the
    membership's new due date in one transaction. `at` defaults to now, never the future."""
    who = _allowed(request)
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    _only(body, VISIT_FIELDS)
    m = await _visible(request, request.path_params["id"])
    if who.is_worker and m.paired_with != who.worker_id:
        raise ApiError(403, "forbidden", "only the worker paired with the person records their visits")
    now = deps.city_now(request)  # with the city's offset: the visit's day is the city's
    fields = {"at": now.isoformat()} | body
    try:
        visit = Visit.model_validate(fields | {"id": f"V{secrets.token_hex(8)}", "membership_id": m.id,
                                               "person_id": m.person_id, "worker_id": who.actor})  # fmt: skip
    except ValidationError as exc:
        raise invalid(exc) from None
    if visit.at.tzinfo is None:
        raise bad_field("at", "a time with its offset, e.g. 2026-05-01T10:00:00+08:00")
    if visit.at > now + timedelta(minutes=5):  # a phone's clock a little ahead is tolerated
        raise bad_field("at", "not in the future")
    # Phones send UTC ("…Z"); the visit's day, from which the next one is due, is the city's.
    visit = visit.model_copy(update={"at": visit.at.astimezone(now.tzinfo)})
    if visit.photos:  # the caller's own uploads, for the person's grid or one of the caller's (400 otherwise)
        mine = area_prefixes(request, who, None)
        await field_photos.take(request, visit.photos, f"visit:{visit.id}",
                                lambda grid: grid == m.grid_code or grid.startswith(mine))  # fmt: skip
    try:
        after = await asyncio.to_thread(records_of(request).record_visit, visit)
    except MembershipNotFound:
        raise ApiError(404, "no such care membership", m.id) from None
    await audit.record(deps.store(request), request, who, "care.visit", m.id, f"{visit.id} {visit.outcome}")
    return JSONResponse({"visit": visit.model_dump(mode="json"), "membership": view(after, today(request))}, status_code=201)


routes: list[BaseRoute] = [
    Route("/api/care/overdue", overdue_list, methods=["GET"]),
    Route("/api/care/memberships", list_memberships, methods=["GET"]),
    Route("/api/care/memberships", create, methods=["POST"]),
    Route("/api/care/memberships/{id}", get_membership, methods=["GET"]),
    Route("/api/care/memberships/{id}", update, methods=["PATCH"]),
    Route("/api/care/memberships/{id}/visits", add_visit, methods=["POST"]),
]
