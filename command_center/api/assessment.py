"""Performance assessment (绩效考核, docs/ASSESSMENT.md): the scheme, the frozen months, a
month's scores per level, top and bottom lists, honours, the district's PDF report, and the
run that freezes a month. Appeals are api/assessment_appeals.py.

Staff read, scoped by jurisdiction (a worker's row by their grid; an `area` outside is a
403); a worker reads only their own score and notices; only city administrators run and
recompute a month (auth/policy.py). Every figure was frozen by the run
(command_center/assessment_service.py): nothing here sums cases.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from assessment.scheme import INDICATORS, LEVELS, SchemeError
from assessment.scoring import Scored, top_bottom
from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body, text_param
from command_center.assessment_pdf import ReportRow, render_pdf, report_html
from command_center.assessment_service import Assessment, AssessmentError
from command_center.auth.middleware import principal_of
from command_center.store.assessment_records import assessment_store
from dispatch.city import City
from dispatch.city.codes import significant_digits

MONTH = re.compile(r"^[1-9]\d{3}-(0[1-9]|1[0-2])$")  # year 1000 on: a year 0 is no date
MOST_ROWS = 5000  # a level's rows in one answer (by rank); `limit` asks for fewer


def service(request: Request) -> Assessment:
    return Assessment(assessment_store(deps.store(request)))


def month_of(raw: str | None, name: str = "month") -> str:
    if raw is None or not MONTH.match(raw):
        raise ApiError(400, f"bad {name}", "a month YYYY-MM")
    return raw


def level_of(request: Request) -> str:
    level = request.query_params.get("level") or "worker"
    if level not in LEVELS:
        raise ApiError(400, "bad query parameter 'level'", list(LEVELS))
    return level


def workers_of(city: City) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for worker in city.workers:
        out.setdefault(worker.id, worker)  # a worker of several grids: the first grid is theirs here
    return out


class Names:
    """Names and areas of subjects on the current map."""

    def __init__(self, city: City) -> None:
        self.city = city
        self.workers = workers_of(city)

    def area(self, row: Scored) -> str | None:
        if row.level != "worker":
            return row.subject
        worker = self.workers.get(row.subject)
        return worker.grid_code if worker is not None else None

    def name(self, level: str, subject: str) -> str:
        if level == "worker":
            worker = self.workers.get(subject)
            return worker.name if worker is not None else subject
        area = self.city.areas.get(subject)
        return area.name if area is not None else subject

    def view(self, row: Scored, honours: dict[tuple[str, str], list[str]]) -> dict[str, Any]:
        area = self.area(row)
        found = self.city.areas.get(area or "")
        return {"subject": row.subject, "name": self.name(row.level, row.subject), "area": area,
                "area_name": found.name if found is not None else None, "cases": row.cases, "score": row.score,
                "rank": row.rank, "values": row.values, "points": row.points,
                "honours": honours.get((row.level, row.subject), [])}  # fmt: skip


def area_filter(request: Request) -> str:
    """The code prefix rows must fall under: the `area` asked for (inside the caller's
    jurisdiction, else 403), or the jurisdiction itself."""
    jurisdiction = principal_of(request).jurisdiction or ""
    raw = request.query_params.get("area")
    if not raw:
        return jurisdiction
    if not (raw.isdigit() and len(raw) == 15):
        raise ApiError(400, "bad query parameter 'area'", "a 15-digit area code")
    area = deps.city(request).city.areas.get(raw)
    if area is None:
        raise ApiError(400, "unknown area", raw)
    prefix = raw[: significant_digits(area.level)]
    if jurisdiction and not prefix.startswith(jurisdiction):
        raise ApiError(403, "forbidden", f"area {raw} is outside your jurisdiction {jurisdiction}")
    return prefix


async def frozen(request: Request, month: str) -> dict[str, Any]:
    run = await asyncio.to_thread(service(request).records.run, month)
    if run is None:
        raise ApiError(404, "month not frozen", f"{month} has no frozen assessment yet")
    return run


def run_view(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k != "scheme"}


async def scoped_rows(request: Request, month: str, level: str) -> tuple[Names, list[Scored], dict[tuple[str, str], list[str]]]:
    """The level's frozen rows the caller may see (a worker: their own), with the honours."""
    await frozen(request, month)
    records = service(request).records
    rows, honour_rows = await asyncio.gather(
        asyncio.to_thread(records.scores, month, level), asyncio.to_thread(records.honours, month)
    )
    names = Names(deps.city(request).city)
    who = principal_of(request)
    if who.is_worker:
        rows = [r for r in rows if r.level == "worker" and r.subject == who.worker_id]
    else:
        prefix = area_filter(request)
        rows = [r for r in rows if (names.area(r) or "").startswith(prefix)]
    honours: dict[tuple[str, str], list[str]] = {}
    for lv, subject, honour in honour_rows:
        honours.setdefault((lv, subject), []).append(honour)
    return names, rows, honours


async def scheme(request: Request) -> JSONResponse:
    try:
        current = await asyncio.to_thread(service(request).scheme)
    except SchemeError as exc:
        raise ApiError(500, "assessment scheme invalid", exc.errors) from None
    return JSONResponse({"version": current.version, "indicators": INDICATORS} | current.model_dump(mode="json"))


async def runs(request: Request) -> JSONResponse:
    return JSONResponse({"runs": await asyncio.to_thread(service(request).records.runs)})


