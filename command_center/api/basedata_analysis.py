"""Cross-analysis of the base data with the cases, and the care-demand forecast:

- GET /api/basedata/analysis?level=grid|community|street|district&area=&from=&to=&format=csv:
  per area, residents, households, rental density, elderly and elderly living alone, overdue
  re-checks, cases created from `from` to `to` (days in the city's time zone, both counted;
  default the 90 days to today) and events per 1,000 residents (store/basedata_analysis.py);
- GET /api/basedata/forecast?level=community|street|district&area=&method=&format=csv: care
  demand next quarter per community from the ledger (basedata/forecast.py), with the backtest
  of the method on the caller's own ledger;
- `per_residents`: api/hotspots.py's `per=1000`, each hot area's count per residents.

Scoped as the rest of the base data (api/basedata_views.scope_of): an officer's or admin's
jurisdiction, a worker's roster grids; an area outside it is 403. Answers hold counts only,
never a person. The analysis reads what the same roles can list record by record, so its
counts are shown whole. The forecast reads the special-group ledger: only the roles of config
`basedata.care_roles`, audited like the ledger's own reads (api/care.audit_read) and every CSV
download, with care groups of 1 to 4 members in an area hidden (basedata.forecast.suppress).

Mounted before api/basedata.py's routes: /api/basedata/{kind} would take these as kinds.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from basedata.care import GROUP_NAMES
from basedata.forecast import (
    HISTORY,
    METHODS,
    MIN_CELL,
    CommunityInput,
    Method,
    Quarter,
    backtest,
    community_demand,
    history_quarters,
    merge,
    merge_all,
    suppress,
)
from command_center import audit
from command_center.api import deps
from command_center.api.basedata_views import area_param, records_of, scope_of, today
from command_center.api.care import audit_read
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.store.basedata_analysis import FIGURES, AreaFigures, by_area, residents_in, total
from command_center.store.care_demand import demand_input
from dispatch.city.codes import Level, is_code, level_of, significant_digits
from dispatch.kpi import LEVEL_DIGITS

LEVELS = ("grid", "community", "street", "district")
FORECAST_LEVELS = ("community", "street", "district")
DEFAULT_DAYS = 90
MAX_DAYS = 3660
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
RATIOS = ("rental_share", "rental_per_building", "elderly_alone_share", "per_1000")


def choice(request: Request, name: str, allowed: Iterable[str], default: str) -> str:
    value = request.query_params.get(name, default)
    if value not in allowed:
        raise ApiError(400, f"bad query parameter {name!r}", list(allowed))
    return value


def day_param(request: Request, name: str) -> date | None:
    """A day, YYYY-MM-DD, within FIRST_DAY and LAST_DAY (a year 1 or 9999 day would overflow
    when made an instant in the city's zone)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise ApiError(
            400, f"bad query parameter {name!r}", f"a day, YYYY-MM-DD, from {FIRST_DAY} to {LAST_DAY}"
        )
    return day


