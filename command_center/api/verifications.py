"""Video verifications (视频核查, command_center/verification.py): the hall's list, one, an
officer's decision on a suggested verdict, and the evidence (the deciding frame, the clip).

Reading and deciding are the hall's (officers and admins, scoped by the jurisdiction of the
case); the evidence is also the assigned worker's, since a case returned by the camera
carries its frame among the photos the terminal shows. A decision is a compare-and-set on
the row: two officers confirming at once act on the case once, the other gets 409.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.store.verification_records import (
    AWAITING,
    STATES,
    VerificationRecords,
    verification_store,
)
from command_center.verification import Verifications, utc_iso, view
from dispatch.cases import ActorNotAllowed, Case, InvalidTransition
from dispatch.dispatcher import BadParams, CaseNotFound, ConcurrentUpdate

MAX_NOTE = 2000
PURPOSES = ("verify", "watch")


def _service(request: Request) -> Verifications:
    return cast(Verifications, request.app.state.verifications)


def _records(request: Request) -> VerificationRecords:
    return verification_store(deps.store(request))


async def visible(request: Request) -> tuple[dict[str, Any], Case]:
    """The row and its case, if the caller may see the case (a worker: assigned to them);
    otherwise 404, as if it did not exist."""
    vid = request.path_params["id"]
    row = await asyncio.to_thread(_records(request).get_verification, vid) if len(vid) <= 64 else None
    case = await asyncio.to_thread(deps.store(request).get_case, row["case_id"]) if row else None
    if row is None or case is None or not principal_of(request).sees_case(case.grid_code, case.assignee):
        raise ApiError(404, "verification not found", vid)
    return row, case


def _states(request: Request) -> list[str]:
    raw = request.query_params.get("state", "")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not all(n in STATES for n in names):
        raise ApiError(400, "bad query parameter 'state'", {"one or a comma list of": list(STATES)})
    return names


async def list_verifications(request: Request) -> JSONResponse:
    """Newest first, in the caller's jurisdiction; `awaiting=1`: suggested verdicts waiting for an officer."""
    params = request.query_params
    case_id = params.get("case_id") or None
    if case_id is not None and len(case_id) > 64:
        raise ApiError(400, "bad query parameter 'case_id'", "a case id")
    purpose = params.get("purpose") or None
    if purpose is not None and purpose not in PURPOSES:
        raise ApiError(400, "bad query parameter 'purpose'", list(PURPOSES))
    awaiting = params.get("awaiting", "0").lower()
    if awaiting not in ("", "0", "1", "true", "false"):
        raise ApiError(400, "bad query parameter 'awaiting'", "1 or 0")
    limit, offset = int_param(request, "limit", 100, 1, 1000), int_param(request, "offset", 0, 0, 10_000_000)
    rows, total = await asyncio.to_thread(
        _records(request).list_verifications,
        states=_states(request), case_id=case_id, grid_prefix=principal_of(request).jurisdiction or None,
        awaiting=awaiting in ("1", "true"), purpose="verify" if awaiting in ("1", "true") else purpose,
        limit=limit, offset=offset,
    )  # fmt: skip
    return JSONResponse({"items": [view(r) for r in rows], "total": total, "limit": limit, "offset": offset})


async def get_verification(request: Request) -> JSONResponse:
    row, _ = await visible(request)
    return JSONResponse(view(row))


