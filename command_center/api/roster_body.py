"""What the roster API reads from a request (api/roster.py): a worker's fields, grid
lists and leave, checked with the roster file's own rules (importing/roster.py), and
how it shows a worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, TypeVar

from command_center.api.errors import ApiError
from command_center.importing.roster import (
    parse_code,
    parse_kind,
    parse_level,
    parse_name,
    parse_phone,
    parse_shift,
    parse_worker_id,
)
from dispatch.city import City

V = TypeVar("V")
FIELDS: dict[str, Callable[[str], Any]] = {
    "code": parse_code,
    "name": parse_name,
    "phone": parse_phone,
    "kind": parse_kind,
    "level": parse_level,
}
MAX_GRIDS = 64  # a worker serves a few grids; a list of hundreds is a mistake
MAX_NOTE = 200


def field(body: dict[str, Any], name: str, parse: Callable[[str], V]) -> V:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"bad field {name!r}", "expected a non-empty string")
    try:
        return parse(value)
    except ValueError as exc:
        raise ApiError(400, f"bad field {name!r}", str(exc)) from None


def worker_fields(body: dict[str, Any], creating: bool) -> dict[str, Any]:
    """The worker's fields in the body, checked: all but code and level required on create."""
    unknown = set(body) - {*FIELDS, *(("id", "grids") if creating else ("active",))}
    if unknown:
        raise ApiError(400, "unknown fields", sorted(unknown))
    out: dict[str, Any] = {}
    if creating:
        out["id"] = field(body, "id", parse_worker_id)
    for name, parse in FIELDS.items():
        if name in body:
            out[name] = field(body, name, parse)
        elif creating and name not in ("code", "level"):
            raise ApiError(400, f"missing field {name!r}")
    if "active" in body:
        if not isinstance(body["active"], bool):
            raise ApiError(400, "bad field 'active'", "true or false")
        out["active"] = int(body["active"])
    return out


def grid_list(raw: Any, city: City) -> list[tuple[str, str]]:
    """[{grid_code, shift}] → [(grid_code, shift)]: 400 when malformed, 422 for a grid the map lacks."""
    if not isinstance(raw, list) or len(raw) > MAX_GRIDS:
        raise ApiError(400, "bad field 'grids'", f"a list of at most {MAX_GRIDS} {{grid_code, shift}}")
    out: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("grid_code"), str):
            raise ApiError(400, "bad field 'grids'", "each item: {grid_code, shift}")
        shift = field({"shift": item.get("shift", "all")}, "shift", parse_shift)
        code = item["grid_code"]
        area = city.areas.get(code)
        if area is None or area.level != "grid":
            raise ApiError(422, "unknown grid", code)
        if (code, shift) not in out:
            out.append((code, shift))
    return out


def instant(body: dict[str, Any], name: str, tz: tzinfo) -> datetime:
    """An ISO 8601 time; without an offset it is the city's local time."""
    value = body.get(name)
    try:
        found = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        found = None
    if found is None:
        raise ApiError(400, f"bad field {name!r}", "an ISO 8601 date and time, e.g. 2026-03-01T08:00")
    return (found if found.tzinfo else found.replace(tzinfo=tz)).astimezone(UTC)


def leave_body(body: dict[str, Any], tz: tzinfo) -> tuple[str, str, str]:
    """(starts, ends, note) as stored: UTC ISO text."""
    starts, ends = instant(body, "starts", tz), instant(body, "ends", tz)
    if ends <= starts:
        raise ApiError(400, "bad leave", "ends must be after starts")
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ApiError(400, "bad field 'note'", f"text of at most {MAX_NOTE} characters")
    return starts.isoformat(), ends.isoformat(), note


def worker_view(row: dict[str, Any], city: City, now: datetime) -> dict[str, Any]:
    """A stored worker as the API shows it: grids with their names, leave, on_leave now."""
    grids = []
    for g in row["grids"]:
        area = city.areas.get(g["grid_code"])
        community = city.areas.get(area.parent) if area is not None and area.parent else None
        grids.append(
            {
                "grid_code": g["grid_code"],
                "grid_name": area.name if area else None,
                "community_name": community.name if community else None,
                "shift": g["shift"],
                "since": g["valid_from"],
            }
        )
    leave = [
        {"id": x["seq"], "starts": x["starts"], "ends": x["ends"], "note": x["note"]} for x in row["leave"]
    ]
    on_leave = any(
        datetime.fromisoformat(x["starts"]) <= now < datetime.fromisoformat(x["ends"]) for x in leave
    )
    return {
        **{k: row[k] for k in ("id", "code", "name", "phone", "kind", "level")},
        "active": bool(row["active"]),
        "grids": grids,
        "on_leave": on_leave,
        "leave": leave,
        "has_account": bool(row["has_account"]),
    }
