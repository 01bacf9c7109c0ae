"""Citizen reports: Open311 GeoReport v2 under /open311/v2, used by the citizen form too.

Public (no login): so every POST is rate-limited per client address, size-bounded
while it is read (command_center.api.limits) and spam-checked before anything is stored.

What the public sees of a report is coarse: its status, the matter, the grid's name
and a point rounded to 3 decimals (~100 m). Its text and photo only when the reporter
ticked `publish` (同意公开我的描述和照片); the exact point, the text and the photo are
otherwise for staff of its area (and the photo also for the worker it is assigned to).
A `media_url` sent with a report is someone else's link: it is kept as a link
(`external_media_url` on the case), never fetched, never the case's snapshot.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps, residents, suggestions
from command_center.api.errors import ApiError, read_capped
from command_center.api.limits import MULTIPART_SLACK
from command_center.auth.middleware import signed_in
from command_center.auth.principal import Principal
from command_center.config import Config
from command_center.photos import NotAnImage, clean_photo
from command_center.ratelimit import RateLimiter
from dispatch.cases import DONE_STATES, Case
from dispatch.catalog import Catalog
from dispatch.city import City
from dispatch.intake import Intake

MAX_DESCRIPTION = 4000
MAX_LINKS = 2
LINK = re.compile(r"https?://", re.IGNORECASE)
OWN_PHOTO = "/api/reports/"  # our own photo route: what an uploaded photo's media_url starts with
PUBLIC_DECIMALS = 3  # ~100 m: where, for the public, without pointing at a doorstep
YES = ("1", "true", "on", "yes")
LIMITER_KEY = "open311_limiter"  # where an app keeps its per-address report limiter (app.state)


def _limiter(request: Request) -> RateLimiter:
    """The app's limiter of reports per client address, made on first use."""
    state = request.app.state
    limiter: RateLimiter | None = getattr(state, LIMITER_KEY, None)
    if limiter is None:
        citizen = deps.config(request).citizen
        limiter = RateLimiter(citizen.reports_per_minute, citizen.burst)
        setattr(state, LIMITER_KEY, limiter)
    return limiter


def uploads_dir(config: Config) -> Path:
    """Where citizens' photos are kept (retention sweeps the same folder)."""
    return config.server.data_dir / "uploads"


def _save_photo(path: Path, photo: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo)


async def list_services(request: Request) -> JSONResponse:
    return JSONResponse(
        [
            {
                "service_code": m.code, "service_name": m.name, "description": m.closure_standard,
                "metadata": False, "type": "realtime", "keywords": ",".join([m.name_en, *m.labels]),
                "group": m.klass,
            }
            for m in deps.catalog(request).items
        ]
    )  # fmt: skip


async def create_request(request: Request) -> JSONResponse:
    client = request.client.host if request.client else "unknown"
    allowed, wait = _limiter(request).allow(client)
    if not allowed:
        raise ApiError(429, "too many reports from this address", {"retry_after_s": round(wait, 1)})
    config = deps.config(request)
    fields, photo = await _read(request, int(config.citizen.max_photo_mb * 1024 * 1024) + MULTIPART_SLACK)
    report = _validate(request, fields)
    report_id = f"R{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
    if photo is not None:
        await asyncio.to_thread(_save_photo, uploads_dir(config) / f"{report_id}.jpg", photo)
        report["media_url"] = f"{OWN_PHOTO}{report_id}/photo.jpg"
    now = datetime.now(UTC)
    intake = Intake(
        source="citizen", lon=report["long"], lat=report["lat"], ts=now, ref_id=report_id,
        matter_code=report["service_code"], description=report["description"],
        snapshot_url=report["media_url"], external_media_url=report["external_media_url"],
    )  # fmt: skip
    result = await asyncio.to_thread(deps.dispatcher(request).intake, intake)
    await deps.casework(request).publish_case(result.case, created=result.created)
    if fields.get("suggestion_id"):  # the class the reporter picked from the suggested ones: feedback
        await suggestions.link_report(request, fields["suggestion_id"], report["service_code"], result.case.id)
    doc = {"id": report_id, "case_id": result.case.id, "requested_datetime": now.isoformat(), **report}
    await asyncio.to_thread(deps.store(request).add_report, doc)
    # Signed in as a resident: the report is theirs (我的上报); anonymous: its receipt code alone.
    account = await residents.link_report(request, report_id, result.case.id)
    notice = "received" if result.created else "received: joined an open case about the same thing nearby"
    return JSONResponse(
        [{"service_request_id": report_id, "service_notice": notice, "account_id": account}], status_code=201
    )


