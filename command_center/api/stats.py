"""Case statistics (统计分析): GET /api/stats/summary, /series, /areas, /matters, /hotspots
(JSON) and /export (CSV or XLSX; api/stats_export.py). The contract is docs/STATS.md.

Officers, emergency staff and admins (the KPI routes' roles: the policy's default for a
path it does not name), scoped by jurisdiction: an `area` outside the caller's is a 403,
as the case desk's `grid`; the default area is the caller's top. Every figure is summed by
the database (store/stats_records.py); the rows here are aggregates, never cases.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError, int_param
from command_center.auth.middleware import principal_of
from command_center.store.stats_facts import CLASS_CODES
from command_center.store.stats_queries import HOTSPOT_MOST, StatsQuery
from command_center.store.stats_records import StatsRecords, figures, stats_store
from dispatch.catalog import MatterClass
from dispatch.city import LEVELS, Area
from dispatch.city.codes import significant_digits

SOURCES = ("video", "iot", "citizen", "worker", "emergency")
BUCKETS = ("day", "week", "month", "quarter", "year")
BY = ("source", "matter_class")
CLASS_NAMES: dict[str, MatterClass] = {"01": "市容环境", "02": "宣传广告", "03": "施工管理", "04": "突发事件",
                                      "05": "街面秩序", "99": "其他"}  # fmt: skip
MOST_DAYS = 1100  # three years: a longer span is refused (the page offers years)
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MATTER = re.compile(r"^[0-9A-Za-z_-]{1,16}$")
CELL = 1000


@dataclass(frozen=True, slots=True)
class Asked:
    """A request's statistics question: the query, and the area it is about."""

    query: StatsQuery
    area: Area
    top: bool  # the caller's top area: no parent to go up to


def _bad(name: str, expected: object) -> ApiError:
    return ApiError(400, f"bad query parameter {name!r}", expected)


def _choice(request: Request, name: str, known: tuple[str, ...], default: str | None = None) -> str | None:
    raw = request.query_params.get(name) or default
    if raw is not None and raw not in known:
        raise _bad(name, list(known))
    return raw


