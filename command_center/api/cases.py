"""Cases: one, report one, the actions of the case loop, and their photos (the desk's
search, candidates and bulk actions: api/case_desk.py)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Route
from starlette.types import Message

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, json_body, read_capped
from command_center.auth import WORKER_ACTIONS, Principal
from command_center.auth.middleware import principal_of
from command_center.city_map import CityMap
from command_center.photos import PHOTO_ID, NotAnImage, PhotoStore, clean_photo
from command_center.store import Store
from command_center.store.verification_records import verification_store
from command_center.verification import view as verification_view
from dispatch.cases import ACTIONS, REASON_ACTIONS, ActorNotAllowed, Case, InvalidTransition
from dispatch.dispatcher import BadParams, CaseNotFound, ConcurrentUpdate, UnknownMatter
from dispatch.intake import Intake

# Registering is the system's alone; the hall dispatches by hand what the machine could not.
PUBLIC_ACTIONS = tuple(a for a in ACTIONS if a != "register")
MAX_NOTE = 4000
MAX_PHOTOS = 10  # per action
# What is recorded has to say why: the work done, why it waits; and why work is ended,
# returned or moved (dispatch.cases.REASON_ACTIONS: return, cancel, reassign, reclassify).
NOTE_REQUIRED = {"feedback": "say what was done", "defer": "give the reason"}
REPORT_SOURCES = ("worker", "citizen", "emergency")  # video cases come from the detector, not this route
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "application/octet-stream")
MULTIPART_SLACK = 64 * 1024  # boundaries and headers around the file
# A phone's own id for one report, so a resend after a lost answer returns the same case.
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
REPORTS_REMEMBERED = 200  # a reporter's latest reports looked up for resends and their photos


def case_photos(request: Request) -> PhotoStore:
    """The app's photo store, made on first use (one per app: tests build several)."""
    state = request.app.state
    photos: PhotoStore | None = getattr(state, "case_photos", None)
    if photos is None:
        photos = state.case_photos = PhotoStore(deps.config(request).server.data_dir / "photos")
    return photos


async def visible_case(request: Request, case_id: str, reporter_too: bool = False) -> Case:
    """The case, if the caller may see it: in their jurisdiction, or assigned to them
    (a worker); with `reporter_too` also a case the caller reported (a worker's clue goes
    to whoever the dispatcher picks, but its photo comes from the reporter's phone).
    Otherwise 404, as if it did not exist."""
    store = deps.store(request)
    case = await asyncio.to_thread(store.get_case, case_id)
    who = principal_of(request)
    if case is not None and who.sees_case(case.grid_code, case.assignee):
        return case
    if case is not None and reporter_too and any(r["target"] == case_id for r in await reports_of(store, who)):
        return case
    raise ApiError(404, "case not found", case_id)


async def reports_of(store: Store, who: Principal) -> list[dict[str, Any]]:
    """The caller's latest reports, newest first, from the audit log (which names the user)."""
    rows, _ = await asyncio.to_thread(
        store.list_audit, limit=REPORTS_REMEMBERED, actor=who.user, action="case.report"
    )
    return rows


