"""Collection on the terminal (issue 19; the 采集 tab, ui/terminal/collect.js): new records
sent once, and a building as the worker walks it.

Sent once. A form kept offline on the phone carries a `client_id` made there (8 to 64
letters, digits, '-' or '_'). POST /api/basedata/{kind} (api/basedata.py) remembers it with
the record it made, per caller, in the same transaction (store/collect_records.py). The same
client id sent again, because the first answer never reached the phone, gets that record back
(200 with `"resent": true`, not audited a second time) instead of a second record or a 409
"exists". A body field rather than an Idempotency-Key header: it is queued with the form's
body as it is, and it is the field the terminal's clue reports use already (POST /api/cases).
A client id is the caller's own: the same id from someone else is a different form.

A building: GET /api/basedata/buildings/{code}/households is the building with its
households and their people (masked), in the caller's area; outside it, not found. Each
household also lists its people marked moved out (`moved_out`), so that a mistaken 迁出 can
be seen and undone on site.

A door plate (门牌照片): a building's or household's `plate_photo_id` names a field photo the
caller uploaded first (POST /api/field-photos?grid=, api/field_photos.py) in the record's
grid; it is checked and marked used by the record (`take_plate`), 400 otherwise.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from basedata.model import Household, Person, Record
from command_center.api import field_photos
from command_center.api.basedata_views import (
    MAX_KEY,
    PARENT,
    PARENT_FIELD,
    Scope,
    bad_field,
    records_of,
    scope_of,
    today,
    view,
)
from command_center.api.errors import ApiError
from command_center.store.basedata_records import BaseDataRecords
from command_center.store.basedata_schema import KEYS
from command_center.store.collect_records import ClaimTaken, collect_store

CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")  # as POST /api/cases's client_id
# A building's households and people in one answer: a tower block has a few hundred homes.
MOST_HOUSEHOLDS = 500
MOST_PEOPLE = 3000
MOST_MOVED = 200  # moved-out people shown per building (the retention sweep deletes them in time)
Claim = tuple[str, str]  # (the caller, as actor; the form's client id)


def client_id_of(fields: dict[str, Any]) -> str | None:
    """The form's client id, taken out of its fields (it is no field of the record); 422 if malformed."""
    value = fields.pop("client_id", None)
    if value is None:
        return None
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise bad_field("client_id", "8 to 64 letters, digits, '-' or '_'")
    return value


def earlier(records: BaseDataRecords, kind: str, claim: Claim | None, scope: Scope) -> Record | None:
    """The record an earlier send of this form made, or None (never sent, or no client id).
    Run under api/basedata.py's create lock, before its "exists already?" check."""
    if claim is None:
        return None
    found = collect_store(records).find(*claim)
    if found is None:
        return None
    made_kind, key = found
    if made_kind != kind:
        raise bad_field("client_id", f"sent before with a {made_kind}: a new form needs a new client id")
    record = records.get(kind, key)
    if record is None or not scope.covers(record.grid_code):  # moved out of the caller's grids since
        raise ApiError(404, f"no such {kind}", key)
    return record


def store_new(
    records: BaseDataRecords, kind: str, record: Record, by: str, claim: Claim | None, scope: Scope
) -> Record:
    """Write the new record with its client id. The record stored: this one, or (not the
    same object) the one a send of the same form on another node wrote a moment before."""
    try:
        collect_store(records).create(kind, record, by, claim)
    except ClaimTaken:
        made = earlier(records, kind, claim, scope)
        if made is None:  # not to be seen after all (pruned at that instant): the phone sends it again
            raise ApiError(503, "the form was sent twice at once", "send it again") from None
        return made
    return record


async def take_plate(
    request: Request, kind: str, fields: dict[str, Any], current: Record | None = None
) -> None:
    """A form's door-plate photo checked and marked used (api/field_photos.take): the
    caller's own upload, taken in the record's grid (the form's, else the record's as it
    stands, else its parent's). Nothing to do without one; a form that names no known
    parent is left to the record's own checks (422)."""
    photo = fields.get("plate_photo_id")
    if photo is None or kind not in ("building", "household"):
        return
    if not isinstance(photo, str):
        raise bad_field("plate_photo_id", "a field photo's id (POST /api/field-photos)")
    grid = fields.get("grid_code") or (current.grid_code if current is not None else None)
    if not isinstance(grid, str):
        parent_key = fields.get(PARENT_FIELD[kind])
        if not isinstance(parent_key, str) or len(parent_key) > MAX_KEY:
            return
        found = await asyncio.to_thread(records_of(request).existing, PARENT[kind], [parent_key])
        if parent_key not in found:
            return
        grid = found[parent_key].grid_code
    key = (
        getattr(current, KEYS[kind], None)
        or fields.get(KEYS[kind])
        or f"{fields.get('building_code')}-{fields.get('room')}"
    )
    await field_photos.take(request, [photo], f"{kind}:{key}", lambda photo_grid: photo_grid == grid)


def _by_household(persons: list[Person], scope: Scope, on: date) -> dict[str, list[dict[str, Any]]]:
    """The people of the caller's area as the API shows them (masked), by household."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for person in persons:
        if scope.covers(person.grid_code):
            grouped.setdefault(person.household_id, []).append(view("person", person, on))
    return grouped


async def building_households(request: Request) -> JSONResponse:
    """A building in the caller's area with its households and their people, masked."""
    code = request.path_params["code"]
    scope = scope_of(request)
    records = records_of(request)
    if len(code) > MAX_KEY or "\x00" in code:
        raise ApiError(404, "no such building", code[:MAX_KEY])

    def gather() -> tuple[Record, list[Household], list[Person], list[Person]] | None:
        building = records.get("building", code)
        if building is None or not scope.covers(building.grid_code):
            return None
        collect = collect_store(records)
        return building, *collect.building(code, MOST_HOUSEHOLDS, MOST_PEOPLE), collect.moved_out(code, MOST_MOVED)

    found = await asyncio.to_thread(gather)
    if found is None:
        raise ApiError(404, "no such building", code)
    building, homes, persons, moved = found
    on = today(request)
    living = _by_household(persons[:MOST_PEOPLE], scope, on)
    gone = _by_household(moved, scope, on)  # 迁出, so that a mistaken one can be undone on site
    shown = [
        view("household", home, on) | {"people": living.get(home.id, []), "moved_out": gone.get(home.id, [])}
        for home in homes[:MOST_HOUSEHOLDS]
        if scope.covers(home.grid_code)
    ]
    truncated = len(homes) > MOST_HOUSEHOLDS or len(persons) > MOST_PEOPLE
    return JSONResponse(
        {"building": view("building", building, on), "households": shown, "truncated": truncated}
    )


routes: list[BaseRoute] = [
    Route("/api/basedata/buildings/{code}/households", building_households, methods=["GET"]),
]
