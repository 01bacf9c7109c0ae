"""The grid's base data (四标四实): per-grid counts, lists, one record, a worker's or an
officer's changes and new records, and the audited reveal of a person's ID number or phone.

Who sees what: officers and admins their jurisdiction; a grid worker the grids of their
roster entries (auth/policy.py admits the three roles, these handlers scope every read and
write). A record outside the caller's area reads as missing (404); asking for another
area outright is refused (403). ID numbers and phones leave the server masked (from the
stored tail; the cipher and the index never do), except through the reveal, which only
config `basedata.reveal_roles` may use and which is audited before the value is sent.

A change names the version it read (compare-and-set, store/basedata_records.py): a stale
one gets 409 with the record as it stands, so the terminal's form can show the conflict.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from basedata.cycles import next_check
from basedata.model import Person, Record
from basedata.protect import SealError
from command_center import audit
from command_center.api import basedata_collect, deps, verify_tasks
from command_center.api.basedata_collect import Claim, client_id_of, earlier, store_new, take_plate
from command_center.api.basedata_views import (
    MAX_KEY,
    PARENT_FIELD,
    Scope,
    area_param,
    bad_field,
    check_grid,
    check_keys,
    cipher_of,
    due_before,
    invalid,
    kind_of,
    page,
    parent_of,
    records_of,
    rental,
    scope_of,
    seal_fields,
    today,
    view,
)
from command_center.api.errors import ApiError, flag_param, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.store.basedata_records import (
    COUNT_NAMES,
    MODELS,
    BaseDataRecords,
    RecordNotFound,
    VersionConflict,
)
from command_center.store.basedata_schema import KEYS

MAX_REASON = 500
FORM_LIMIT = 64 * 1024  # one record's form: a few hundred bytes (photos go elsewhere)
REVEALABLE = ("id_number", "phone")
COUNTED = (*COUNT_NAMES.values(), "overdue")
# A new record's "is it there already?" and its write, one at a time on this node, so two
# forms sent at once do not both pass the check (the store's upsert would take the second).
_creating = threading.Lock()


async def counts(request: Request) -> JSONResponse:
    """Per grid under `area` (default: the caller's whole area): records of each kind and
    overdue ones, each grid with its name from the map."""
    area = area_param(request)
    scope = scope_of(request, area)
    records, on = records_of(request), today(request)

    def gather() -> list[dict[str, Any]]:
        rows = [row for prefix in scope.prefixes for row in records.counts_by_grid(prefix, on)]
        return sorted(rows, key=lambda row: str(row["grid_code"]))

    rows = await asyncio.to_thread(gather)
    areas = deps.city(request).city.areas
    items = [{"grid_code": r["grid_code"], "name": _name(areas, r["grid_code"]), **r} for r in rows]
    totals = {name: sum(int(r[name]) for r in rows) for name in COUNTED}
    return JSONResponse({"area": area, "items": items, "totals": totals})


def _name(areas: dict[str, Any], code: str) -> str | None:
    # A grid no longer on the map (re-drawn since) keeps its records: shown by code alone.
    area = areas.get(code)
    return None if area is None else str(area.name)


async def list_records(request: Request) -> JSONResponse:
    """A page of one kind in the caller's area, by key; `due=1`: due for re-checking today
    or before, never-checked and most overdue first."""
    kind = kind_of(request)
    area = area_param(request)
    only_due = flag_param(request, "due")
    limit, offset = int_param(request, "limit", 100, 1, 1000), int_param(request, "offset", 0, 0, 10_000_000)
    scope = scope_of(request, area)
    on = today(request)
    before = due_before(on) if only_due else None
    items, total = await asyncio.to_thread(page, records_of(request), kind, scope, limit, offset, before)
    shown = [view(kind, record, on) for record in items]
    return JSONResponse({"items": shown, "total": total, "limit": limit, "offset": offset})


async def _visible(request: Request, kind: str, key: str) -> Record:
    """The record if it is in the caller's area; 404 as if missing otherwise."""
    fits = len(key) <= MAX_KEY and "\x00" not in key
    found = await asyncio.to_thread(records_of(request).get, kind, key) if fits else None
    if found is None or not scope_of(request).covers(found.grid_code):
        raise ApiError(404, f"no such {kind}", key)
    return found


async def get_record(request: Request) -> JSONResponse:
    kind = kind_of(request)
    record = await _visible(request, kind, request.path_params["id"])
    return JSONResponse(view(kind, record, today(request)))


async def reveal(request: Request) -> JSONResponse:
    """A person's ID number or phone in the clear, for config basedata.reveal_roles only,
    with a reason; audited before it is sent (no audit row, no value)."""
    who = principal_of(request)
    if who.role not in deps.config(request).basedata.reveal_roles:
        raise ApiError(403, "forbidden", "your role sees ID numbers and phones masked (config basedata.reveal_roles)")
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    field, reason = body.get("field"), body.get("reason")
    if field not in REVEALABLE:
        raise bad_field("field", "id_number or phone")
    if not isinstance(reason, str) or not reason.strip():
        raise bad_field("reason", "why you need it (required)")
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise bad_field("reason", f"up to {MAX_REASON} characters")
    person = await _visible(request, "person", request.path_params["id"])
    assert isinstance(person, Person)
    sealed = person.id_number if field == "id_number" else person.phone
    if sealed is None:
        raise ApiError(404, "no phone recorded", person.id)
    cipher = await asyncio.to_thread(cipher_of, request)
    try:
        clear = cipher.open("id_number" if field == "id_number" else "phone", sealed)
    except SealError as exc:  # altered in the store, or the key file is not the one it was sealed with
        raise ApiError(503, "the sealed value does not open", str(exc)) from None
    row = audit.entry(who.user, who.role, "basedata.reveal", person.id, audit.client_ip(request),
                      f"{field}: {reason.strip()}")  # fmt: skip
    try:
        await asyncio.to_thread(deps.store(request).add_audit, row)
    except Exception as exc:  # every reveal is audited: unaudited, the value stays sealed
        raise ApiError(503, "the reveal could not be audited", type(exc).__name__) from None
    return JSONResponse({"id": person.id, "field": field, "value": clear}, headers={"Cache-Control": "no-store"})


async def create(request: Request) -> JSONResponse:
    """A new record from a worker's or an officer's form (source "collect", verified today).
    With a `client_id`, sent once (api/basedata_collect.py): a resend gets the first's record, 200."""
    kind = kind_of(request)
    who = principal_of(request)
    fields = await json_body(request, required=True, limit=FORM_LIMIT)
    client_id = client_id_of(fields)
    check_keys(kind, fields)
    scope = scope_of(request)
    await asyncio.to_thread(seal_fields, request, kind, fields)
    await take_plate(request, kind, fields)
    claim = None if client_id is None else (who.actor, client_id)
    record, resent = await asyncio.to_thread(_create, request, kind, fields, scope, who.actor, claim)
    if resent:  # audited when it was made
        return JSONResponse(view(kind, record, today(request)) | {"resent": True})
    key = str(getattr(record, KEYS[kind]))
    await audit.record(deps.store(request), request, who, "basedata.create", key, kind)
    return JSONResponse(view(kind, record, today(request)), status_code=201)


def _default_key(kind: str, fields: dict[str, Any]) -> None:
    """As the importer makes them: <building>-<room>, P + the ID number's index, the credit code."""
    if fields.get(KEYS[kind]) is not None:
        return
    if kind == "household" and isinstance(fields.get("building_code"), str) and isinstance(fields.get("room"), str):
        fields["id"] = f"{fields['building_code']}-{fields['room']}"
    elif kind == "person" and fields.get("id_number") is not None:
        fields["id"] = f"P{fields['id_number'].index[:24]}"
    elif kind == "organisation" and fields.get("credit_code"):
        fields["id"] = fields["credit_code"]


def _create(
    request: Request, kind: str, fields: dict[str, Any], scope: Scope, by: str, claim: Claim | None
) -> tuple[Record, bool]:
    """The record stored, and whether an earlier send of the same form had made it."""
    records = records_of(request)
    parent = parent_of(records, kind, fields, scope)
    if "grid_code" not in fields and parent is not None:
        fields["grid_code"] = parent.grid_code  # a child lies in its parent's grid unless told
    check_grid(request, fields.get("grid_code"), scope)
    _default_key(kind, fields)
    on = today(request)
    try:
        record = MODELS[kind].model_validate(fields | {"source": "collect", "verified_at": on})
    except ValidationError as exc:
        raise invalid(exc) from None
    cycles = deps.config(request).basedata.cycles
    record.next_check_at = next_check(kind, on, rental=rental(record, parent), cycles=cycles)  # type: ignore[arg-type]
    key = str(getattr(record, KEYS[kind]))
    with _creating:
        made = earlier(records, kind, claim, scope)
        if made is not None:
            return made, True
        current = records.get(kind, key)
        if current is not None:
            shown = view(kind, current, on) if scope.covers(current.grid_code) else None
            raise ApiError(409, f"{kind} {key} exists", {"current": shown})
        if isinstance(record, Person):
            _unique_id_number(records, record, scope)
        stored = store_new(records, kind, record, by, claim, scope)
    return stored, stored is not record


def _unique_id_number(records: BaseDataRecords, person: Person, scope: Scope) -> None:
    """409 when someone else has this ID number (found by its keyed index, never decrypted);
    their ids only where the caller may see them."""
    others = [p for p in records.find_person_by_index(person.id_number.index) if p.id != person.id]
    if others:
        seen = [p.id for p in others if scope.covers(p.grid_code)]
        raise ApiError(409, "a person with this ID number is recorded", {"ids": seen})


async def update(request: Request) -> JSONResponse:
    """Fields changed on the version the form read; `"verified": true` also records a
    re-check (verified today, the next check by the configured cycle)."""
    kind, key = kind_of(request), request.path_params["id"]
    who = principal_of(request)
    changes = await json_body(request, required=True, limit=FORM_LIMIT)
    version, verified = changes.pop("version", None), changes.pop("verified", False)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad_field("version", "the version the form read: a whole number from 1")
    if not isinstance(verified, bool):
        raise bad_field("verified", "true or false")
    check_keys(kind, changes)
    if changes.pop(KEYS[kind], key) != key:
        raise bad_field(KEYS[kind], "a record's key does not change: add a new record instead")
    if not changes and not verified:
        raise ApiError(422, "nothing to change", 'send the fields to change, or "verified": true')
    current = await _visible(request, kind, key)
    scope = scope_of(request)
    await asyncio.to_thread(seal_fields, request, kind, changes)
    await take_plate(request, kind, changes, current)
    updated = await asyncio.to_thread(_update, request, kind, current, changes, (version, verified), scope, who.actor)
    if verified:  # 基础数据定期核实: the record's open task closes with its re-check
        await verify_tasks.closed_by_recheck(request, kind, key, who.actor)
    detail = f"{kind}, fields {', '.join(sorted(changes)) or '-'}" + (", verified" if verified else "")
    await audit.record(deps.store(request), request, who, "basedata.update", key, detail)
    return JSONResponse(view(kind, updated, today(request)))


def _update(
    request: Request, kind: str, current: Record, changes: dict[str, Any], asked: tuple[int, bool], scope: Scope, by: str
) -> Record:
    version, verified = asked
    records = records_of(request)
    parent = None
    if PARENT_FIELD.get(kind) in changes:
        parent = parent_of(records, kind, changes, scope)
    elif verified and isinstance(current, Person):
        parent = records.existing("household", [current.household_id]).get(current.household_id)
    if "grid_code" in changes:
        check_grid(request, changes["grid_code"], scope)  # moved: into a grid the caller also has
    on = today(request)
    if verified:
        changes |= {"verified_at": on, "source": "verify"}
    try:
        after = MODELS[kind].model_validate(current.model_dump() | changes)
    except ValidationError as exc:
        raise invalid(exc) from None
    if isinstance(after, Person) and "id_number" in changes:
        _unique_id_number(records, after, scope)
    if verified:
        cycles = deps.config(request).basedata.cycles
        changes["next_check_at"] = next_check(kind, on, rental=rental(after, parent), cycles=cycles)  # type: ignore[arg-type]
    try:
        return records.update(kind, str(getattr(current, KEYS[kind])), changes, version, by)
    except VersionConflict as exc:
        shown = view(kind, exc.current, on) if scope.covers(exc.current.grid_code) else None
        raise ApiError(409, "changed meanwhile: the record has a newer version", {"current": shown}) from None
    except RecordNotFound:
        raise ApiError(404, f"no such {kind}", str(getattr(current, KEYS[kind]))) from None
    except ValidationError as exc:
        raise invalid(exc) from None
    except ValueError as exc:
        raise ApiError(422, "bad change", str(exc)) from None


routes: list[BaseRoute] = [
    Route("/api/basedata/counts", counts, methods=["GET"]),
    *basedata_collect.routes,  # a building's households and people, for the terminal's 采集 tab
    Route("/api/basedata/people/{id}/reveal", reveal, methods=["POST"]),
    Route("/api/basedata/{kind}", list_records, methods=["GET"]),
    Route("/api/basedata/{kind}", create, methods=["POST"]),
    Route("/api/basedata/{kind}/{id}", get_record, methods=["GET"]),
    Route("/api/basedata/{kind}/{id}", update, methods=["PATCH"]),
]
