"""What api/basedata.py's handlers share: the kinds as the URL names them, the caller's
scope, records as the API shows them (personal fields masked), paging over several grids,
and the checks of a form's fields (personal ones sealed on the way in).

Runs on worker threads (asyncio.to_thread): the store and the key file are blocking.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from starlette.requests import Request

from basedata.cycles import due
from basedata.identity import check_credit_code, check_id_number, check_phone
from basedata.model import Building, Household, Person, Record
from basedata.protect import FieldCipher, FieldKind, mask_id, mask_phone
from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.basedata_config import base_data_key
from command_center.store.basedata_records import (
    BaseDataRecords,
    Parent,
    base_data_store,
    grid_range,
    present,
)
from command_center.store.basedata_schema import KEYS, SEALED, TABLES
from command_center.store.queries import compile_sql

# The URL's plural → the record kind (basedata.model.RecordKind).
KINDS = {"addresses": "address", "buildings": "building", "households": "household", "people": "person",
         "organisations": "organisation"}  # fmt: skip
PARENT = {"building": "address", "household": "building", "person": "household", "organisation": "address"}
PARENT_FIELD = {"building": "address_code", "household": "building_code", "person": "household_id",
                "organisation": "address_code"}  # fmt: skip
# Sealed fields as a form sends them (clear text) → the kind they are sealed as.
SEALABLE: dict[str, dict[str, FieldKind]] = {
    "person": {"id_number": "id_number", "phone": "phone"},
    "organisation": {"contact_phone": "phone"},
}
MASKS: dict[str, Callable[[str], str]] = {"id_number": mask_id, "phone": mask_phone, "contact_phone": mask_phone}
# Set by the server, never by a form: where a record came from, its re-check dates and version,
# and a person's moving out (DELETE /api/basedata/people/{id}: audited; a backdated one would
# shorten their retention).
SERVER_SET = frozenset({"source", "verified_at", "next_check_at", "version", "left_on"})
DERIVED = {"person": frozenset({"sex", "birth_date"})}  # read from the ID number
MAX_KEY = 80  # the longest key of any kind (a person's id)
CIPHER_STATE = "basedata_cipher"  # app.state: the FieldCipher, once its key is read
_key_lock = threading.Lock()


def kind_of(request: Request) -> str:
    kind = KINDS.get(request.path_params["kind"])
    if kind is None:
        raise ApiError(404, "no such kind of base data", {"one of": list(KINDS)})
    return kind


def records_of(request: Request) -> BaseDataRecords:
    return base_data_store(deps.store(request))


def today(request: Request) -> date:
    """The city's date by the dispatcher's clock and zone (the store counts events in its days),
    never the machine's: from 16:00 to 24:00 UTC those differ by a day in Guangzhou."""
    return deps.city_now(request).date()


def bad_field(name: str, reason: str) -> ApiError:
    """422 naming the field; the reason never repeats a personal value."""
    return ApiError(422, f"bad field {name!r}", {"field": name, "reason": reason})


def invalid(exc: ValidationError) -> ApiError:
    """pydantic's objections as 422: each field and why (messages, never the input)."""
    problems = [
        {"field": ".".join(str(p) for p in error["loc"]) or "(body)", "reason": str(error["msg"])}
        for error in exc.errors()
    ]
    first = problems[0] if problems else {"field": "(body)", "reason": "invalid"}
    return ApiError(422, f"bad field {first['field']!r}", {**first, "problems": problems})


@dataclass(frozen=True, slots=True)
class Scope:
    """The grid-code prefixes a caller reads and writes: their jurisdiction (staff) or the
    grids of their roster entries (a worker), narrowed to an asked area."""

    prefixes: tuple[str, ...]

    def covers(self, grid_code: str) -> bool:
        return any(grid_code.startswith(prefix) for prefix in self.prefixes)


def area_param(request: Request) -> str | None:
    area = request.query_params.get("area") or None
    if area is not None and not (area.isascii() and area.isdigit() and len(area) <= 15):
        raise ApiError(400, "bad query parameter 'area'", "a grid-code prefix: up to 15 digits")
    return area


def area_prefixes(request: Request, who: Principal, area: str | None) -> tuple[str, ...]:
    """The grid-code prefixes the caller reads under `area`: a worker's own grids (those under
    `area`), else their jurisdiction narrowed to it ("" for the whole city); 403 for an area
    outside it (or, for a worker, one holding none of their grids)."""
    if who.is_worker:
        grids = {w.grid_code for w in deps.city(request).grids_of(who.worker_id)} if who.worker_id else set()
        mine = tuple(sorted(g for g in grids if who.sees_area(g)))
        if area is None:
            return mine
        chosen = tuple(g for g in mine if g.startswith(area))
        if not chosen:
            raise ApiError(403, "forbidden", f"area {area} holds none of your grids")
        return chosen
    try:
        prefix = who.narrow(area)
    except ValueError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    return (prefix or "",)


def scope_of(request: Request, area: str | None = None) -> Scope:
    return Scope(area_prefixes(request, principal_of(request), area))


def view(kind: str, record: Record, on: date) -> dict[str, Any]:
    """A record as the API shows it: ID numbers and phones masked from their tails (the
    cipher and the index never leave the server), and whether it is due for re-checking."""
    shown: dict[str, Any] = record.model_dump(mode="json")
    for name in SEALED.get(kind, ()):
        sealed = getattr(record, name)
        shown[name] = None if sealed is None else MASKS[name](sealed.tail)
    shown["due"] = due(record.next_check_at, on)
    return shown


def due_before(on: date) -> date:
    """`due=1` lists what basedata.cycles.due calls due today: next check today or before."""
    return on + timedelta(days=1)


