"""GET /api/stats/export?view=areas|matters|series&format=csv|xlsx: a statistics table as a
file, with the view's own parameters (api/stats.py), headings in Chinese.

CSV starts with a BOM (Excel opens UTF-8 Chinese only then); XLSX is openpyxl's
write-only workbook. The tables are aggregates (an area's children, the matters, a series'
points): small, built in memory.
"""

from __future__ import annotations

import csv
import io
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from command_center.api.errors import ApiError
from command_center.api.stats import area_rows, matter_rows, series_points

VIEWS = ("areas", "matters", "series")
FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "areas": [("code", "区域编码"), ("name", "区域"), ("level", "层级"), ("cases", "案件数"), ("closed", "结案数"),
              ("on_time_rate", "按期结案率"), ("closure_rate", "结案率"), ("rework_rate", "返工率")],
    "matters": [("code", "事项编码"), ("name", "事项"), ("class", "大类编码"), ("class_name", "大类"), ("cases", "案件数"),
                ("closed", "结案数"), ("on_time_rate", "按期结案率")],
    "series": [("bucket", "时段"), ("key", "分组"), ("count", "案件数")],
}  # fmt: skip


def _choice(request: Request, name: str, known: tuple[str, ...]) -> str:
    raw = request.query_params.get(name)
    if raw not in known:
        raise ApiError(400, f"bad query parameter {name!r}", list(known))
    return raw


async def _rows(request: Request, view: str) -> list[dict[str, Any]]:
    if view == "areas":
        return (await area_rows(request))[1]
    if view == "matters":
        return await matter_rows(request)
    return (await series_points(request))[2]


def to_csv(view: str, rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([title for _, title in COLUMNS[view]])
    for row in rows:
        writer.writerow(["" if row[key] is None else row[key] for key, _ in COLUMNS[view]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(view: str, rows: list[dict[str, Any]]) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet(view)
    sheet.append([title for _, title in COLUMNS[view]])
    for row in rows:
        sheet.append([row[key] for key, _ in COLUMNS[view]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def export_view(request: Request) -> Response:
    view = _choice(request, "view", VIEWS)
    fmt = _choice(request, "format", tuple(FORMATS))
    rows = await _rows(request, view)
    body = to_csv(view, rows) if fmt == "csv" else to_xlsx(view, rows)
    name = f"统计-{view}.{fmt}"
    disposition = f"attachment; filename=stats-{view}.{fmt}; filename*=UTF-8''{quote(name)}"
    return Response(body, media_type=FORMATS[fmt], headers={"Content-Disposition": disposition})


routes: list[BaseRoute] = [Route("/api/stats/export", export_view)]