def _note(body: dict[str, Any]) -> str:
    note = body.get("note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ApiError(400, "bad field 'note'", f"a string of up to {MAX_NOTE} characters")
    return note.strip()


async def confirm(request: Request) -> JSONResponse:
    """The camera's verdict holds: cleared → the case verified, present → returned."""
    return await _decide(request, accept=True)


async def reject(request: Request) -> JSONResponse:
    """The camera's verdict does not hold: nothing on the case (people check it as usual)."""
    return await _decide(request, accept=False)


async def _decide(request: Request, accept: bool) -> JSONResponse:
    note = _note(await json_body(request))
    row, case = await visible(request)
    if not view(row)["awaiting"]:
        raise ApiError(409, "not awaiting a decision", {"state": row["state"], "mode": row["mode"]})
    who, records = principal_of(request), _records(request)
    state = "confirmed" if accept else "rejected"
    decided = await asyncio.to_thread(
        records.update_verification, row["id"], state=state, decided_at=utc_iso(), decided_by=who.user,
        doc={"note": note}, expect=AWAITING,
    )  # fmt: skip
    if decided is None:  # another officer was first
        raise ApiError(409, "not awaiting a decision", {"state": "decided meanwhile"})
    store, casework = deps.store(request), deps.casework(request)
    if accept:
        case = await _act(request, decided, row, note)
        action = "verify" if decided.get("outcome") == "cleared" else "return"
        await audit.record(
            store, request, who, f"case.{action}", case.id, f"by video verification {row['id']}"
        )
    await audit.record(
        store, request, who, f"verification.{'confirm' if accept else 'reject'}", row["id"], note or None
    )
    fresh = await asyncio.to_thread(records.get_verification, row["id"]) or decided
    await _service(request).announce(fresh)
    return JSONResponse({"verification": view(fresh), "case": casework.case_view(case)})


async def _act(request: Request, decided: dict[str, Any], before: dict[str, Any], note: str) -> Case:
    """The confirmed verdict applied to the case; on failure the row goes back to awaiting."""
    who = principal_of(request)
    try:
        return await _service(request).act_on_case(decided, who.actor, note)
    except Exception as exc:
        await asyncio.to_thread(
            _records(request).update_verification, before["id"], state=before["state"],
            decided_at=before["decided_at"], decided_by=before["decided_by"], expect=(decided["state"],),
        )  # fmt: skip
        raise _case_error(exc) from None


def _case_error(exc: Exception) -> Exception:
    if isinstance(exc, InvalidTransition):
        return ApiError(409, "the case moved on", {"state": exc.state.value, "allowed": exc.allowed})
    if isinstance(exc, ActorNotAllowed):
        return ApiError(403, "not allowed", {"reason": exc.reason})
    if isinstance(exc, ConcurrentUpdate):
        return ApiError(409, "case changed meanwhile", str(exc))
    if isinstance(exc, CaseNotFound):
        return ApiError(409, "the case is gone", None)
    if isinstance(exc, BadParams):
        return ApiError(400, str(exc), exc.detail)
    return exc


async def after_jpg(request: Request) -> FileResponse:
    return await _evidence(request, deps.snapshots(request).path, "snapshot", "image/jpeg", "no frame yet")


async def clip_mp4(request: Request) -> FileResponse:
    missing = "clip not found (it is ready a few seconds after the verdict)"
    return await _evidence(request, deps.clips(request).path, "clip", "video/mp4", missing)


async def _evidence(
    request: Request, path_of: Callable[[str], Path], what: str, media_type: str, missing: str
) -> FileResponse:
    """A verification's evidence file, blurred by role and audited (evidence_access.py)."""
    row, _ = await visible(request)
    try:
        path = path_of(row["id"])
    except ValueError:
        raise ApiError(404, missing, row["id"]) from None
    if not path.exists():
        raise ApiError(404, missing, row["id"])
    return await deps.evidence(request).serve(deps.store(request), request, path, row["id"], what, media_type)


routes: list[BaseRoute] = [
    Route("/api/verifications", list_verifications, methods=["GET"]),
    Route("/api/verifications/{id}", get_verification, methods=["GET"]),
    Route("/api/verifications/{id}/confirm", confirm, methods=["POST"]),
    Route("/api/verifications/{id}/reject", reject, methods=["POST"]),
    Route("/api/verifications/{id}/after.jpg", after_jpg, methods=["GET"]),
    Route("/api/verifications/{id}/clip.mp4", clip_mp4, methods=["GET"]),
]