async def _view_of(request: Request, report: dict[str, Any], who: Principal | None) -> dict[str, Any]:
    case = await asyncio.to_thread(deps.store(request).get_case, report["case_id"]) if report.get("case_id") else None
    full = who is not None and who.is_staff and who.sees_area(case.grid_code if case else None)
    return _view(deps.catalog(request), deps.city(request).city, report, case, full)


async def list_requests(request: Request) -> JSONResponse:
    store = deps.store(request)
    ids = request.query_params.get("service_request_id")
    if ids:
        found = [await asyncio.to_thread(store.get_report, i.strip()) for i in ids.split(",")[:50]]
        reports = [r for r in found if r is not None]
    else:
        reports = await asyncio.to_thread(store.list_reports, 50, 0)
    who = signed_in(request)
    views = [await _view_of(request, r, who) for r in reports]
    status = request.query_params.get("status")
    if status is not None:
        if status not in ("open", "closed"):
            raise ApiError(400, "bad query parameter 'status'", ["open", "closed"])
        views = [v for v in views if v["status"] == status]
    return JSONResponse(views)


async def get_request(request: Request) -> JSONResponse:
    report = await asyncio.to_thread(deps.store(request).get_report, request.path_params["id"])
    if report is None:
        raise ApiError(404, "no such service request", request.path_params["id"])
    return JSONResponse([await _view_of(request, report, signed_in(request))])


async def report_photo(request: Request) -> FileResponse:
    """Public when its reporter agreed to publish it; otherwise for staff of the report's
    area and the worker its case is assigned to. Anyone else gets the missing photo's 404."""
    report_id = request.path_params["id"]
    if not report_id.replace("-", "").isalnum():
        raise ApiError(404, "no such photo", report_id)
    path = uploads_dir(deps.config(request)) / f"{report_id}.jpg"
    report = await asyncio.to_thread(deps.store(request).get_report, report_id)
    if report is None or not path.exists() or not await _may_see(request, report, signed_in(request)):
        raise ApiError(404, "no such photo", report_id)
    cache = "public, max-age=300" if report.get("publish") else "private, no-store"
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": cache})


async def _may_see(request: Request, report: dict[str, Any], who: Principal | None) -> bool:
    if report.get("publish"):
        return True
    if who is None or not report.get("case_id"):
        return False
    case = await asyncio.to_thread(deps.store(request).get_case, report["case_id"])
    return case is not None and who.sees_case(case.grid_code, case.assignee)


def _view(catalog: Catalog, city: City, report: dict[str, Any], case: Case | None, full: bool) -> dict[str, Any]:
    """One service request as Open311 shows it: everything for staff of its area (`full`),
    else the coarse public view."""
    matter = catalog.get(report["service_code"])
    area = city.areas.get(case.grid_code) if case else None
    published = full or bool(report.get("publish"))
    own, external = _media(report)
    digits = None if full else PUBLIC_DECIMALS
    return {
        "service_request_id": report["id"],
        "status": "closed" if case is not None and case.state in DONE_STATES else "open",
        "status_notes": case.state.value if case else None,
        "service_code": matter.code,
        "service_name": matter.name,
        "description": report["description"] if published else None,
        "agency_responsible": matter.department,
        "requested_datetime": report["requested_datetime"],
        "updated_datetime": (case.updated_at or case.created_at).isoformat() if case else report["requested_datetime"],
        "expected_datetime": case.deadline.isoformat() if case else None,
        # the grid's name; the address the reporter typed is theirs, for staff only
        "address": area.name if area else (report.get("address_string") if full else None),
        "lat": round(report["lat"], digits) if digits else report["lat"],
        "long": round(report["long"], digits) if digits else report["long"],
        "media_url": (own or external) if published else None,
    }


