"""KPIs as JSON or CSV: GET /api/kpi?group=district&from=…&to=…&format=csv."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.runtime import Runtime
from command_center.store import CaseQuery
from dispatch.kpi import GROUPS, kpis, to_csv

MAX_CASES = 1_000_000


def routes(rt: Runtime) -> list[Route]:
    def when(request: Request, name: str) -> datetime | None:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise ApiError(400, f"bad query parameter {name!r}", "an ISO 8601 time, e.g. 2026-11-01T00:00:00+08:00") from None
        return value if value.tzinfo else value.replace(tzinfo=rt.dispatcher.tz)

    async def kpi(request: Request) -> Response:
        group = request.query_params.get("group", "district")
        if group not in GROUPS:
            raise ApiError(400, "bad query parameter 'group'", list(GROUPS))
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ApiError(400, "bad query parameter 'format'", ["json", "csv"])
        start, end = when(request, "from"), when(request, "to")
        prefix = principal_of(request).jurisdiction or None  # a district officer's KPIs are their district's
        cases, _ = await asyncio.to_thread(rt.store.list_cases, CaseQuery(grid_prefix=prefix, limit=MAX_CASES))
        rows = kpis(cases, group, start, end)
        if fmt == "csv":
            return Response(to_csv(rows), media_type="text/csv; charset=utf-8")
        return JSONResponse({"group": group, "items": [asdict(r) for r in rows]})

    return [Route("/api/kpi", kpi)]