@cache
def _count_sql(dialect: str, kind: str, only_due: bool) -> str:
    table = TABLES[kind]
    where = [table.c.grid_code >= sa.bindparam("lo"), table.c.grid_code < sa.bindparam("hi"), present(table)]
    if only_due:  # as BaseDataRecords.list(due_before=...): never checked, or due before the day
        where.append(sa.or_(table.c.next_check_at.is_(None), table.c.next_check_at < sa.bindparam("due")))
    return compile_sql(sa.select(sa.func.count()).select_from(table).where(*where), dialect)


def count(records: BaseDataRecords, kind: str, prefix: str, before: date | None) -> int:
    """How many records of a kind under a prefix (due before `before`, if given): counted
    by the database on the (grid_code, next_check_at) index, never by loading rows."""
    params: dict[str, Any] = grid_range(prefix)
    if before is not None:
        params["due"] = before.isoformat()
    with records.store._reading() as db:
        found = db.execute(_count_sql(records.dialect, kind, before is not None), params).fetchone()
    return int(found[0]) if found else 0


def page(
    records: BaseDataRecords, kind: str, scope: Scope, limit: int, offset: int, before: date | None
) -> tuple[list[Record], int]:
    """One page over the scope's prefixes in turn (a worker's grids), and the total."""
    totals = [count(records, kind, prefix, before) for prefix in scope.prefixes]
    items: list[Record] = []
    skip = offset
    for prefix, total in zip(scope.prefixes, totals, strict=True):
        if len(items) >= limit:
            break
        if skip >= total:
            skip -= total
            continue
        items += records.list(kind, prefix, limit=limit - len(items), offset=skip, due_before=before)
        skip = 0
    return items, sum(totals)


def cipher_of(request: Request) -> FieldCipher:
    """The field cipher under the configured key file, read (or made, before anything is
    sealed) once per app. 503 when the key cannot be had: the store's sealed fields need it."""
    state = request.app.state
    found: FieldCipher | None = getattr(state, CIPHER_STATE, None)
    if found is not None:
        return found
    config = deps.config(request)
    with _key_lock:  # two first writers must not both make a key
        found = getattr(state, CIPHER_STATE, None)
        if found is None:
            path = config.basedata.key_path(config.server.data_dir)
            try:
                found = FieldCipher(base_data_key(records_of(request), path))
            except ValueError as exc:  # FieldKeyError: missing while sealed data is stored, unreadable
                raise ApiError(503, "the base-data key is not available", str(exc)) from None
            setattr(state, CIPHER_STATE, found)
    return found


def check_keys(kind: str, body: Mapping[str, Any]) -> None:
    """What a form may not set: the server's own fields and those read from the ID number."""
    for name, value in body.items():
        if isinstance(value, str) and "\x00" in value:  # no database stores it (PostgreSQL refuses)
            raise bad_field(name, "no NUL characters")
        if name in SERVER_SET:
            raise bad_field(name, "set by the server (a re-check: send \"verified\": true)")
        if name in DERIVED.get(kind, ()):
            raise bad_field(name, "read from the ID number")


def seal_fields(request: Request, kind: str, fields: dict[str, Any]) -> None:
    """The form's personal fields checked and sealed in place; an ID number also sets sex
    and birth date. A phone may be null (removed); an ID number may not."""
    for name, field_kind in SEALABLE.get(kind, {}).items():
        if name not in fields or (fields[name] is None and name != "id_number"):
            continue
        value = fields[name]
        if not isinstance(value, str):
            raise bad_field(name, "a string")
        try:
            if field_kind == "id_number":
                facts = check_id_number(value, today=today(request))
                fields["sex"], fields["birth_date"] = facts.sex, facts.birth_date
            else:
                check_phone(value)
        except ValueError as exc:  # the reasons name no digits beyond what they need
            raise bad_field(name, str(exc)) from None
        fields[name] = cipher_of(request).seal(field_kind, value)
    if kind == "organisation" and isinstance(fields.get("credit_code"), str):
        try:
            fields["credit_code"] = check_credit_code(fields["credit_code"])
        except ValueError as exc:
            raise bad_field("credit_code", str(exc)) from None


def parent_of(records: BaseDataRecords, kind: str, fields: Mapping[str, Any], scope: Scope) -> Parent | None:
    """The record's parent (a household's building…), which must exist inside the caller's
    scope; 422 naming the field otherwise (one outside reads as missing)."""
    if kind not in PARENT:
        return None
    name, parent_kind = PARENT_FIELD[kind], PARENT[kind]
    key = fields.get(name)
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise bad_field(name, f"the {parent_kind}'s {KEYS[parent_kind]}")
    found = records.existing(parent_kind, [key]).get(key)
    if found is None or not scope.covers(found.grid_code):
        raise bad_field(name, f"no {parent_kind} {key}")
    return found


def check_grid(request: Request, grid_code: Any, scope: Scope) -> str:
    """A grid of the current map, inside the caller's scope (403 outside it)."""
    if not isinstance(grid_code, str) or not grid_code:
        raise bad_field("grid_code", "a grid code")
    area = deps.city(request).city.areas.get(grid_code)
    if area is None or area.level != "grid":
        raise bad_field("grid_code", f"no grid {grid_code} on the map")
    if not scope.covers(grid_code):
        raise ApiError(403, "forbidden", f"grid {grid_code} is outside your area")
    return grid_code


def rental(record: Record, parent: Parent | None) -> bool:
    """Rental housing (the monthly cycle): a building so marked, a rental household, a
    person living in one (`parent`: their household)."""
    if isinstance(record, Building):
        return record.rental
    if isinstance(record, Household):
        return record.kind == "rental"
    return isinstance(record, Person) and parent is not None and parent.rental