async def report_case(request: Request) -> JSONResponse:
    """A case reported by a person (a worker's clue, an officer taking a call): 201 when
    created, 200 when it joined an open case about the same thing nearby."""
    body = await json_body(request, required=True)
    code = body.get("matter_code")
    if not isinstance(code, str) or not code:
        raise ApiError(400, "matter_code is required", "see /open311/v2/services.json")
    lon, lat = _number(body, "lon", -180, 180), _number(body, "lat", -90, 90)
    source = body.get("source", "worker")
    if source not in REPORT_SOURCES:
        raise ApiError(400, "bad field 'source'", list(REPORT_SOURCES))
    who = principal_of(request)
    if who.is_worker and source != "worker":
        raise ApiError(403, "forbidden", "a worker reports with source 'worker'")
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > MAX_NOTE:
        raise ApiError(400, "bad field 'description'", f"a string of up to {MAX_NOTE} characters")
    client_id = body.get("client_id")
    if client_id is not None and not (isinstance(client_id, str) and CLIENT_ID.match(client_id)):
        raise ApiError(400, "bad field 'client_id'", "8 to 64 letters, digits, '-' or '_'")
    store, casework = deps.store(request), deps.casework(request)
    if client_id is not None:
        # A resend (the phone lost the first answer): the case it made, not a second report.
        tag = f" client={client_id}"
        earlier = next((r["target"] for r in await reports_of(store, who) if (r["detail"] or "").endswith(tag)), None)
        case = await asyncio.to_thread(store.get_case, earlier) if earlier else None
        if case is not None:
            return JSONResponse(casework.case_view(case) | {"created": False, "resent": True})
    located = deps.city(request).index.locate(lon, lat)
    if located is None:
        raise ApiError(400, "this place is outside the city's grids", {"lon": lon, "lat": lat})
    # Workers report clues wherever they are; officers file within their jurisdiction.
    if not who.is_worker and not who.sees_area(located.grid_code or located.community_code):
        raise ApiError(403, "forbidden", f"this place is outside your jurisdiction {who.jurisdiction}")
    dispatcher = deps.dispatcher(request)
    intake = Intake(source, lon, lat, dispatcher.clock(), matter_code=code, description=description.strip())
    try:
        result = await asyncio.to_thread(dispatcher.intake, intake)
    except UnknownMatter as exc:
        raise ApiError(400, "unknown matter_code", {"matter_code": exc.code, "see": "/open311/v2/services.json"}) from None
    await casework.publish_case(result.case, created=result.created)
    detail = f"source={source}" + (f" client={client_id}" if client_id else "")
    await audit.record(store, request, who, "case.report", result.case.id, detail)
    view = casework.case_view(result.case) | {"created": result.created}
    return JSONResponse(view, status_code=201 if result.created else 200)


async def get_case(request: Request) -> JSONResponse:
    case = await visible_case(request, request.path_params["id"])
    return JSONResponse(deps.casework(request).case_view(case) | await _video_checks(deps.store(request), case.id))


async def _video_checks(store: Store, case_id: str) -> dict[str, Any]:
    """The case's video verifications (视频核查) and flags (command_center/verification.py)."""
    records = verification_store(store)
    rows = await asyncio.to_thread(records.verifications_of, case_id)
    flags = await asyncio.to_thread(records.flags_of, case_id)
    return {"verifications": [verification_view(r) for r in rows],
            "flags": [{k: v for k, v in f.items() if k != "case_id"} for f in flags]}  # fmt: skip


async def act_on_case(request: Request) -> JSONResponse:
    case_id, action = request.path_params["id"], request.path_params["action"]
    if action not in PUBLIC_ACTIONS:
        raise ApiError(404, "unknown case action", {"action": action, "known": list(PUBLIC_ACTIONS)})
    case = await perform(request, case_id, action, await json_body(request))
    return JSONResponse(deps.casework(request).case_view(case))


async def perform(request: Request, case_id: str, action: str, body: dict[str, Any]) -> Case:
    """One action on one case by the signed-in user, checked, applied, announced and
    audited; an ApiError says why not (the desk's bulk actions report it per case)."""
    who = principal_of(request)
    # The actor is always the signed-in user. Staff may record an action for someone
    # without a login (a department, a worker on the phone): that name is kept as
    # "on behalf of" beside them, and never replaces them (nor gets round the rule that
    # the checker is not the handler).
    actor = who.actor
    named = body.get("actor", actor)
    note = body.get("note", "")
    if not isinstance(named, str) or not named or len(named) > 64:
        raise ApiError(400, "bad field 'actor'", "a non-empty string of up to 64 characters")
    if who.is_worker and action not in WORKER_ACTIONS:
        raise ApiError(403, "forbidden", {"action": action, "reason": "checks, dispatch and supervision are for officers"})
    if who.is_worker and named != who.worker_id:
        raise ApiError(403, "forbidden", {"actor": named, "reason": "a worker acts under their own worker id"})
    on_behalf_of = named if named != actor else None
    if not isinstance(note, str) or len(note) > MAX_NOTE:
        raise ApiError(400, "bad field 'note'", f"a string of up to {MAX_NOTE} characters")
    if action in NOTE_REQUIRED and not note.strip():
        raise ApiError(400, f"{action} needs a note", NOTE_REQUIRED[action])
    if action in REASON_ACTIONS and not note.strip():
        raise ApiError(400, f"{action} needs a reason", "say why in 'note': it goes into the case's timeline")
    version = body.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ApiError(400, "bad field 'version'", "the case version you last saw, an integer")
    current = await visible_case(request, case_id)
    if who.is_worker and version is None:
        version = current.version  # so a reassignment meanwhile fails instead of acting on it
    store, casework = deps.store(request), deps.casework(request)
    params = await _action_params(store, case_photos(request), deps.city(request), case_id, action, body, who)
    try:
        case = await casework.act(
            case_id, action, actor, note, expected_version=version, on_behalf_of=on_behalf_of, **params
        )
    except CaseNotFound:
        raise ApiError(404, "case not found", case_id) from None
    except InvalidTransition as exc:
        raise ApiError(
            409, "invalid transition", {"state": exc.state.value, "action": action, "allowed": exc.allowed}
        ) from None
    except ActorNotAllowed as exc:
        raise ApiError(403, "not allowed", {"action": action, "actor": actor, "reason": exc.reason}) from None
    except ConcurrentUpdate as exc:
        raise ApiError(409, "case changed meanwhile", str(exc)) from None
    except (BadParams, UnknownMatter) as exc:
        raise ApiError(400, str(exc), getattr(exc, "detail", None)) from None
    detail = f"{current.state.value}→{case.state.value}" + (f" for {on_behalf_of}" if on_behalf_of else "")
    await audit.record(store, request, who, f"case.{action}", case_id, detail)
    return case


