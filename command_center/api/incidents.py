"""Incidents: list, one, snapshot, clip, ack, confirm and dismiss (evidence served by
evidence_access.py).

Confirm and dismiss act on the incident's case too (triage.py): confirming sends a case that
waits for the hall; dismissing a false alarm recalls (cancels) the case it opened while
nobody has acted on it, and the worker's terminal drops it. Once work started the officer
chooses: `case: "recall"` or `"keep"`; without a choice the answer is 409 and nothing changes.
A case that stands on other reports too (a citizen's, another incident still standing) is
kept unless the officer asks for the recall."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit, triage
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.events import Event
from command_center.iot_cameras import snapshot_id
from command_center.store import Store
from dispatch.cases import TRANSITIONS, UNTOUCHED_STATES, Case, InvalidTransition
from dispatch.dispatcher import BadParams, CaseNotFound, ConcurrentUpdate

STATES = ("new", "acked", "dismissed")
CASE_CHOICES = ("recall", "keep")  # what a dismissal does to a case someone works on
MAX_NOTE = 2000
FALSE_ALARM = "误报"
DEFAULT_DISMISSAL = "值班员排除告警"
MAX_CAMERAS = 10  # an IoT incident's nearby cameras at most (config iot.cameras_max)


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
    camera = request.query_params.get("camera")
    if camera is not None and not 0 < len(camera) <= 128:
        raise ApiError(400, "bad query parameter 'camera'", "a camera id")
    prefix = principal_of(request).jurisdiction or None
    items, total = await asyncio.to_thread(
        deps.store(request).list_incidents, limit, offset, state, prefix, camera_id=camera
    )
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


async def get_incident(request: Request) -> JSONResponse:
    return JSONResponse(await visible_incident(request, request.path_params["id"]))


async def incident_snapshot(request: Request) -> FileResponse:
    return await _evidence(request, deps.snapshots(request).path, "snapshot", "image/jpeg", "snapshot not found")


async def incident_camera_snapshot(request: Request) -> FileResponse:
    """An IoT incident's n-th nearby camera's snapshot (iot_cameras.py; the 1st is snapshot.jpg)."""
    n = request.path_params["n"]
    if not 1 <= n <= MAX_CAMERAS:
        raise ApiError(404, "snapshot not found", f"camera 1 to {MAX_CAMERAS}")
    path = deps.snapshots(request).path
    what = "snapshot" if n == 1 else f"snapshot {n}"  # its own blurred copy and audit line
    return await _evidence(request, lambda i: path(snapshot_id(i, n)), what, "image/jpeg", "snapshot not found")


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
    """A new incident seen (the alarm stops); its case goes on as it was."""
    body = await json_body(request)
    who = principal_of(request)
    current = _still_new(await visible_incident(request, request.path_params["id"]))
    fields = {"state": "acked", "handled_by": str(body.get("actor", who.actor))} | _noted(_note(body))
    updated = await _mark(request, current, fields)
    await audit.record(deps.store(request), request, who, "incident.ack", current["id"], fields.get("note"))
    return JSONResponse(updated)


async def confirm_incident(request: Request) -> JSONResponse:
    """The hall confirms a new (or acknowledged) incident whose case waits: the case is sent now,
    to `worker` or to whom auto-dispatch picks, and the incident is acknowledged."""
    body = await json_body(request)
    note, worker = _note(body), body.get("worker")
    if worker is not None and (not isinstance(worker, str) or not 0 < len(worker) <= 64):
        raise ApiError(400, "bad field 'worker'", "the id of a grid worker")
    who = principal_of(request)
    if who.role == "emergency":  # sending grid workers is the hall's call, not the emergency team's
        raise ApiError(403, "forbidden", {"reason": "the duty officer confirms incidents"})
    current = await visible_incident(request, request.path_params["id"])
    if current["state"] == "dismissed":
        raise ApiError(409, "incident is already dismissed", {"state": "dismissed"})
    if not current.get("case_id"):
        raise ApiError(409, "the incident has no case yet", {"state": current["state"], "case_id": None})
    # A worker of the caller's jurisdiction only: one outside answers as an unknown one (api/cases.py).
    if worker is not None and not any(who.sees_area(w.grid_code) for w in deps.city(request).grids_of(worker)):
        raise ApiError(400, "unknown worker", worker)
    casework = deps.casework(request)
    try:
        case = await triage.confirm(casework, current["case_id"], who.actor, worker, note)
    except triage.NotWaiting as exc:
        raise ApiError(409, "its case is not waiting to be dispatched", _case_detail(exc.case)) from None
    except triage.NoWorker as exc:
        raise ApiError(409, "no worker on duty near its grid: name one ('worker')", _case_detail(exc.case)) from None
    except BadParams as exc:
        raise ApiError(400, exc.reason, exc.detail) from None
    except ConcurrentUpdate as exc:
        raise ApiError(409, "case changed meanwhile", str(exc)) from None
    except CaseNotFound:
        raise ApiError(409, "the incident's case is gone", {"case_id": current["case_id"]}) from None
    updated = current
    if current["state"] == "new":
        updated = await _mark(request, current, {"state": "acked", "handled_by": who.actor} | _noted(note))
    await audit.record(deps.store(request), request, who, "incident.confirm", current["id"], f"case {case.id}")
    return JSONResponse(updated | {"case": casework.case_view(case)})


async def dismiss_incident(request: Request) -> JSONResponse:
    """A false alarm: the incident dismissed (its zone's threshold may rise), its case recalled
    or kept as the module's docstring says."""
    body = await json_body(request)
    note, choice = _note(body), body.get("case")
    if choice is not None and choice not in CASE_CHOICES:
        raise ApiError(400, "bad field 'case'", f"one of {', '.join(CASE_CHOICES)}")
    who = principal_of(request)
    store, casework = deps.store(request), deps.casework(request)
    current = _still_new(await visible_incident(request, request.path_params["id"]))
    case = await asyncio.to_thread(store.get_case, current["case_id"]) if current.get("case_id") else None
    if case is not None and await _recalls(store, case, current["id"], choice):
        reason = f"{FALSE_ALARM}：{note or DEFAULT_DISMISSAL}"
        try:  # before the incident changes: a case that moved on meanwhile leaves both as they were
            case = await casework.act(case.id, "cancel", who.actor, reason, expected_version=case.version)
        except (InvalidTransition, ConcurrentUpdate, CaseNotFound):
            raise ApiError(409, "its case changed meanwhile; look again", _case_detail(case)) from None
        await audit.record(store, request, who, "case.cancel", case.id, f"incident {current['id']} dismissed")
    fields: dict[str, Any] = {"state": "dismissed", "handled_by": str(body.get("actor", who.actor))} | _noted(note)
    raised = await asyncio.to_thread(deps.cameras(request).record_dismissal, current)
    if raised is not None:  # a false positive: its camera's threshold rose
        fields["raised_threshold"] = raised
    updated = await _mark(request, current, fields)
    await audit.record(store, request, who, "incident.dismiss", current["id"], note or None)
    return JSONResponse(updated | ({"case": casework.case_view(case)} if case is not None else {}))


async def _recalls(store: Store, case: Case, incident_id: str, choice: str | None) -> bool:
    """Whether dismissing the incident cancels its case; 409 when the officer must choose."""
    if not case.is_open or choice == "keep":
        return False
    if choice is None and await _stands_on_more(store, case, incident_id):
        return False
    if case.state in UNTOUCHED_STATES:
        return True
    if choice is None:
        can_recall = case.state in TRANSITIONS["cancel"]
        detail = _case_detail(case) | {"choices": list(CASE_CHOICES) if can_recall else ["keep"]}
        raise ApiError(409, "work has started on its case", detail)
    if case.state not in TRANSITIONS["cancel"]:
        raise ApiError(409, "its case can no longer be recalled", _case_detail(case) | {"choices": ["keep"]})
    return True


async def _stands_on_more(store: Store, case: Case, incident_id: str) -> bool:
    """Does the case have another report behind it: not from video, or another incident that
    was not dismissed?"""
    if case.source != "video":
        return True
    for other in case.incident_ids:
        if other != incident_id:
            doc = await asyncio.to_thread(store.get_incident, other)
            if doc is not None and doc.get("state") != "dismissed":
                return True
    return False


async def _mark(request: Request, current: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    updated = await asyncio.to_thread(deps.store(request).update_incident, current["id"], **fields)
    if updated is None:  # removed meanwhile (retention)
        raise ApiError(404, "incident not found", current["id"])
    await deps.bus(request).publish(Event("incidents", "incident.updated", updated))
    return updated


def _still_new(incident: dict[str, Any]) -> dict[str, Any]:
    if incident["state"] != "new":
        raise ApiError(409, f"incident is already {incident['state']}", {"state": incident["state"]})
    return incident


def _note(body: dict[str, Any]) -> str:
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ApiError(400, "bad field 'note'", f"a string of up to {MAX_NOTE} characters")
    return note.strip()


def _noted(note: str) -> dict[str, str]:
    return {"note": note} if note else {}


def _case_detail(case: Case) -> dict[str, Any]:
    return {"case_id": case.id, "state": case.state.value}


routes: list[BaseRoute] = [
    Route("/api/incidents", list_incidents),
    Route("/api/incidents/{id}", get_incident),
    Route("/api/incidents/{id}/snapshot.jpg", incident_snapshot),
    Route("/api/incidents/{id}/snapshots/{n:int}.jpg", incident_camera_snapshot),
    Route("/api/incidents/{id}/clip.mp4", incident_clip),
    Route("/api/incidents/{id}/ack", ack_incident, methods=["POST"]),
    Route("/api/incidents/{id}/confirm", confirm_incident, methods=["POST"]),
    Route("/api/incidents/{id}/dismiss", dismiss_incident, methods=["POST"]),
]
