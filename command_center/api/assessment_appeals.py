"""Appeals against a frozen month's score (绩效申诉, docs/ASSESSMENT.md):

GET  /api/assessment/{month}/appeals           the month's appeals in the caller's jurisdiction
POST /api/assessment/{month}/appeals           an officer contests one case's effect on one subject's score
POST /api/assessment/appeals/{id}/decision     an admin approves or rejects it, with a note

An approved appeal takes the case out of that subject's indicators; only that subject is
summed and scored again, and its level re-ranked (assessment_service.rescore). All audited.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from assessment.scheme import LEVELS
from command_center import audit
from command_center.api import deps
from command_center.api.assessment import Names, frozen, month_of, service
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.store.assessment_sql import MonthSpan, key_of

REASON = (4, 500)  # characters of a reason
NOTE = 500


def _text(body: dict[str, Any], name: str, low: int, high: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not low <= len(value.strip()) <= high or "\x00" in value:
        raise ApiError(400, f"bad {name}", f"{low} to {high} characters")
    return value.strip()


def appeal_view(appeal: dict[str, Any], names: Names) -> dict[str, Any]:
    return appeal | {"name": names.name(appeal["level"], appeal["subject"])}


def _area(names: Names, level: str, subject: str) -> str | None:
    if level != "worker":
        return subject
    worker = names.workers.get(subject)
    return worker.grid_code if worker is not None else None


async def listed(request: Request) -> JSONResponse:
    month = month_of(request.path_params["month"])
    who = principal_of(request)
    found = await asyncio.to_thread(service(request).records.appeals, month)
    names = Names(deps.city(request).city)
    rows = [appeal_view(a, names) for a in found if who.sees_area(_area(names, a["level"], a["subject"]))]
    return JSONResponse({"month": month, "rows": rows})


async def file(request: Request) -> JSONResponse:
    month = month_of(request.path_params["month"])
    body = await json_body(request, required=True)
    level = body.get("level")
    if level not in LEVELS:
        raise ApiError(400, "bad level", list(LEVELS))
    subject, case_id = _text(body, "subject", 1, 40), _text(body, "case_id", 1, 64)
    reason = _text(body, "reason", *REASON)
    run = await frozen(request, month)
    records, who = service(request).records, principal_of(request)
    names = Names(deps.city(request).city)
    scored = {r.subject for r in await asyncio.to_thread(records.scores, month, level)}
    if subject not in scored:
        raise ApiError(400, "bad subject", f"{subject} has no {level} score in {month}")
    if not who.sees_area(_area(names, level, subject)):
        raise ApiError(403, "forbidden", f"{subject} is outside your jurisdiction")
    span = MonthSpan.of(month, _grace(run))
    if not await asyncio.to_thread(records.case_of, span, level, subject, case_id):
        raise ApiError(400, "bad case_id", f"case {case_id} does not count in {subject}'s {month}")
    open_ = [a for a in await asyncio.to_thread(records.appeals, month)
             if (a["level"], a["subject"], a["case_id"]) == (level, subject, case_id) and a["state"] != "rejected"]  # fmt: skip
    if open_:
        raise ApiError(409, "appeal exists", f"appeal {open_[0]['id']} is {open_[0]['state']}")
    appeal = {"month": month, "level": level, "subject": subject, "subject_key": key_of(level, subject),
              "case_id": case_id, "reason": reason, "state": "pending", "filed_by": who.user,
              "filed_at": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
    appeal_id = await asyncio.to_thread(records.add_appeal, appeal)
    await audit.record(deps.store(request), request, who, "assessment.appeal", str(appeal_id), f"{month} {level} {subject} {case_id}")
    return JSONResponse(appeal_view({"id": appeal_id} | appeal, names), status_code=201)


def _grace(run: dict[str, Any]) -> int:
    """The grace days a frozen month was scored with (its cut-off day after the month's end)."""
    from assessment.scheme import from_canonical

    return from_canonical(run["scheme"]).grace_days


async def decide(request: Request) -> JSONResponse:
    raw = request.path_params["id"]
    if not raw.isdigit() or len(raw) > 12:
        raise ApiError(400, "bad appeal id", "a number")
    body = await json_body(request, required=True)
    decision = body.get("decision")
    if decision not in ("approve", "reject"):
        raise ApiError(400, "bad decision", ["approve", "reject"])
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > NOTE or "\x00" in note:
        raise ApiError(400, "bad note", f"up to {NOTE} characters")
    assessment, who = service(request), principal_of(request)
    found = await asyncio.to_thread(assessment.records.appeals, None, int(raw))
    if not found:
        raise ApiError(404, "unknown appeal", raw)
    appeal, names = found[0], Names(deps.city(request).city)
    if not who.sees_area(_area(names, appeal["level"], appeal["subject"])):
        raise ApiError(403, "forbidden", "the appeal's subject is outside your jurisdiction")
    now = deps.dispatcher(request).clock()
    state = "approved" if decision == "approve" else "rejected"
    if not await asyncio.to_thread(assessment.records.decide_appeal, appeal["id"], state, who.user,
                                   now.astimezone(UTC).isoformat(timespec="seconds"), note.strip()):  # fmt: skip
        raise ApiError(409, "appeal decided already", appeal["state"])
    row = None
    if state == "approved":
        row = await asyncio.to_thread(assessment.rescore, appeal["month"], appeal["level"], appeal["subject"], now)
    await audit.record(deps.store(request), request, who, f"assessment.appeal.{state}", str(appeal["id"]), note.strip()[:200])
    decided = (await asyncio.to_thread(assessment.records.appeals, None, int(raw)))[0]
    return JSONResponse({"appeal": appeal_view(decided, names), "score": row.doc() if row is not None else None})


routes: list[BaseRoute] = [
    Route("/api/assessment/{month}/appeals", listed, methods=["GET"]),
    Route("/api/assessment/{month}/appeals", file, methods=["POST"]),
    Route("/api/assessment/appeals/{id}/decision", decide, methods=["POST"]),
]