def _media(report: dict[str, Any]) -> tuple[str | None, str | None]:
    """(our uploaded photo's URL, the reporter's external link); reports stored before the
    two were kept apart hold either in `media_url`."""
    media = report.get("media_url")
    own = media if isinstance(media, str) and media.startswith(OWN_PHOTO) else None
    external = report.get("external_media_url") or (media if media and own is None else None)
    return own, external


async def _read(request: Request, max_body: int) -> tuple[dict[str, str], bytes | None]:
    """Form (urlencoded or multipart, with an optional `media` photo) or JSON. The body-limit
    middleware has already bounded what the form parser may read to `max_body`."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = json.loads(await read_capped(request, max_body))
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "malformed JSON") from None
        if not isinstance(body, dict):
            raise ApiError(400, "malformed JSON", "expected a JSON object")
        return {k: str(v) for k, v in body.items() if v is not None}, None
    if not ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise ApiError(415, "unsupported content type", "send a form or JSON")
    form = await request.form(max_files=1, max_fields=30)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    media = form.get("media")
    photo = None
    if isinstance(media, UploadFile) and media.filename:
        raw = await media.read()
        try:
            photo = (await asyncio.to_thread(clean_photo, raw)).jpeg  # re-encoded: strips metadata
        except NotAnImage as exc:
            raise ApiError(400, "the photo is not an image we can read", f"{media.filename}: {exc.reason}") from None
    return fields, photo


def _validate(request: Request, fields: dict[str, str]) -> dict[str, Any]:
    code = fields.get("service_code", "").strip()
    try:
        deps.catalog(request).get(code)
    except KeyError:
        raise ApiError(400, "unknown service_code", "see /open311/v2/services.json") from None
    try:
        lat, lon = float(fields["lat"]), float(fields["long"])
    except KeyError:
        raise ApiError(400, "lat and long are required", "this service does not geocode addresses") from None
    except ValueError:
        raise ApiError(400, "lat and long must be numbers") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ApiError(400, "lat/long out of range")
    if deps.city(request).index.locate(lon, lat) is None:
        raise ApiError(400, "this place is outside the city's grids")
    description = fields.get("description", "").strip()
    if not description:
        raise ApiError(400, "description is required", "say what is wrong")
    if len(description) > MAX_DESCRIPTION:
        raise ApiError(400, "description too long", f"at most {MAX_DESCRIPTION} characters")
    if len(LINK.findall(description)) > MAX_LINKS:
        raise ApiError(400, "this looks like spam", "too many links in the description")
    link = fields.get("media_url", "").strip() or None
    if link is not None and (not link.lower().startswith(("http://", "https://")) or len(link) > 2000):
        raise ApiError(400, "media_url must be an http(s) URL")
    return {
        "service_code": code, "lat": lat, "long": lon, "description": description,
        "media_url": None,  # our own uploaded photo's URL, set once it is stored
        "external_media_url": link,  # the reporter's link elsewhere: kept as a link only
        "address_string": fields.get("address_string", "")[:500] or None,
        "publish": fields.get("publish", "").strip().lower() in YES,
    }  # fmt: skip


routes: list[BaseRoute] = [
    Route("/open311/v2/services.json", list_services),
    Route("/open311/v2/requests.json", create_request, methods=["POST"]),
    Route("/open311/v2/requests.json", list_requests, methods=["GET"]),
    Route("/open311/v2/requests/{id}.json", get_request),
    Route("/api/reports/{id}/photo.jpg", report_photo),
]
