"""Incidents: list, one, snapshot, clip, ack and dismiss (evidence served by evidence_access.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.events import Event

STATES = ("new", "acked", "dismissed")


async def visible_incident(request: Request, incident_id: str) -> dict[str, Any]:
    """The incident if the caller may see it (in their jurisdiction; for a worker, the
    evidence of a case assigned to them), else 404 as if it did not exist."""
    who = principal_of(request)
    store = deps.store(request)
    incident = await asyncio.to_thread(store.get_incident, incident_id)
    if incident is not None and who.is_worker:
        case = await asyncio.to_thread(store.get_case, incident["case_id"]) if incident.get("case_id") else None
        if case is None or not who.sees_case(case.grid_code, case.assignee):
            incident = None
    if incident is None or not who.sees_area(incident.get("grid_code")):
        raise ApiError(404, "incident not found", incident_id)
    return incident


async def list_incidents(request: Request) -> JSONResponse:
    state = request.query_params.get("state")
    if state is not None and state not in STATES:
        raise ApiError(400, "bad query parameter 'state'", f"one of {', '.join(STATES)}")
    limit = int_param(request, "limit", 50, 1, 1000)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    prefix = principal_of(request).jurisdiction or None
    items, total = await asyncio.to_thread(deps.store(request).list_incidents, limit, offset, state, prefix)
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


async def get_incident(request: Request) -> JSONResponse:
    return JSONResponse(await visible_incident(request, request.path_params["id"]))


async def incident_snapshot(request: Request) -> FileResponse:
    return await _evidence(request, deps.snapshots(request).path, "snapshot", "image/jpeg", "snapshot not found")


async def incident_clip(request: Request) -> FileResponse:
    missing = "clip not found (it is ready a few seconds after the incident)"
    return await _evidence(request, deps.clips(request).path, "clip", "video/mp4", missing)


async def _evidence(
    request: Request, path_of: Callable[[str], Path], what: str, media_type: str, missing: str
) -> FileResponse:
    """An incident's evidence file, if the caller may see the incident: 404 for an id that
    names no file (or a bad one), served blurred or not by role (evidence_access.py)."""
    incident_id = request.path_params["id"]
    await visible_incident(request, incident_id)
    try:
        path = path_of(incident_id)
    except ValueError:
        raise ApiError(404, f"{what} not found", incident_id) from None
    if not path.exists():
        raise ApiError(404, missing, incident_id)
    return await deps.evidence(request).serve(deps.store(request), request, path, incident_id, what, media_type)


async def ack_incident(request: Request) -> JSONResponse:
    return await _mark(request, "acked")


async def dismiss_incident(request: Request) -> JSONResponse:
    return await _mark(request, "dismissed")


async def _mark(request: Request, new_state: str) -> JSONResponse:
    """Move a new incident to `new_state`, published and audited; 409 when it is not new."""
    body = await json_body(request)
    incident_id = request.path_params["id"]
    who = principal_of(request)
    store = deps.store(request)
    current = await visible_incident(request, incident_id)
    if current["state"] != "new":
        raise ApiError(409, f"incident is already {current['state']}", {"state": current["state"]})
    fields: dict[str, Any] = {"state": new_state, "handled_by": str(body.get("actor", who.actor))}
    if "note" in body:
        fields["note"] = str(body["note"])[:2000]
    if new_state == "dismissed":  # a false positive: its camera's threshold may rise
        raised = await asyncio.to_thread(deps.cameras(request).record_dismissal, current)
        if raised is not None:
            fields["raised_threshold"] = raised
    updated = await asyncio.to_thread(store.update_incident, incident_id, **fields)
    assert updated is not None
    await deps.bus(request).publish(Event("incidents", "incident.updated", updated))
    action = "incident.ack" if new_state == "acked" else "incident.dismiss"
    await audit.record(store, request, who, action, incident_id, fields.get("note"))
    return JSONResponse(updated)


routes: list[BaseRoute] = [
    Route("/api/incidents", list_incidents),
    Route("/api/incidents/{id}", get_incident),
    Route("/api/incidents/{id}/snapshot.jpg", incident_snapshot),
    Route("/api/incidents/{id}/clip.mp4", incident_clip),
    Route("/api/incidents/{id}/ack", ack_incident, methods=["POST"]),
    Route("/api/incidents/{id}/dismiss", dismiss_incident, methods=["POST"]),
]
