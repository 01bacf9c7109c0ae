"""Citizen reports: Open311 GeoReport v2 under /open311/v2, used by the citizen form too.

Every resource in both formats (.json and .xml, api/open311_format.py), errors in the spec's
shape; services and their definitions with attributes (api/open311_services.py);
`jurisdiction_id` and `api_key` (api/open311_jurisdiction.py); the token resource.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from command_center.api import deps, residents, suggestions
from command_center.api.errors import ApiError, read_capped
from command_center.api.limits import MULTIPART_SLACK
from command_center.api.open311_format import render, spec_errors
from command_center.api.open311_jurisdiction import check_api_key, check_jurisdiction
from command_center.api.open311_services import discovery, list_services, read_attributes, service_definition
from command_center.api.open311_views import OWN_PHOTO, view_of
from command_center.auth.middleware import signed_in
from command_center.auth.principal import Principal
from command_center.config import Config
from command_center.photos import NotAnImage, clean_photo
from command_center.ratelimit import RateLimiter
from command_center.store.report_media_records import report_media_store
from dispatch.intake import Intake

MAX_DESCRIPTION = 4000
MAX_LINKS = 2
MAX_IDS = 50
LINK = re.compile(r"https?://", re.IGNORECASE)
ATTRIBUTE = re.compile(r"^attribute\[([A-Za-z0-9_-]{1,64})\](\[\])?$")
SPAN = timedelta(days=90)  # the spec: a list covers the latest 90 days, and no window is wider
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


def check_rate(request: Request) -> None:
    client = request.client.host if request.client else "unknown"
    allowed, wait = _limiter(request).allow(client)
    if not allowed:
        raise ApiError(429, "too many reports from this address", {"retry_after_s": round(wait, 1)})


def uploads_dir(config: Config) -> Path:
    """Where citizens' photos are kept (retention sweeps the same folder)."""
    return config.server.data_dir / "uploads"


def new_report_id() -> str:
    return f"R{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"


