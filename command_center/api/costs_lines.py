"""Budget lines (预算明细, docs/COSTS.md): GET /api/costs/lines (an area's lines, at it and
inside it, of a month or all), POST /api/costs/lines (one), GET, PATCH and DELETE
/api/costs/lines/{id}, and POST /api/costs/lines/import?filename=… (a CSV or XLSX file as
the body: every line applied in one transaction, or 422 with every problem, file, row and
column, and nothing stored).

Officers and admins read; admins write (auth/policy.py: there is no finance role). Every
read and write is scoped by jurisdiction: adding a line to an area outside the caller's is a
403; an existing line outside it is a 404 (to read, change or delete). Every change is audited.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.costs import area_param, month_param
from command_center.api.errors import ApiError, int_param, json_body, read_capped
from command_center.auth.middleware import principal_of
from command_center.costs.importer import problems_json, read_lines
from command_center.costs.lines import (
    NOTE_MAX,
    LineInput,
    fen_to_yuan,
    parse_amount,
    parse_area,
    parse_category,
    parse_grade,
    parse_month,
)
from command_center.importing.problems import ImportProblems
from command_center.store.cost_records import CostRecords, DuplicateLine, StaleLine, cost_store
from dispatch.city.codes import significant_digits

SUFFIXES = (".csv", ".xlsx")
IMPORT_MB = 5


def _records(request: Request) -> CostRecords:
    return cost_store(deps.store(request))


def line_json(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: row[k] for k in ("id", "area_code", "month", "category", "grade", "amount_fen", "note", "version",
                               "updated_at", "updated_by")}  # fmt: skip
    return out | {"amount": fen_to_yuan(row["amount_fen"])}


def _field(body: dict[str, Any], name: str, parse: Any, required: bool = True) -> Any:
    raw = body.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, f"missing field {name!r}", name)
        return None
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ApiError(400, f"bad field {name!r}", "a string or a number")
    try:
        return parse(raw if name == "amount" else str(raw))
    except ValueError as exc:
        raise ApiError(400, f"bad field {name!r}", str(exc)) from None


def _note(body: dict[str, Any]) -> str:
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > NOTE_MAX:
        raise ApiError(400, "bad field 'note'", f"a text of at most {NOTE_MAX} characters")
    return note


def prefix_of(request: Request) -> Callable[[str], str | None]:
    areas = deps.city(request).city.areas

    def prefix(code: str) -> str | None:
        area = areas.get(code)
        return None if area is None else code[: significant_digits(area.level)]

    return prefix


def _writable_area(request: Request, code: str) -> str:
    """The area's prefix: 400 unknown to the map, 403 outside the caller's jurisdiction."""
    prefix = prefix_of(request)(code)
    if prefix is None:
        raise ApiError(400, "bad field 'area_code'", f"no area {code} in the city map")
    if not principal_of(request).sees_area(code):
        raise ApiError(403, "forbidden", f"area {code} is outside your jurisdiction")
    return prefix


async def list_lines(request: Request) -> JSONResponse:
    area = area_param(request, request.query_params.get("area"))
    month = month_param(request) if request.query_params.get("month") else None
    limit = int_param(request, "limit", 200, 1, 1000)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    prefix = area.code[: significant_digits(area.level)]
    rows, total = await asyncio.to_thread(_records(request).list, prefix, month, limit, offset)
    return JSONResponse(
        {"items": [line_json(r) for r in rows], "total": total, "limit": limit, "offset": offset}
    )


async def add_line(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    code = _field(body, "area_code", parse_area)
    prefix = _writable_area(request, code)
    category = _field(body, "category", parse_category)
    grade = _field(body, "grade", lambda t: parse_grade(t, category), required=False) or ""
    line = LineInput(code, prefix, _field(body, "month", parse_month), category, grade,
                     _field(body, "amount", parse_amount), _note(body))  # fmt: skip
    principal = principal_of(request)
    try:
        row = await asyncio.to_thread(_records(request).add, line, principal.user)
    except DuplicateLine:
        raise ApiError(
            409, "line exists", "a line of this area, month, category and grade exists: change it"
        ) from None
    await audit.record(
        deps.store(request),
        request,
        principal,
        "costs.line.add",
        row["id"],
        f"{code} {line.month} {category}",
    )
    return JSONResponse(line_json(row), status_code=201)


async def _visible(request: Request) -> dict[str, Any]:
    row = await asyncio.to_thread(_records(request).get, request.path_params["id"])
    if row is None or not principal_of(request).sees_area(row["area_code"]):
        raise ApiError(404, "no such line", request.path_params["id"])
    return row


async def get_line(request: Request) -> JSONResponse:
    return JSONResponse(line_json(await _visible(request)))


async def change_line(request: Request) -> JSONResponse:
    row = await _visible(request)
    body = await json_body(request, required=True)
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ApiError(400, "missing field 'version'", "the version read: a change never overwrites another")
    category = _field(body, "category", parse_category, required=False) or row["category"]
    changes = {"category": category, "note": _note(body) if "note" in body else row["note"]}
    amount = _field(body, "amount", parse_amount, required=False)
    changes["amount_fen"] = row["amount_fen"] if amount is None else amount
    grade = body.get("grade", row["grade"] if category == "staff" else "")
    changes["grade"] = (
        _field({"grade": grade}, "grade", lambda t: parse_grade(t, category), required=False) or ""
    )
    principal = principal_of(request)
    try:
        after = await asyncio.to_thread(_records(request).update, row["id"], version, changes, principal.user)
    except StaleLine:
        raise ApiError(409, "line changed", "the line changed since you read it: read it again") from None
    except DuplicateLine:
        raise ApiError(409, "line exists", "another line has this category and grade") from None
    if after is None:
        raise ApiError(404, "no such line", row["id"])
    await audit.record(
        deps.store(request), request, principal, "costs.line.change", row["id"], str(changes["amount_fen"])
    )
    return JSONResponse(line_json(after))


async def delete_line(request: Request) -> JSONResponse:
    row = await _visible(request)
    principal = principal_of(request)
    await asyncio.to_thread(_records(request).delete, row["id"])
    await audit.record(
        deps.store(request), request, principal, "costs.line.delete", row["id"], row["area_code"]
    )
    return JSONResponse({"deleted": row["id"]})


def _file_name(request: Request) -> str:
    name = Path(request.query_params.get("filename", "")).name[:120]
    if not name.lower().endswith(SUFFIXES):
        raise ApiError(400, "bad query parameter 'filename'", "a .csv or .xlsx file name")
    return name


def _read(path: Path, request: Request) -> list[LineInput]:
    return read_lines(path, prefix_of(request), principal_of(request).jurisdiction or "")


async def import_lines(request: Request) -> JSONResponse:
    name = _file_name(request)
    body = await read_capped(request, IMPORT_MB * 1024 * 1024, "file")
    if not body:
        raise ApiError(400, "empty file", "send the file as the request body")
    principal = principal_of(request)
    with tempfile.TemporaryDirectory(prefix="cc-costs-") as folder:
        path = Path(folder) / ("upload" + Path(name).suffix.lower())
        path.write_bytes(body)
        try:
            lines = await asyncio.to_thread(_read, path, request)
        except ImportProblems as refused:
            # named by the file the person chose, not the temporary copy
            detail = {"file": name, "problems": problems_json(refused.problems, name)}
            return JSONResponse({"error": "import refused", "detail": detail}, status_code=422)
    written = await asyncio.to_thread(_records(request).upsert_all, lines, principal.user)
    await audit.record(deps.store(request), request, principal, "costs.import", name, f"lines {written}")
    return JSONResponse({"file": name, "lines": written})


routes: list[BaseRoute] = [
    Route("/api/costs/lines/import", import_lines, methods=["POST"]),
    Route("/api/costs/lines", list_lines, methods=["GET"]),
    Route("/api/costs/lines", add_line, methods=["POST"]),
    Route("/api/costs/lines/{id}", get_line, methods=["GET"]),
    Route("/api/costs/lines/{id}", change_line, methods=["PATCH"]),
    Route("/api/costs/lines/{id}", delete_line, methods=["DELETE"]),
]