def days_asked(request: Request, on: date) -> tuple[date, date]:
    """`from` and `to`, both counted; `to` defaults to today, `from` to DEFAULT_DAYS before it."""
    end = day_param(request, "to") or on
    start = day_param(request, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(400, "empty range", "'from' must be on or before 'to'")
    if (end - start).days >= MAX_DAYS:
        raise ApiError(400, "range too long", f"at most {MAX_DAYS} days")
    return start, end


def area_of(request: Request) -> str | None:
    """`area` as a grid-code prefix; a padded area code (a community's 440106001001000, as the
    map and the hotspots name it) is read as its significant digits."""
    area = area_param(request)
    if area is not None and is_code(area) and area in deps.city(request).city.areas:
        level = level_of(area)
        if level != "grid":
            area = area[: significant_digits(level)]
    return area


def namer(request: Request) -> Callable[[str], str | None]:
    areas = deps.city(request).city.areas

    def name(code: str) -> str | None:
        area = areas.get(code)  # an area no longer on the map keeps its figures: shown by code
        return None if area is None else str(area.name)

    return name


def csv_response(rows: list[dict[str, Any]], columns: list[str], filename: str) -> Response:
    """CSV with a BOM (spreadsheets then read the names as UTF-8), one row per area."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip


async def analysis(request: Request) -> Response:
    level = choice(request, "level", LEVELS, "grid")
    fmt = choice(request, "format", ("json", "csv"), "json")
    area = area_of(request)
    on = today(request)
    start, end = days_asked(request, on)
    scope = scope_of(request, area)
    tz = deps.dispatcher(request).tz
    since, before = datetime.combine(start, time(), tz), datetime.combine(end + timedelta(days=1), time(), tz)
    records = records_of(request)

    def gather() -> list[AreaFigures]:
        merged: dict[str, AreaFigures] = {}
        for prefix in scope.prefixes:  # a worker's grids one by one; their areas summed
            for row in by_area(records, level, prefix, on, since, before):
                merged[row.code] = merged[row.code].plus(row) if row.code in merged else row
        return sorted(merged.values(), key=lambda row: row.code)

    rows = await asyncio.to_thread(gather)
    name = namer(request)
    items = [{"code": r.code, "name": name(r.code), **r.to_dict()} for r in rows]
    totals = {k: v for k, v in total(rows).to_dict().items() if k != "code"}
    if fmt == "csv":
        columns = ["code", "name", *FIGURES, *RATIOS]
        return csv_response(items, columns, f"analysis-{level}-{start}-{end}.csv")
    body = {"level": level, "area": area, "on": on.isoformat(), "from": start.isoformat(), "to": end.isoformat(),
            "items": items, "totals": totals}  # fmt: skip
    return JSONResponse(body)


def _care_allowed(request: Request) -> None:
    if principal_of(request).role not in deps.config(request).basedata.care_roles:
        raise ApiError(
            403, "forbidden", "your role does not see the special-group ledger (config basedata.care_roles)"
        )


def _method(request: Request) -> Method | None:
    chosen = choice(request, "method", ("auto", *METHODS), "auto")
    return None if chosen == "auto" else chosen  # type: ignore[return-value]  # one of METHODS


async def forecast(request: Request) -> Response:
    """Next quarter's care demand per area, and the backtest that chose (or judged) the method."""
    _care_allowed(request)
    level = choice(request, "level", FORECAST_LEVELS, "community")
    fmt = choice(request, "format", ("json", "csv"), "json")
    asked = _method(request)
    area = area_of(request)
    scope = scope_of(request, area)
    on = today(request)
    coming = Quarter.of(on).shift(1)
    records, policy = records_of(request), deps.config(request).basedata.care

    quarters = history_quarters(coming, HISTORY + 1)  # the backtest's HISTORY and the quarter it forecasts

    def gather() -> list[CommunityInput]:
        merged: dict[str, CommunityInput] = {}
        for prefix in scope.prefixes:  # a worker's grids one by one; their areas summed
            for row in demand_input(records, LEVEL_DIGITS[level], prefix, coming, len(quarters)).areas:
                merged[row.code] = merge(merged[row.code], row) if row.code in merged else row
        return sorted(merged.values(), key=lambda row: row.code)

    inputs = await asyncio.to_thread(gather)
    series = [g.new_per_quarter for c in inputs for g in c.ledger.values()]
    tested = backtest(series, quarters[-1], asked)
    left = Quarter.of(on).left_after(on)
    name = namer(request)
    items = [
        {"name": name(c.code), **suppress(community_demand(c, policy, tested.method, left))} for c in inputs
    ]
    summed = suppress(community_demand(merge_all(inputs), policy, tested.method, left))
    await audit_read(request, f"care forecast {area or 'all'}", len(items))
    if fmt == "csv":
        await audit.record(deps.store(request), request, principal_of(request), "care.forecast.export",
                           area or "all", f"{len(items)} areas, {coming.label}")  # fmt: skip
        return forecast_csv(items, f"care-forecast-{level}-{coming.label}.csv")
    body = {
        "level": level, "area": area, "on": on.isoformat(), "quarter": coming.label,
        "from": coming.start.isoformat(), "to": (coming.end - timedelta(days=1)).isoformat(),
        "method": tested.method, "history": [q.label for q in quarters[1:]], "min_cell": MIN_CELL,
        "backtest": tested.to_dict(), "items": items, "totals": {k: v for k, v in summed.items() if k != "code"},
    }  # fmt: skip
    return JSONResponse(body)


FORECAST_COLUMNS = ["code", "name", "residents", "elderly", "over_80", "turning_60", "turning_80", "elderly_alone",
                    "alone_unenrolled", "alone_turning_60"]  # fmt: skip


def forecast_csv(items: list[dict[str, Any]], filename: str) -> Response:
    """One row per area: the base-data figures, each group's active and expected members (empty
    where hidden), the visits a month."""
    per_group = [f"{g}_{part}" for g in GROUP_NAMES for part in ("active", "expected")]
    rows = []
    for item in items:
        row = dict(item)
        for group in item["groups"]:
            row[f"{group['group']}_active"], row[f"{group['group']}_expected"] = (
                group["active"],
                group["expected"],
            )
        rows.append(row)
    columns = [*FORECAST_COLUMNS, *per_group, "visits_per_month", "potential_visits_per_month", "rounded"]
    return csv_response(rows, columns, filename)


async def per_residents(
    request: Request, items: list[dict[str, Any]], level: Level, per: int
) -> list[dict[str, Any]]:
    """Hot areas with their residents and `rate`: the recent count per `per` residents (None
    where none are recorded: shown as such, never divided by zero), the highest rate first."""
    records = records_of(request)
    residents = await asyncio.to_thread(
        residents_in, records, [str(i["code"]) for i in items], LEVEL_DIGITS[level]
    )
    for item in items:
        n = residents.get(str(item["code"]), 0)
        item["residents"] = n
        item["rate"] = round(item["recent"] * per / n, 3) if n else None
    return sorted(items, key=lambda i: (i["rate"] is None, -(i["rate"] or 0.0), -i["score"]))


routes: list[BaseRoute] = [
    Route("/api/basedata/analysis", analysis, methods=["GET"]),
    Route("/api/basedata/forecast", forecast, methods=["GET"]),
]
