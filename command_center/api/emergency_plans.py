"""Response plans (预案) over HTTP: staff read them, the city's administrators change them.

GET /api/emergency/plans            the four classes' plans in force (an admin's, else configs/plans.yaml)
PUT /api/emergency/plans/{class}    a whole Plan: validated by the Plan model (422 naming each
                                    field), stored for every node, audited; modes started after
                                    it use it, running ones keep theirs

The policy lets staff read and only city-wide admins write (auth/policy.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.emergency.plans import CLASSES, Plan
from command_center.i18n import name
from command_center.store.team_records import Row, team_store

log = logging.getLogger(__name__)
PLAN_LIMIT = 64 * 1024  # bytes of one plan document


def _stored(conn: HTTPConnection) -> dict[str, Row]:
    return team_store(deps.store(conn)).plan_rows()


def _valid(cls: str, row: Row | None) -> Plan | None:
    if row is None:
        return None
    try:
        return Plan.model_validate_json(row["doc"])
    except ValidationError as exc:  # a plan stored by an older version that this one reads otherwise
        log.error("stored plan for %s is not valid any more (%s): the configured one applies", cls, exc)
        return None


async def current_plan(conn: HTTPConnection, cls: str) -> Plan:
    """The plan a mode of `cls` starts with now."""
    rows = await asyncio.to_thread(_stored, conn)
    return _valid(cls, rows.get(cls)) or deps.emergency(conn).plans.get(cls)


def _item(cls: str, plan: Plan, row: Row | None) -> dict[str, Any]:
    return {
        "class": cls, "class_name": name("emclass", cls), "plan": plan.model_dump(mode="json"),
        "source": "admin" if row else "config",
        "updated_by": row["updated_by"] if row else None, "updated_at": row["updated_at"] if row else None,
    }  # fmt: skip


async def list_plans(request: Request) -> JSONResponse:
    rows = await asyncio.to_thread(_stored, request)
    defaults = deps.emergency(request).plans
    items = []
    for cls in CLASSES:
        plan = _valid(cls, rows.get(cls))
        items.append(_item(cls, plan or defaults.get(cls), rows.get(cls) if plan else None))
    return JSONResponse({"items": items})


def problems(exc: ValidationError) -> list[dict[str, str]]:
    """pydantic's errors as {field: "tasks.0.due_min", reason}: what the editor marks."""
    return [{"field": ".".join(str(p) for p in e["loc"]) or "plan", "reason": e["msg"]} for e in exc.errors()]


async def put_plan(request: Request) -> JSONResponse:
    cls = str(request.path_params["class"])
    if cls not in CLASSES:
        raise ApiError(404, "unknown emergency class", {"class": cls, "known": list(CLASSES)})
    body = await json_body(request, required=True, limit=PLAN_LIMIT)
    try:
        plan = Plan.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "invalid plan", problems(exc)) from None
    known = {t["id"] for t in await asyncio.to_thread(deps.teams(request).all)}
    unknown = [
        {"field": f"tasks.{i}.team", "reason": f"no emergency team {t.team!r}"}
        for i, t in enumerate(plan.tasks) if t.team and t.team not in known
    ]  # fmt: skip
    if unknown:
        raise ApiError(422, "invalid plan", unknown)
    who, at = principal_of(request), datetime.now(UTC).isoformat()
    doc = json.dumps(plan.model_dump(mode="json"), ensure_ascii=False)
    await asyncio.to_thread(team_store(deps.store(request)).put_plan_doc, cls, doc, who.user, at)
    await audit.record(deps.store(request), request, who, "emergency.plan", cls, plan.name)
    return JSONResponse(_item(cls, plan, {"updated_by": who.user, "updated_at": at}))


routes: list[BaseRoute] = [
    Route("/api/emergency/plans/{class}", put_plan, methods=["PUT"]),
]
# Ahead of /api/emergency/{id} (api/emergency.py puts it first).
first_routes: list[BaseRoute] = [
    Route("/api/emergency/plans", list_plans, methods=["GET"]),
]
