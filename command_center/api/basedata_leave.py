"""迁出: DELETE /api/basedata/people/{id} marks a person as moved out today (`left_on`).

A soft delete: the record stays, out of the lists and counts (store/basedata_records.present),
until the retention sweep deletes it `basedata.retention.moved_out_days` later with its care
memberships and visits (command_center/basedata_retention.py). It can still be read by its
id meanwhile (and revealed by the roles that may).

The roles that change base data may mark it (auth/policy.py: officers, admins, the grid's
workers), scoped like every change: a person outside the caller's area reads as missing
(404). Audited (`basedata.leave`, the person's id, never the name). Marking one already
moved out changes nothing and answers the record as it stands (a resent request is harmless).

A 迁出 marked in error is undone by POST /api/basedata/people/{id}/return, for the same roles
and scope: `left_on` cleared while the record exists (404 once the sweep deleted it, 409 if
they are not marked moved out), audited (`basedata.return`). They are back in the lists and
counts at once (the counts' and sums' triggers see `left_on` change).
"""

from __future__ import annotations

import asyncio
from datetime import date

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from basedata.model import Person, Record
from command_center import audit
from command_center.api import deps
from command_center.api.basedata_views import MAX_KEY, records_of, scope_of, today, view
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.store.basedata_records import BaseDataRecords, RecordNotFound, VersionConflict

TRIES = 3  # a change by someone else between the read and the mark: read again


def _mark(records: BaseDataRecords, key: str, by: str, on: date) -> tuple[Record, bool]:
    """The person marked moved out today (whatever else changed meanwhile), and whether this
    call marked them (False: they were already)."""
    for _ in range(TRIES):
        current = records.get("person", key)
        if current is None:
            raise ApiError(404, "no such person", key)
        if isinstance(current, Person) and current.left_on is not None:
            return current, False
        try:
            return records.update("person", key, {"left_on": on}, current.version, by), True
        except VersionConflict:
            continue
        except RecordNotFound:
            raise ApiError(404, "no such person", key) from None
    raise ApiError(409, "the record keeps changing", "try again")


def _unmark(records: BaseDataRecords, key: str, by: str) -> Record:
    """The person back (left_on cleared); 409 when they are not marked moved out."""
    for _ in range(TRIES):
        current = records.get("person", key)
        if current is None:
            raise ApiError(404, "no such person", key)
        if not isinstance(current, Person) or current.left_on is None:
            raise ApiError(409, "not marked moved out", key)
        try:
            return records.update("person", key, {"left_on": None}, current.version, by)
        except VersionConflict:
            continue
        except RecordNotFound:
            raise ApiError(404, "no such person", key) from None
    raise ApiError(409, "the record keeps changing", "try again")


async def _visible_person(request: Request, key: str) -> BaseDataRecords:
    """The store's records, once the person is known to be in the caller's area (else 404)."""
    records = records_of(request)
    found = (
        await asyncio.to_thread(records.get, "person", key)
        if len(key) <= MAX_KEY and "\x00" not in key
        else None
    )
    if found is None or not scope_of(request).covers(found.grid_code):
        raise ApiError(404, "no such person", key)
    return records


async def leave(request: Request) -> JSONResponse:
    who = principal_of(request)
    key = request.path_params["id"]
    records = await _visible_person(request, key)
    person, marked = await asyncio.to_thread(_mark, records, key, who.actor, today(request))
    if marked:
        left_on = person.left_on.isoformat() if isinstance(person, Person) and person.left_on else "-"
        await audit.record(
            deps.store(request), request, who, "basedata.leave", key, f"person, moved out on {left_on}"
        )
    return JSONResponse(view("person", person, today(request)))


async def come_back(request: Request) -> JSONResponse:
    """Undo a 迁出 marked in error: left_on cleared, audited before the answer."""
    who = principal_of(request)
    key = request.path_params["id"]
    records = await _visible_person(request, key)
    person = await asyncio.to_thread(_unmark, records, key, who.actor)
    await audit.record(deps.store(request), request, who, "basedata.return", key, "person, 迁出 undone")
    return JSONResponse(view("person", person, today(request)))


routes: list[BaseRoute] = [
    Route("/api/basedata/people/{id}", leave, methods=["DELETE"]),
    Route("/api/basedata/people/{id}/return", come_back, methods=["POST"]),
]