def _day(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        if not DAY.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise _bad(name, "a date YYYY-MM-DD") from None


def _period(request: Request) -> tuple[date, date]:
    dispatcher = deps.dispatcher(request)
    end = _day(request, "to") or dispatcher.clock().astimezone(dispatcher.tz).date()
    start = _day(request, "from") or date(end.year, 1, 1)
    if start > end:
        raise ApiError(400, "empty period", "'from' must not be after 'to'")
    if (end - start).days >= MOST_DAYS:
        raise ApiError(400, "period too long", f"at most {MOST_DAYS} days")
    return start, end


def _area(request: Request) -> tuple[Area, bool]:
    """The area asked for (default: the caller's top) and whether it is the caller's top."""
    areas = deps.city(request).city.areas
    jurisdiction = principal_of(request).jurisdiction or ""
    top = _top(areas, jurisdiction)
    raw = request.query_params.get("area")
    if raw is None or raw == "":
        return top, True
    if not (raw.isdigit() and len(raw) == 15):
        raise _bad("area", "a 15-digit area code")
    area = areas.get(raw)
    if area is None:
        raise ApiError(400, "unknown area", raw)
    if jurisdiction and not raw.startswith(jurisdiction):
        raise ApiError(403, "forbidden", f"area {raw} is outside your jurisdiction {jurisdiction}")
    return area, area.code == top.code


def _top(areas: dict[str, Area], jurisdiction: str) -> Area:
    if jurisdiction:
        found = areas.get(jurisdiction.ljust(15, "0"))
        if found is None:
            raise ApiError(403, "forbidden", f"your jurisdiction {jurisdiction} is no area of the map")
        return found
    city = next((a for a in areas.values() if a.level == "city"), None)
    if city is None:  # a map imported without its city level: nothing to sum the whole under
        raise ApiError(400, "no city area in the map", "name an 'area'")
    return city


def asked(request: Request) -> Asked:
    """Every endpoint's parameters, checked (400 naming the bad one, 403 outside the jurisdiction)."""
    start, end = _period(request)
    area, top = _area(request)
    matter = request.query_params.get("matter") or None
    if matter is not None and not MATTER.match(matter):
        raise _bad("matter", "a matter code, e.g. 0101")
    query = StatsQuery(
        start=start,
        end=end,
        prefix=area.code[: significant_digits(area.level)],
        source=_choice(request, "source", SOURCES),
        matter_class=_choice(request, "matter_class", CLASS_CODES),
        matter=matter,
    )
    return Asked(query, area, top)


def last_year(query: StatsQuery) -> StatsQuery:
    def back(day: date) -> date:
        return day.replace(year=day.year - 1, day=28 if (day.month, day.day) == (2, 29) else day.day)

    return replace(query, start=back(query.start), end=back(query.end))


def cases_url(query: StatsQuery, prefix: str | None = None, matter: str | None = None) -> str:
    """The desk's case list behind a figure (its search parameters: docs/STATS.md)."""
    params = {"grid": prefix if prefix is not None else query.prefix, "since": query.start.isoformat(),
              "until": query.end.isoformat(), "matter": matter or query.matter, "source": query.source}  # fmt: skip
    return "/desk#" + urlencode({k: v for k, v in params.items() if v})


def area_json(area: Area) -> dict[str, str]:
    return {"code": area.code, "name": area.name, "level": area.level}


def records(request: Request) -> StatsRecords:
    return stats_store(deps.store(request))


async def summary(request: Request) -> JSONResponse:
    ask, stats = asked(request), records(request)
    now, before = await asyncio.gather(
        asyncio.to_thread(stats.summary, ask.query), asyncio.to_thread(stats.summary, last_year(ask.query))
    )
    span = {"from": ask.query.start.isoformat(), "to": ask.query.end.isoformat()}
    return JSONResponse(
        {"period": span, "area": area_json(ask.area), "current": figures(now), "last_year": figures(before)}
    )


def bucket_of(day: str, bucket: str) -> str:
    if bucket == "day":
        return day
    if bucket == "month":
        return day[:7]
    if bucket == "year":
        return day[:4]
    if bucket == "quarter":
        return f"{day[:4]}-Q{(int(day[5:7]) + 2) // 3}"
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


async def series_points(request: Request) -> tuple[str, str, list[dict[str, Any]]]:
    ask = asked(request)
    bucket = _choice(request, "bucket", BUCKETS, "month") or "month"
    by = _choice(request, "by", BY, "source") or "source"
    rows = await asyncio.to_thread(records(request).series, ask.query, by)
    counts: dict[tuple[str, str], int] = {}
    for day, key, n in rows:  # a few thousand day rows at most: bucketed here, alike on both databases
        point = (bucket_of(day, bucket), key)
        counts[point] = counts.get(point, 0) + n
    return bucket, by, [{"bucket": b, "key": k, "count": n} for (b, k), n in sorted(counts.items())]


async def series(request: Request) -> JSONResponse:
    bucket, by, points = await series_points(request)
    return JSONResponse({"bucket": bucket, "by": by, "points": points})


async def area_rows(request: Request) -> tuple[Asked, list[dict[str, Any]]]:
    ask = asked(request)
    level = ask.area.level
    city = deps.city(request).city
    children = sorted((a for a in city.areas.values() if a.parent == ask.area.code), key=lambda a: a.code)
    if level == "grid" or not children:
        return ask, []
    digits = significant_digits(LEVELS[LEVELS.index(level) + 1])
    sums = await asyncio.to_thread(records(request).areas, ask.query, digits)
    empty = {"cases": 0, "closed": 0, "closed_on_time": 0, "deferred": 0, "reworked": 0, "sum_close_min": 0.0}
    rows = []
    for child in children:
        prefix = child.code[:digits]
        shown = figures(sums.get(prefix, empty))
        shown.pop("mean_close_min")
        rows.append(area_json(child) | shown | {"cases_url": cases_url(ask.query, prefix)})
    return ask, rows


async def areas(request: Request) -> JSONResponse:
    ask, children = await area_rows(request)
    parent = deps.city(request).city.areas.get(ask.area.parent or "") if not ask.top else None
    up = {"code": parent.code, "name": parent.name} if parent is not None else None
    return JSONResponse({"area": area_json(ask.area), "parent": up, "children": children})


def matter_name(request: Request, code: str) -> str:
    found = deps.dispatcher(request).book.find(code)
    return found.name if found is not None else code


async def matter_rows(request: Request) -> list[dict[str, Any]]:
    ask = asked(request)
    rows = await asyncio.to_thread(records(request).matters, ask.query)
    out = []
    for code, klass, sums in rows:
        shown = figures(sums)
        out.append({"code": code, "name": matter_name(request, code), "class": klass, "class_name": CLASS_NAMES.get(klass, klass),
                    "cases": shown["cases"], "closed": shown["closed"], "on_time_rate": shown["on_time_rate"],
                    "cases_url": cases_url(ask.query, matter=code)})  # fmt: skip
    return out


async def matters(request: Request) -> JSONResponse:
    return JSONResponse({"rows": await matter_rows(request)})


async def hotspots(request: Request) -> JSONResponse:
    ask = asked(request)
    most = int_param(request, "limit", 20, 1, HOTSPOT_MOST)
    spots = await asyncio.to_thread(records(request).hotspots, ask.query, most)
    rows = [{"lon": s.cell_x / CELL, "lat": s.cell_y / CELL, "cases": s.cases, "top_matter": s.top_matter,
             "top_matter_name": matter_name(request, s.top_matter), "cases_url": cases_url(ask.query)}
            for s in spots]  # fmt: skip
    return JSONResponse({"rows": rows})


# The export (/api/stats/export) is api/stats_export.py's route: it reads this module's views.
routes: list[BaseRoute] = [
    Route("/api/stats/summary", summary),
    Route("/api/stats/series", series),
    Route("/api/stats/areas", areas),
    Route("/api/stats/matters", matters),
    Route("/api/stats/hotspots", hotspots),
]