async def upload_photo(request: Request) -> JSONResponse:
    """One photo as the raw body (image/jpeg, image/png, image/webp) or as a multipart file;
    checked and stored for the case, to be referenced by id in feedback or a check."""
    case_id = request.path_params["id"]
    case = await visible_case(request, case_id, reporter_too=True)
    if not case.is_open:
        raise ApiError(409, "the case is no longer open", {"state": case.state.value})
    limit = deps.config(request).dispatch.max_photo_bytes
    raw = await read_photo(request, limit)
    try:
        photo = await asyncio.to_thread(clean_photo, raw)
    except NotAnImage as exc:
        raise ApiError(415, "not an image", f"{exc.reason}; send a JPEG, PNG or WebP photo") from None
    photo_id = await asyncio.to_thread(case_photos(request).save, case_id, photo.jpeg)
    return JSONResponse(
        {
            "id": photo_id, "case_id": case_id, "url": _photo_url(case_id, photo_id), "bytes": len(photo.jpeg),
            "width": photo.width, "height": photo.height, "sent_as": photo.kind,
        },
        status_code=201,
    )  # fmt: skip


async def list_photos(request: Request) -> JSONResponse:
    """Every photo uploaded for the case, also those no action references yet."""
    case_id = request.path_params["id"]
    await visible_case(request, case_id, reporter_too=True)
    ids = await asyncio.to_thread(case_photos(request).list, case_id)
    return JSONResponse({"items": [{"id": i, "url": _photo_url(case_id, i)} for i in ids]})


async def get_photo(request: Request) -> FileResponse:
    case_id, name = request.path_params["id"], request.path_params["photo"]
    await visible_case(request, case_id)
    path = case_photos(request).path(case_id, name.removesuffix(".jpg"))
    if path is None:
        raise ApiError(404, "no such photo", {"case": case_id, "photo": name})
    # Blurred for roles that need no identities; the view audited (evidence_access.py).
    evidence = deps.evidence(request)
    return await evidence.serve(deps.store(request), request, path, case_id, f"photo {path.stem}", "image/jpeg")


routes: list[BaseRoute] = [
    Route("/api/cases", report_case, methods=["POST"]),
    Route("/api/cases/{id}", get_case),
    # Before the action route, which would otherwise take "photos" for an action.
    Route("/api/cases/{id}/photos", upload_photo, methods=["POST"]),
    Route("/api/cases/{id}/photos", list_photos, methods=["GET"]),
    Route("/api/cases/{id}/photos/{photo}", get_photo),
    Route("/api/cases/{id}/{action}", act_on_case, methods=["POST"]),
]


