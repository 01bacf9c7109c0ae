"""The working calendar: holidays and make-up workdays (调休) over the configuration's.

GET    /api/calendar?year=      {year, work_hours, weekend, days: [{day, kind, name, source}]}
PUT    /api/calendar/{day}      {kind: holiday|workday, name}  city admins (auth/policy.py)
DELETE /api/calendar/{day}      back to what the configuration says of that day

Time limits run in working time, so a day changed here moves the deadlines of cases
created after it; applied on this node at once and on the others within a second.
"""

from __future__ import annotations

import asyncio
from datetime import date

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.registry import matters, work_calendar


def _path_day(request: Request) -> str:
    raw = request.path_params["day"]
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        day = None
    if day is None or len(raw) != 10:  # 3.11 also reads 20260101: one spelling per day
        raise ApiError(404, "not a day", f"a date as YYYY-MM-DD, not {raw!r}")
    return day.isoformat()


async def get_calendar(request: Request) -> JSONResponse:
    dispatcher = deps.dispatcher(request)
    year = int_param(request, "year", dispatcher.clock().astimezone(dispatcher.tz).year, 1970, 2200)
    calendar = deps.config(request).dispatch.calendar
    days = await asyncio.to_thread(work_calendar.days_of_year, deps.store(request), calendar, year)
    return JSONResponse({
        "year": year,
        "work_hours": [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in calendar.work_hours],
        "weekend": calendar.weekend,
        "days": days,
    })  # fmt: skip


async def put_day(request: Request) -> JSONResponse:
    principal = principal_of(request)
    day = _path_day(request)
    try:
        setting = work_calendar.DaySetting.model_validate(await json_body(request, required=True))
    except ValidationError as exc:
        fields = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        raise ApiError(422, "bad day", fields) from None
    store = deps.store(request)
    await asyncio.to_thread(store.put_day, day, setting.kind, setting.name.strip(), principal.user, matters.now_iso())
    await audit.record(store, request, principal, "calendar.set", day, f"{setting.kind} {setting.name}".strip())
    await deps.registry(request).changed("calendar")
    return JSONResponse({"day": day, "kind": setting.kind, "name": setting.name.strip(), "source": "stored"})


async def delete_day(request: Request) -> Response:
    principal = principal_of(request)
    day = _path_day(request)
    store = deps.store(request)
    if not await asyncio.to_thread(store.delete_day, day):
        raise ApiError(404, "no such day", f"{day} was not set in the console")
    await audit.record(store, request, principal, "calendar.clear", day)
    await deps.registry(request).changed("calendar")
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/api/calendar", get_calendar, methods=["GET"]),
    Route("/api/calendar/{day}", put_day, methods=["PUT"]),
    Route("/api/calendar/{day}", delete_day, methods=["DELETE"]),
]