async def freeze(request: Request) -> JSONResponse:
    body = await json_body(request, required=True)
    month = month_of(body.get("month") if isinstance(body.get("month"), str) else None)
    recompute = body.get("recompute", False)
    if not isinstance(recompute, bool):
        raise ApiError(400, "bad recompute", "true or false")
    dispatcher = deps.dispatcher(request)
    now = dispatcher.clock()
    if month >= now.astimezone(dispatcher.tz).date().isoformat()[:7]:
        raise ApiError(400, "bad month", f"{month} is not over yet")
    who = principal_of(request)
    try:
        run = await asyncio.to_thread(service(request).freeze, month, who.user, now, recompute)
    except AssessmentError as exc:
        raise ApiError(exc.status, "refused", str(exc)) from None
    action = "assessment.recompute" if recompute else "assessment.freeze"
    await audit.record(deps.store(request), request, who, action, month, f"{run['scheme_version']} {run['digest'][:16]}")
    return JSONResponse(run_view(run), status_code=201)


async def scores(request: Request) -> JSONResponse:
    month, level = month_of(request.path_params["month"]), level_of(request)
    names, rows, honours = await scoped_rows(request, month, level if not principal_of(request).is_worker else "worker")
    run = await frozen(request, month)
    most = int_param(request, "limit", MOST_ROWS, 1, MOST_ROWS)  # the best first: a city's 22,000 workers are 11 MB
    return JSONResponse({"month": month, "level": level, "run": run_view(run), "total": len(rows),
                         "rows": [names.view(r, honours) for r in rows[:most]]})  # fmt: skip


async def top(request: Request) -> JSONResponse:
    month, level = month_of(request.path_params["month"]), level_of(request)
    names, rows, honours = await scoped_rows(request, month, level)
    scheme_of = await asyncio.to_thread(service(request).scheme_of, month)
    levels = scheme_of.levels.get(level)  # type: ignore[call-overload]
    best, worst = top_bottom(rows, levels.top_n, levels.bottom_n) if levels is not None else ([], [])
    return JSONResponse({"month": month, "level": level, "top": [names.view(r, honours) for r in best],
                         "bottom": [names.view(r, honours) for r in worst]})  # fmt: skip


async def honours(request: Request) -> JSONResponse:
    month = month_of(request.path_params["month"])
    await frozen(request, month)
    names = Names(deps.city(request).city)
    prefix = area_filter(request)
    found = await asyncio.to_thread(service(request).records.honours, month)
    out = []
    for level, subject, honour in found:
        area = names.workers[subject].grid_code if level == "worker" and subject in names.workers else subject
        if (level != "worker" or subject in names.workers) and area.startswith(prefix):
            out.append({"level": level, "subject": subject, "name": names.name(level, subject), "honour": honour})
    return JSONResponse({"month": month, "rows": out})


async def notices(request: Request) -> JSONResponse:
    who = principal_of(request)
    asked = text_param(request, "worker", 64)  # 400 past 64 characters, for everyone alike
    worker = who.worker_id if who.is_worker else asked
    if not worker:
        return JSONResponse({"rows": []})
    if not who.is_worker:  # staff: a worker of their jurisdiction only
        found = workers_of(deps.city(request).city).get(worker)
        if found is None or not who.sees_area(found.grid_code):
            raise ApiError(404, "unknown worker", worker)
    return JSONResponse({"rows": await asyncio.to_thread(service(request).records.notices_of, worker)})


def district_of(request: Request) -> tuple[str, str]:
    raw = request.query_params.get("district") or (principal_of(request).jurisdiction or "")[:6].ljust(15, "0")
    area = deps.city(request).city.areas.get(raw)
    if not raw.strip("0") or area is None or area.level != "district":
        raise ApiError(400, "bad query parameter 'district'", "a district's 15-digit code")
    jurisdiction = principal_of(request).jurisdiction or ""
    if jurisdiction and not (raw.startswith(jurisdiction) or jurisdiction.startswith(raw[:6])):
        raise ApiError(403, "forbidden", f"district {raw} is outside your jurisdiction {jurisdiction}")
    return raw, area.name


async def report(request: Request) -> Response:
    month = month_of(request.path_params["month"])
    code, name = district_of(request)
    run = await frozen(request, month)
    records = service(request).records
    rows, honour_rows = await asyncio.gather(
        asyncio.to_thread(records.scores, month), asyncio.to_thread(records.honours, month)
    )
    names = Names(deps.city(request).city)
    honours: dict[tuple[str, str], list[str]] = {}
    for level, subject, honour in honour_rows:
        honours.setdefault((level, subject), []).append(honour)
    levels: dict[str, list[ReportRow]] = {}
    jurisdiction = principal_of(request).jurisdiction or ""
    prefix = jurisdiction if len(jurisdiction) > 6 else code[:6]  # a street's officer: their street's rows
    for r in rows:
        if (names.area(r) or "").startswith(prefix):
            levels.setdefault(r.level, []).append(ReportRow(r, names.name(r.level, r.subject), tuple(honours.get((r.level, r.subject), []))))
    used = await asyncio.to_thread(service(request).scheme_of, month)
    html = report_html(name, month, run, used, levels)
    pdf = await asyncio.to_thread(render_pdf, html)
    filename = f"assessment-{month}-{code[:6]}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


routes: list[BaseRoute] = [
    Route("/api/assessment/scheme", scheme),
    Route("/api/assessment/runs", runs, methods=["GET"]),
    Route("/api/assessment/runs", freeze, methods=["POST"]),
    Route("/api/assessment/notices", notices),
    Route("/api/assessment/{month}/scores", scores),
    Route("/api/assessment/{month}/top", top),
    Route("/api/assessment/{month}/honours", honours),
    Route("/api/assessment/{month}/report.pdf", report),
]