async def _action_params(
    store: Store, photos: PhotoStore, city: CityMap, case_id: str, action: str, body: dict[str, Any], who: Principal
) -> dict[str, Any]:
    """The body's fields for one action, type-checked; what they mean is the dispatcher's call."""
    params: dict[str, Any] = {}
    if action in ("dispatch", "reassign"):
        worker = body.get("worker")
        if not isinstance(worker, str) or not worker:
            raise ApiError(400, f"{action} needs 'worker'", "the id of a grid worker (GET /api/cases/{id}/candidates)")
        # A worker of the caller's jurisdiction only (one outside answers as an unknown one).
        if not any(who.sees_area(w.grid_code) for w in city.grids_of(worker)):
            raise ApiError(400, "unknown worker", worker)
        params["worker"] = worker
    elif action == "reclassify":
        matter = body.get("matter")
        if not isinstance(matter, str) or not matter or len(matter) > 64:
            raise ApiError(400, "reclassify needs 'matter'", "a matter code from GET /api/matters")
        params["matter"] = matter
    elif action == "merge":
        into = body.get("into")
        if not isinstance(into, str) or into == case_id:
            raise ApiError(400, "merge needs 'into'", "the id of another case")
        target = await asyncio.to_thread(store.get_case, into)
        # A case the caller may not see answers exactly as a missing one: nothing about it
        # (not even that it is closed) may leak.
        if target is None or not who.sees_case(target.grid_code, target.assignee):
            raise ApiError(404, "case to merge into not found", into)
        if not target.is_open:
            raise ApiError(409, "cannot merge into a case that is no longer open", {"into": into, "state": target.state.value})
        params["into"] = into
    elif action == "defer":
        for key in ("hours", "days"):
            if body.get(key) is not None:
                params[key] = body[key]
        until = body.get("until")
        if until is not None:
            try:
                params["until"] = datetime.fromisoformat(until) if isinstance(until, str) else None
            except ValueError:
                params["until"] = None
            if params["until"] is None:
                raise ApiError(400, "bad field 'until'", "an ISO 8601 date and time, e.g. 2026-12-08T09:00:00+08:00")
    elif action == "transfer":
        department = body.get("department")
        if department is not None and (not isinstance(department, str) or not department):
            raise ApiError(400, "bad field 'department'", "a department's name, as in the matter catalog")
        params["department"] = department
    ids = body.get("photos")
    if ids is not None:
        params["photos"] = await _photo_urls(photos, case_id, ids)
    return params


async def _photo_urls(photos: PhotoStore, case_id: str, ids: object) -> list[str]:
    """The URLs of photos uploaded for the case, named by id; 400 for any other."""
    if not isinstance(ids, list) or len(ids) > MAX_PHOTOS or not all(isinstance(i, str) for i in ids):
        raise ApiError(400, "bad field 'photos'", f"a list of up to {MAX_PHOTOS} photo ids from POST .../photos")
    for photo_id in ids:
        if not PHOTO_ID.match(photo_id) or await asyncio.to_thread(photos.path, case_id, photo_id) is None:
            raise ApiError(400, "unknown photo", {"photo": photo_id, "hint": f"upload it to /api/cases/{case_id}/photos"})
    return [_photo_url(case_id, i) for i in dict.fromkeys(ids)]


def _photo_url(case_id: str, photo_id: str) -> str:
    return f"/api/cases/{case_id}/photos/{photo_id}.jpg"


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ApiError(400, f"bad field {key!r}", f"a number within {low}..{high}")
    return float(value)


async def read_photo(request: Request, limit: int) -> bytes:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        raw = await read_capped(request, limit + MULTIPART_SLACK, "photo")

        async def replay() -> Message:  # the form parser reads the body we already hold
            return {"type": "http.request", "body": raw, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=1, max_fields=5)
        upload = form.get("photo") or next((v for v in form.values() if isinstance(v, UploadFile)), None)
        if not isinstance(upload, UploadFile):
            raise ApiError(400, "no photo in the form", "send the image as the file field 'photo'")
        data = await upload.read()
        if len(data) > limit:
            raise ApiError(413, "photo too large", f"at most {limit} bytes")
    elif ctype in IMAGE_TYPES:
        data = await read_capped(request, limit, "photo")
    else:
        raise ApiError(415, "unsupported content type", f"send the image as {', '.join(IMAGE_TYPES[:3])} or multipart")
    if not data:
        raise ApiError(400, "empty photo", "the body holds no image")
    return data
