"""An emergency mode's handover summary over HTTP (staff, in their jurisdiction):

GET /api/emergency/{id}/handover        JSON: what happened, who did what and when
GET /api/emergency/{id}/handover.html   the same as a printable page (Chinese)
GET /api/emergency/{id}/export.zip      cap.xml (CAP 1.2) + handover.html + handover.json

Cases linked to a mode: its incident's case, and the cases opened in its street while
it ran.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.emergency import plan_of, visible_mode
from command_center.api.errors import ApiError
from command_center.emergency.cap import cap_alert
from command_center.emergency.handover import export_zip, handover, handover_html
from command_center.emergency.teams import street_of
from command_center.i18n import DEFAULT_LANGUAGE, LANGUAGES, name
from command_center.store import Store
from command_center.store.case_query import CaseQuery
from dispatch.cases import Case
from dispatch.city.codes import significant_digits

MAX_CASES = 50


def _case_row(case: Case, workers: dict[str, Any], matter_name: Callable[[Case], str]) -> dict[str, Any]:
    worker = workers.get(case.assignee or "")
    return {
        "id": case.id, "state": case.state.value, "state_name": name("state", case.state.value),
        "matter_code": case.matter_code, "matter_name": matter_name(case),
        "grid_code": case.grid_code, "assignee": case.assignee,
        "assignee_name": worker.name if worker else None, "created_at": case.created_at.isoformat(),
    }  # fmt: skip


def linked(
    store: Store, mode: dict[str, Any], workers: dict[str, Any], matter_name: Callable[[Case], str]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the incident it started from, the cases linked to it)."""
    incident = store.get_incident(mode["incident_id"]) if mode.get("incident_id") else None
    found: dict[str, Case] = {}
    if incident and incident.get("case_id"):
        case = store.get_case(incident["case_id"])
        if case is not None:
            found[case.id] = case
    street = street_of(mode.get("grid_code"))
    if street:
        since = datetime.fromisoformat(mode["started_at"])
        until = datetime.fromisoformat(mode["ended_at"]) if mode.get("ended_at") else None
        query = CaseQuery(grid_prefix=street[: significant_digits("street")], created_since=since,
                          created_before=until, order="created", limit=MAX_CASES)  # fmt: skip
        for case in store.list_cases(query)[0]:
            found.setdefault(case.id, case)
    brief = None
    if incident:
        brief = {k: incident.get(k) for k in ("id", "ts", "camera_id", "camera_name", "rule", "rule_name",
                                               "matter_name", "grid_code", "case_id", "snapshot_url")}  # fmt: skip
    return brief, [_case_row(c, workers, matter_name) for c in found.values()]


def language(request: Request) -> str:
    """`?lang=` (zh, the default, or en): the handover in the reader's language."""
    lang = request.query_params.get("lang") or DEFAULT_LANGUAGE
    if lang not in LANGUAGES:
        raise ApiError(400, "bad query parameter 'lang'", {"known": list(LANGUAGES)})
    return lang


async def document(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the mode, its handover document in the language asked for)."""
    mode = visible_mode(request, request.path_params["id"])
    workers, dispatcher = deps.city(request).workers, deps.dispatcher(request)

    def matter_name(case: Case) -> str:
        try:
            return dispatcher.matter_of(case).name
        except (KeyError, ValueError):  # a matter since removed from the catalogue
            return case.matter_code

    incident, cases = await asyncio.to_thread(linked, deps.store(request), mode, workers, matter_name)
    names = {c.id: c.name or c.id for c in deps.config(request).cameras}
    doc = handover(mode, deps.dispatcher(request).tz, names, incident, cases, lang=language(request))
    return mode, doc


async def get_handover(request: Request) -> JSONResponse:
    return JSONResponse((await document(request))[1])


async def get_handover_html(request: Request) -> HTMLResponse:
    doc = (await document(request))[1]
    return HTMLResponse(handover_html(doc, language(request)), headers={"Cache-Control": "no-store"})


async def get_export(request: Request) -> Response:
    mode, doc = await document(request)
    cap = cap_alert(mode, plan_of(request, mode), f"command-center@{deps.config(request).server.host}")
    body = await asyncio.to_thread(export_zip, doc, handover_html(doc, language(request)), cap)
    headers = {"Content-Disposition": f'attachment; filename="{mode["id"]}.zip"', "Cache-Control": "no-store"}
    return Response(body, media_type="application/zip", headers=headers)


routes: list[BaseRoute] = [
    Route("/api/emergency/{id}/handover", get_handover, methods=["GET"]),
    Route("/api/emergency/{id}/handover.html", get_handover_html, methods=["GET"]),
    Route("/api/emergency/{id}/export.zip", get_export, methods=["GET"]),
]
