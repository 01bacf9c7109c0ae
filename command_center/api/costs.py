"""Cost–benefit accounting (成本—收益核算, docs/COSTS.md): GET /api/costs/summary (an area's
month: totals, categories, child areas, matters and classes) and GET /api/costs/export (its
child areas or matters as CSV or XLSX). The budget lines themselves: api/costs_lines.py.

Officers and admins read (auth/policy.py), scoped by jurisdiction: an `area` outside the
caller's is a 403; the default area is the caller's top. Every sum is the database's
(store/cost_queries.py); only divisions happen here (costs/summary.py).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.costs.lines import parse_month
from command_center.costs.summary import Child, arrange
from command_center.store.cost_records import cost_store
from dispatch.city import LEVELS, Area
from dispatch.city.codes import significant_digits

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip
FIGURE_COLUMNS = [("budget", "预算（元）"), ("cost", "归集成本（元）"), ("cases", "案件数"), ("cost_per_case", "每案成本（元）"),
                  ("residents", "服务人口"), ("cost_per_resident", "人均成本（元）"), ("sensed", "视频/物联网发现"),
                  ("worker_found", "网格员发现"), ("citizen", "群众举报"), ("early_share", "主动发现率")]  # fmt: skip
EXPORT_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "areas": [("code", "区域编码"), ("name", "区域"), *FIGURE_COLUMNS],
    "matters": [("code", "事项编码"), ("name", "事项"), ("class_name", "大类"), ("cases", "案件数"), ("cost", "归集成本（元）"),
                ("cost_per_case", "每案成本（元）"), ("sensed", "视频/物联网发现"), ("worker_found", "网格员发现"),
                ("citizen", "群众举报"), ("early_share", "主动发现率")],
}  # fmt: skip


def area_json(area: Area) -> dict[str, str]:
    return {"code": area.code, "name": area.name, "level": area.level}


def top_area(request: Request) -> Area:
    """The caller's top: their jurisdiction's area, or the city."""
    areas = deps.city(request).city.areas
    jurisdiction = principal_of(request).jurisdiction or ""
    if jurisdiction:
        found = areas.get(jurisdiction.ljust(15, "0"))
        if found is None:
            raise ApiError(403, "forbidden", f"your jurisdiction {jurisdiction} is no area of the map")
        return found
    city = next((a for a in areas.values() if a.level == "city"), None)
    if city is None:
        raise ApiError(400, "no city area in the map", "name an 'area'")
    return city


def area_param(request: Request, raw: str | None) -> Area:
    """The area named (default: the caller's top): 400 when malformed or unknown, 403 outside."""
    if raw is None or raw == "":
        return top_area(request)
    if not (raw.isdigit() and len(raw) == 15):
        raise ApiError(400, "bad query parameter 'area'", "a 15-digit area code")
    area = deps.city(request).city.areas.get(raw)
    if area is None:
        raise ApiError(400, "unknown area", raw)
    jurisdiction = principal_of(request).jurisdiction or ""
    if jurisdiction and not raw.startswith(jurisdiction):
        raise ApiError(403, "forbidden", f"area {raw} is outside your jurisdiction {jurisdiction}")
    return area


def month_param(request: Request) -> str:
    raw = request.query_params.get("month")
    if not raw:
        dispatcher = deps.dispatcher(request)
        return dispatcher.clock().astimezone(dispatcher.tz).date().isoformat()[:7]
    try:
        if len(raw) != 7:
            raise ValueError(raw)
        return parse_month(raw)
    except ValueError:
        raise ApiError(400, "bad query parameter 'month'", "a month YYYY-MM") from None


def _matter_name(request: Request) -> Callable[[str], str]:
    book = deps.dispatcher(request).book

    def name(code: str) -> str:
        found = book.find(code)
        return found.name if found is not None else code

    return name


async def summary_of(request: Request) -> dict[str, Any]:
    area = area_param(request, request.query_params.get("area"))
    month = month_param(request)
    city = deps.city(request).city
    top = top_area(request)
    children = sorted((a for a in city.areas.values() if a.parent == area.code), key=lambda a: a.code)
    level = area.level
    digits = 15 if level == "grid" else significant_digits(LEVELS[LEVELS.index(level) + 1])
    prefix = area.code[: significant_digits(level)]
    found = await asyncio.to_thread(cost_store(deps.store(request)).attribution, month, prefix, digits)
    kids = [Child(a.code, a.name, a.level) for a in children] if level != "grid" else []
    parent = city.areas.get(area.parent or "") if area.code != top.code else None
    up = {"code": parent.code, "name": parent.name} if parent is not None else None
    arranged = arrange(found, kids, digits, _matter_name(request))
    return {"month": month, "area": area_json(area), "parent": up} | arranged


async def summary(request: Request) -> JSONResponse:
    return JSONResponse(await summary_of(request))


def _rows_file(view: str, rows: list[dict[str, Any]], fmt: str) -> bytes:
    columns = EXPORT_COLUMNS[view]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([title for _, title in columns])
        for row in rows:
            writer.writerow(["" if row.get(k) is None else row[k] for k, _ in columns])
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(view)
    sheet.append([title for _, title in columns])
    for row in rows:
        sheet.append([row.get(k) for k, _ in columns])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def export(request: Request) -> Response:
    view = request.query_params.get("view")
    fmt = request.query_params.get("format")
    if view not in EXPORT_COLUMNS:
        raise ApiError(400, "bad query parameter 'view'", list(EXPORT_COLUMNS))
    if fmt not in FORMATS:
        raise ApiError(400, "bad query parameter 'format'", list(FORMATS))
    answer = await summary_of(request)
    rows = answer["children"] if view == "areas" else answer["matters"]
    body = _rows_file(view, rows, fmt)
    stamp = f"{answer['area']['code']}-{answer['month']}"
    name = f"成本效益-{view}-{stamp}.{fmt}"
    disposition = f"attachment; filename=costs-{view}-{stamp}.{fmt}; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type=FORMATS[fmt], headers={"Content-Disposition": disposition})


routes: list[BaseRoute] = [
    Route("/api/costs/summary", summary),
    Route("/api/costs/export", export),
]
