"""The matter catalogue per district (入格事项清单): read it, propose, decide, version history.

GET  /api/matters?district=&day=                the district's catalogue in effect on `day`
GET  /api/matters/proposals?status=&district=   versions (a district admin sees the city's and their own)
POST /api/matters/proposals                     {district, change, matter, effective_from, reason} → 201
POST /api/matters/proposals/{id}/approve        {note}  city admins (policy): only a proposed one, else 409
POST /api/matters/proposals/{id}/reject         {note}
POST /api/matters/proposals/{id}/withdraw       the proposing district's admin
GET  /api/matters/{code}/versions?district=     every version of a matter

Reads are for staff, changes for admins (auth/policy.py); a district admin proposes for
their own district only. Every change is audited; an approval is applied on this node at
once and on the others within a second (registry/changes.py).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.registry import matters as registry
from dispatch.catalog import Matter

MAX_REASON = 500


def _today(request: Request) -> date:
    return deps.city_now(request).date()


def _day(raw: str | None, name: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ApiError(400, f"bad {name}", f"a date as YYYY-MM-DD, not {raw!r}") from None


def _district_param(request: Request, principal: Principal) -> str:
    """?district= (6 digits, or empty for the city); by default the caller's district."""
    raw = request.query_params.get("district")
    if raw is None:
        return principal.jurisdiction[:6] if len(principal.jurisdiction) >= 6 else ""
    wrong = registry.district_of(raw, deps.city(request).city)
    if wrong is not None:
        raise ApiError(400, "bad district", wrong)
    return raw


async def catalogue(request: Request) -> JSONResponse:
    principal = principal_of(request)
    district = _district_param(request, principal)
    day = _day(request.query_params.get("day"), "day") or _today(request)
    entries = deps.dispatcher(request).book.entries(district, day)
    items = [
        e.matter.model_dump(mode="json", by_alias=True)
        | {"version": e.version, "effective_from": e.effective_from.isoformat() if e.effective_from else None,
           "district": e.district, "source": e.source}
        for e in sorted(entries.values(), key=lambda e: e.matter.code)
    ]  # fmt: skip
    names = registry.district_names(deps.city(request).city)
    districts = [{"code": code, "name": name} for code, name in sorted(names.items())]
    return JSONResponse({"district": district, "day": day.isoformat(), "items": items, "districts": districts})


def _district_filter(request: Request) -> str | None:
    """The `district` filter: empty (city-wide) or a district code of up to 6 digits, else 400."""
    district = request.query_params.get("district")
    if district and not (len(district) <= 6 and district.isascii() and district.isdigit()):
        raise ApiError(400, "bad district", "a district code of up to 6 digits, or empty for city-wide")
    return district


async def list_proposals(request: Request) -> JSONResponse:
    principal = principal_of(request)
    status = request.query_params.get("status") or None
    if status is not None and status not in registry.STATUSES:
        raise ApiError(400, "bad status", f"one of {', '.join(registry.STATUSES)}")
    district = _district_filter(request)
    rows = await asyncio.to_thread(deps.store(request).matter_versions, status, district)
    return _versions(request, principal, rows)


async def versions(request: Request) -> JSONResponse:
    principal = principal_of(request)
    code = request.path_params["code"]
    district = _district_filter(request)
    rows = await asyncio.to_thread(deps.store(request).matter_versions, None, district, code)
    return _versions(request, principal, rows)


def _versions(request: Request, principal: Principal, rows: list[dict[str, Any]]) -> JSONResponse:
    names = registry.district_names(deps.city(request).city)
    items = [registry.view(r, names) for r in reversed(registry.visible(rows, principal.jurisdiction))]
    return JSONResponse({"items": items, "total": len(items)})