def _save_photo(path: Path, photo: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(photo)


async def store_report(
    request: Request, report: dict[str, Any], report_id: str, photo: bytes | None, suggestion: str | None
) -> tuple[dict[str, Any], str | None]:
    """A checked report made a case (or joined an open one nearby) and kept: (the stored report
    with its case id and whether a case was made, the resident's id or None)."""
    config = deps.config(request)
    if photo is not None:
        await asyncio.to_thread(_save_photo, uploads_dir(config) / f"{report_id}.jpg", photo)
        report["media_url"] = f"{OWN_PHOTO}{report_id}/photo.jpg"
    now = datetime.now(UTC)
    intake = Intake(
        source="citizen", lon=report["long"], lat=report["lat"], ts=now, ref_id=report_id,
        matter_code=report["service_code"], description=report.pop("case_text", report["description"]),
        snapshot_url=report["media_url"], external_media_url=report["external_media_url"],
    )  # fmt: skip
    result = await asyncio.to_thread(deps.dispatcher(request).intake, intake)
    await deps.casework(request).publish_case(result.case, created=result.created)
    if suggestion:  # the class the reporter picked from the suggested ones: feedback
        await suggestions.link_report(request, suggestion, report["service_code"], result.case.id)
    doc = {"id": report_id, "case_id": result.case.id, "requested_datetime": now.isoformat(), **report}
    await asyncio.to_thread(deps.store(request).add_report, doc)
    # Signed in as a resident: the report is theirs (我的上报); anonymous: its receipt code alone.
    account = await residents.link_report(request, report_id, result.case.id)
    return doc | {"created": result.created}, account


def notice_of(created: bool) -> str:
    return "received" if created else "received: joined an open case about the same thing nearby"


@spec_errors
async def create_request(request: Request) -> Response:
    check_rate(request)
    config = deps.config(request)
    fields, answers, photo = await _read(
        request, int(config.citizen.max_photo_mb * 1024 * 1024) + MULTIPART_SLACK
    )
    check_jurisdiction(request, fields.get("jurisdiction_id"))
    check_api_key(request, fields.get("api_key"))
    report = validate(request, fields, answers)
    report_id = new_report_id()
    doc, account = await store_report(request, report, report_id, photo, fields.get("suggestion_id"))
    answer = {"service_request_id": report_id, "token": report_id, "service_notice": notice_of(doc["created"]),
              "account_id": account}  # fmt: skip
    return render(request, "service_requests", [answer], 201)


def _when(request: Request, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be a w3c datetime", "e.g. 2026-01-01T00:00:00Z") from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


def _window(request: Request) -> tuple[datetime, datetime]:
    """[start, end] of a list: the latest 90 days by default, never wider (the spec's rule)."""
    start, end = _when(request, "start_date"), _when(request, "end_date")
    end = end or ((start + SPAN) if start else datetime.now(UTC))
    start = start or end - SPAN
    if start > end:
        raise ApiError(400, "start_date is after end_date")
    if end - start > SPAN:
        raise ApiError(400, "start_date to end_date spans more than 90 days")
    return start, end


def _list_of(request: Request, name: str, allowed: frozenset[str] | None = None) -> list[str]:
    values = [v.strip() for v in request.query_params.get(name, "").split(",") if v.strip()]
    bad = [v for v in values if allowed is not None and v not in allowed]
    if bad:
        raise ApiError(400, f"bad {name}", f"{', '.join(bad)}: one of {', '.join(sorted(allowed or ()))}")
    return values


@spec_errors
async def list_requests(request: Request) -> Response:
    check_jurisdiction(request)
    store = deps.store(request)
    ids = _list_of(request, "service_request_id")
    statuses = _list_of(request, "status", frozenset({"open", "closed"}))
    if ids:  # the spec: the ids override every other filter
        found = [await asyncio.to_thread(store.get_report, i) for i in ids[:MAX_IDS]]
        reports = [r for r in found if r is not None]
    else:
        start, end = _window(request)
        codes = _list_of(request, "service_code")
        status = statuses[0] if len(set(statuses)) == 1 else None
        docs = await asyncio.to_thread(report_media_store(store).open311_reports, start, end, codes, status)
        reports = [json.loads(d) for d in docs]
    who = signed_in(request)
    views = [await view_of(request, r, who) for r in reports]
    if ids and statuses:
        views = [v for v in views if v["status"] in statuses]
    return render(request, "service_requests", views)


@spec_errors
async def get_request(request: Request) -> Response:
    check_jurisdiction(request)
    report = await asyncio.to_thread(deps.store(request).get_report, request.path_params["id"])
    if report is None:
        raise ApiError(404, "service_request_id not found", request.path_params["id"])
    return render(request, "service_requests", [await view_of(request, report, signed_in(request))])


@spec_errors
async def get_token(request: Request) -> Response:
    """The spec's token resource: our requests are made at once, so a POST's token is the
    request's id, and this answers it as soon as it exists."""
    check_jurisdiction(request)
    token = request.path_params["id"]
    report = await asyncio.to_thread(deps.store(request).get_report, token)
    if report is None:
        raise ApiError(404, "token not found", token)
    return render(request, "service_requests", [{"service_request_id": report["id"], "token": token}])


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


def split_fields(items: list[tuple[str, Any]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """(plain fields, attribute answers by code) of a form's string items."""
    fields: dict[str, str] = {}
    answers: dict[str, list[str]] = {}
    for key, value in items:
        if not isinstance(value, str):
            continue
        found = ATTRIBUTE.match(key)
        if found:
            answers.setdefault(found.group(1), []).append(value)
        else:
            fields[key] = value
    return fields, answers


async def _read(request: Request, max_body: int) -> tuple[dict[str, str], dict[str, list[str]], bytes | None]:
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
        attrs = body.pop("attribute", None)
        answers = {str(k): [str(x) for x in (v if isinstance(v, list) else [v])] for k, v in (attrs or {}).items()} \
            if isinstance(attrs, dict) else {}  # fmt: skip
        return {k: str(v) for k, v in body.items() if v is not None}, answers, None
    if not ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        raise ApiError(415, "unsupported content type", "send a form or JSON")
    form = await request.form(max_files=1, max_fields=40)
    fields, answers = split_fields(list(form.multi_items()))
    media = form.get("media")
    photo = None
    if isinstance(media, UploadFile) and media.filename:
        raw = await media.read()
        try:
            photo = (await asyncio.to_thread(clean_photo, raw)).jpeg  # re-encoded: strips metadata
        except NotAnImage as exc:
            raise ApiError(
                400, "the photo is not an image we can read", f"{media.filename}: {exc.reason}"
            ) from None
    return fields, answers, photo


def _place(request: Request, fields: dict[str, str]) -> tuple[float, float]:
    """(lat, long): sent, else the place named in `address_string` (a grid, community or street
    of the city, by name: this service geocodes nothing else)."""
    if "lat" not in fields and "long" not in fields:
        address = fields.get("address_string", "").strip()
        if not address:
            raise ApiError(400, "lat and long, or address_string, are required", "where is it?")
        areas = sorted(deps.city(request).city.areas.values(), key=lambda a: -len(a.name))
        named = next((a for a in areas if a.level != "city" and a.name and a.name in address), None)
        if named is None:
            raise ApiError(
                400, "address_string not found", "name a grid or community of the city, or send lat and long"
            )
        return named.lat, named.lon
    try:
        return float(fields["lat"]), float(fields["long"])
    except KeyError:
        raise ApiError(400, "lat and long are required", "both, or an address_string instead") from None
    except ValueError:
        raise ApiError(400, "lat and long must be numbers") from None


def validate(
    request: Request, fields: dict[str, str], answers: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    code = fields.get("service_code", "").strip()
    try:
        matter = deps.catalog(request).get(code)
    except KeyError:
        raise ApiError(400, "unknown service_code", "see /open311/v2/services.json") from None
    lat, lon = _place(request, fields)
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
    attributes, words = read_attributes(matter, answers or {})
    return {
        "service_code": code, "lat": lat, "long": lon, "description": description,
        "media_url": None,  # our own uploaded photo's URL, set once it is stored
        "external_media_url": link,  # the reporter's link elsewhere: kept as a link only
        "address_string": fields.get("address_string", "")[:500] or None,
        "publish": fields.get("publish", "").strip().lower() in YES,
        "attributes": attributes,
        # the case's text: the description and the attributes' answers in words (not kept on the report)
        "case_text": f"{description}（{words}）" if words else description,
    }  # fmt: skip


routes: list[BaseRoute] = [
    *(Route(f"/open311/discovery.{fmt}", discovery) for fmt in ("json", "xml")),
    *(Route(f"/open311/v2/services.{fmt}", list_services) for fmt in ("json", "xml")),
    *(Route(f"/open311/v2/services/{{code}}.{fmt}", service_definition) for fmt in ("json", "xml")),
    *(Route(f"/open311/v2/requests.{fmt}", create_request, methods=["POST"]) for fmt in ("json", "xml")),
    *(Route(f"/open311/v2/requests.{fmt}", list_requests, methods=["GET"]) for fmt in ("json", "xml")),
    *(Route(f"/open311/v2/requests/{{id}}.{fmt}", get_request) for fmt in ("json", "xml")),
    *(Route(f"/open311/v2/tokens/{{id}}.{fmt}", get_token) for fmt in ("json", "xml")),
    Route("/api/reports/{id}/photo.jpg", report_photo),
]
