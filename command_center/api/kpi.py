"""KPIs as JSON or CSV: GET /api/kpi?group=district&from=…&to=…&format=csv.

The range goes to SQL (cases created in [from, to)), and one call loads at most
limits.query_max_cases cases: a wider range is refused with the count, so the caller
narrows it. Without `from`, the range is the limits.kpi_default_days before `to` (or now).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, tzinfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.store import CaseQuery, Store
from command_center.verify_kpi import day_range, to_csv, with_verify_tasks
from dispatch.cases import Case
from dispatch.kpi import GROUPS, kpis

# Stored times are compared as text: the SQL range is widened by the largest UTC offset, so
# a time stored with any offset is still fetched; kpis() then applies the exact range.
ZONE_SLACK = timedelta(hours=14)


def when(request: Request, name: str, tz: tzinfo) -> datetime | None:
    """The query parameter `name` as a time; one without an offset is in `tz` (the city's)."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"bad query parameter {name!r}", "an ISO 8601 time, e.g. 2026-11-01T00:00:00+08:00") from None
    return value if value.tzinfo else value.replace(tzinfo=tz)


async def kpi(request: Request) -> Response:
    group = request.query_params.get("group", "district")
    if group not in GROUPS:
        raise ApiError(400, "bad query parameter 'group'", list(GROUPS))
    fmt = request.query_params.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ApiError(400, "bad query parameter 'format'", ["json", "csv"])
    dispatcher, limits = deps.dispatcher(request), deps.config(request).limits
    end = when(request, "to", dispatcher.tz)
    start = when(request, "from", dispatcher.tz) or (end or dispatcher.clock()) - timedelta(days=limits.kpi_default_days)
    if end is not None and end <= start:
        raise ApiError(400, "empty range", "'to' must be after 'from'")
    prefix = principal_of(request).jurisdiction or None  # a district officer's KPIs are their district's
    cases = await load_cases(deps.store(request), limits.query_max_cases, prefix, start, end)
    rows = kpis(cases, group, start, end)
    # 核查按期率 and its counts (command_center/verify_kpi.py): dispatch/kpi.py knows no base data
    days = day_range(start, end, dispatcher.tz, dispatcher.clock())
    items = await with_verify_tasks(rows, deps.store(request), group, prefix or "", days)
    if fmt == "csv":
        return Response(to_csv(items), media_type="text/csv; charset=utf-8")
    span = {"from": start.isoformat(), "to": end.isoformat() if end else None}
    return JSONResponse({"group": group, **span, "items": items})


async def load_cases(store: Store, cap: int, prefix: str | None, start: datetime, end: datetime | None) -> list[Case]:
    """The cases created in the range (and a little around it), counted first: past `cap`
    nothing is loaded and the caller is told to narrow the range."""
    query = CaseQuery(
        grid_prefix=prefix,
        created_since=start - ZONE_SLACK,
        created_before=end + ZONE_SLACK if end else None,
        limit=0,
    )
    _, total = await asyncio.to_thread(store.list_cases, query)
    if total > cap:
        raise ApiError(400, "too many cases in this range", {"cases": total, "limit": cap, "hint": "narrow 'from' and 'to'"})
    cases, _ = await asyncio.to_thread(store.list_cases, replace(query, limit=cap))
    return cases


routes: list[BaseRoute] = [
    Route("/api/kpi", kpi),
]