def _proposal(body: dict[str, Any], request: Request, principal: Principal) -> registry.Proposal:
    unknown = sorted(set(body) - {"district", "change", "matter", "effective_from", "reason"})
    if unknown:
        raise ApiError(400, "unknown field(s)", unknown)
    district, change, reason = body.get("district", ""), body.get("change"), body.get("reason", "")
    if not isinstance(district, str) or registry.district_of(district, deps.city(request).city):
        raise ApiError(422, "bad district", registry.district_of(str(district), deps.city(request).city))
    if principal.jurisdiction and district != principal.jurisdiction:
        raise ApiError(403, "not your district", f"you propose for district {principal.jurisdiction} only")
    if change not in registry.CHANGES:
        raise ApiError(422, "bad change", "'add' or 'change'")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise ApiError(422, "bad reason", f"why it is proposed: 1 to {MAX_REASON} characters")
    raw_day = body.get("effective_from")
    effective = _day(raw_day if isinstance(raw_day, str) else "?", "effective_from")
    if effective is None or effective < _today(request):
        raise ApiError(422, "bad effective_from", "a date (YYYY-MM-DD) from today on")
    try:
        matter = Matter.model_validate(body.get("matter"))
    except ValidationError as exc:
        fields = [{"field": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors()]
        raise ApiError(422, "bad matter", fields) from None
    wrong = registry.change_problem(deps.dispatcher(request).book, district, matter.code, change, effective)
    if wrong is not None:
        raise ApiError(422, "bad change", wrong)
    return registry.Proposal(district, change, matter.model_dump(mode="json", by_alias=True), effective, reason.strip())


async def propose(request: Request) -> JSONResponse:
    principal = principal_of(request)
    proposal = _proposal(await json_body(request, required=True), request, principal)
    store = deps.store(request)
    row = proposal.row(principal.user, registry.now_iso())
    [stored] = await asyncio.to_thread(store.add_matter_versions, [row])
    detail = f"{proposal.change} {proposal.matter['code']} v{stored['version']} for {proposal.district or 'city'}"
    await audit.record(store, request, principal, "matter.propose", str(stored["seq"]), detail)
    names = registry.district_names(deps.city(request).city)
    return JSONResponse(registry.view(stored, names), status_code=201)


async def _decide(request: Request, status: str) -> JSONResponse:
    principal = principal_of(request)
    try:
        seq = int(request.path_params["id"])
    except ValueError:
        raise ApiError(404, "no such proposal") from None
    body = await json_body(request)
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_REASON or set(body) - {"note"}:
        raise ApiError(400, "bad note", f"{{note}}: at most {MAX_REASON} characters")
    store = deps.store(request)
    row = await asyncio.to_thread(store.matter_version, seq)
    if row is None or not registry.visible([row], principal.jurisdiction):
        raise ApiError(404, "no such proposal")
    if status == "withdrawn" and row["district"] != principal.jurisdiction:
        raise ApiError(403, "not your proposal", "the proposing district's administrators withdraw it")
    done = await asyncio.to_thread(store.decide_matter_version, seq, status, principal.user, registry.now_iso(), note)
    if not done:
        raise ApiError(409, "not pending", f"this version is {row['status']}, not proposed")
    verb = {"approved": "approve", "rejected": "reject", "withdrawn": "withdraw"}[status]
    await audit.record(store, request, principal, f"matter.{verb}", str(seq), f"{row['code']} v{row['version']}: {note}")
    if status == "approved":
        await deps.registry(request).changed("matters")
    decided = await asyncio.to_thread(store.matter_version, seq)
    assert decided is not None
    return JSONResponse(registry.view(decided, registry.district_names(deps.city(request).city)))


async def approve(request: Request) -> JSONResponse:
    return await _decide(request, "approved")


async def reject(request: Request) -> JSONResponse:
    return await _decide(request, "rejected")


async def withdraw(request: Request) -> JSONResponse:
    return await _decide(request, "withdrawn")


routes: list[BaseRoute] = [
    Route("/api/matters", catalogue, methods=["GET"]),
    Route("/api/matters/proposals", list_proposals, methods=["GET"]),
    Route("/api/matters/proposals", propose, methods=["POST"]),
    Route("/api/matters/proposals/{id}/approve", approve, methods=["POST"]),
    Route("/api/matters/proposals/{id}/reject", reject, methods=["POST"]),
    Route("/api/matters/proposals/{id}/withdraw", withdraw, methods=["POST"]),
    Route("/api/matters/{code}/versions", versions, methods=["GET"]),
]
