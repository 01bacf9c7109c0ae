"""Citizen reports: Open311 GeoReport v2 under /open311/v2, used by the citizen form too.

Public (no login): so every POST is rate-limited per client address, size-checked
and spam-checked before anything is stored.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import Route

from command_center.api.errors import ApiError
from command_center.photos import NotAnImage, clean_photo
from command_center.ratelimit import RateLimiter
from command_center.runtime import Runtime
from dispatch.cases import DONE_STATES
from dispatch.intake import Intake

MAX_DESCRIPTION = 4000
MAX_LINKS = 2
LINK = re.compile(r"https?://", re.IGNORECASE)


def routes(rt: Runtime) -> list[Route]:
    cfg = rt.config.citizen
    limiter = RateLimiter(cfg.reports_per_minute, cfg.burst)
    uploads = rt.config.server.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    max_body = int(cfg.max_photo_mb * 1024 * 1024) + 64 * 1024

    async def services(_request: Request) -> JSONResponse:
        return JSONResponse(
            [
                {
                    "service_code": m.code, "service_name": m.name, "description": m.closure_standard,
                    "metadata": False, "type": "realtime", "keywords": ",".join([m.name_en, *m.labels]),
                    "group": m.klass,
                }
                for m in rt.catalog.items
            ]
        )  # fmt: skip

    async def create(request: Request) -> JSONResponse:
        client = request.client.host if request.client else "unknown"
        allowed, wait = limiter.allow(client)
        if not allowed:
            raise ApiError(429, "too many reports from this address", {"retry_after_s": round(wait, 1)})
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > max_body:
            raise ApiError(413, "report too large", f"at most {cfg.max_photo_mb} MB with the photo")
        fields, photo = await _read(request)
        report = _validate(rt, fields)
        report_id = f"R{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(4)}"
        if photo is not None:
            path = uploads / f"{report_id}.jpg"
            await asyncio.to_thread(path.write_bytes, photo)
            report["media_url"] = f"/api/reports/{report_id}/photo.jpg"
        now = datetime.now(UTC)
        intake = Intake(
            source="citizen", lon=report["long"], lat=report["lat"], ts=now, ref_id=report_id,
            matter_code=report["service_code"], description=report["description"], snapshot_url=report.get("media_url"),
        )  # fmt: skip
        result = await asyncio.to_thread(rt.dispatcher.intake, intake)
        await rt.publish_case(result.case, created=result.created)
        doc = {"id": report_id, "case_id": result.case.id, "requested_datetime": now.isoformat(), **report}
        await asyncio.to_thread(rt.store.add_report, doc)
        notice = "received" if result.created else "received: joined an open case about the same thing nearby"
        return JSONResponse(
            [{"service_request_id": report_id, "service_notice": notice, "account_id": None}], status_code=201
        )

    async def view(report: dict[str, Any]) -> dict[str, Any]:
        case = await asyncio.to_thread(rt.store.get_case, report["case_id"]) if report.get("case_id") else None
        matter = rt.catalog.get(report["service_code"])
        area = rt.city.areas.get(case.grid_code) if case else None
        return {
            "service_request_id": report["id"],
            "status": "closed" if case is not None and case.state in DONE_STATES else "open",
            "status_notes": case.state.value if case else None,
            "service_code": matter.code,
            "service_name": matter.name,
            "description": report["description"],
            "agency_responsible": matter.department,
            "requested_datetime": report["requested_datetime"],
            "updated_datetime": (case.updated_at or case.created_at).isoformat() if case else report["requested_datetime"],
            "expected_datetime": case.deadline.isoformat() if case else None,
            "address": area.name if area else report.get("address_string"),
            "lat": report["lat"],
            "long": report["long"],
            "media_url": report.get("media_url"),
        }

    async def list_requests(request: Request) -> JSONResponse:
        ids = request.query_params.get("service_request_id")
        if ids:
            found = [await asyncio.to_thread(rt.store.get_report, i.strip()) for i in ids.split(",")[:50]]
            reports = [r for r in found if r is not None]
        else:
            reports = await asyncio.to_thread(rt.store.list_reports, 50, 0)
        views = [await view(r) for r in reports]
        status = request.query_params.get("status")
        if status is not None:
            if status not in ("open", "closed"):
                raise ApiError(400, "bad query parameter 'status'", ["open", "closed"])
            views = [v for v in views if v["status"] == status]
        return JSONResponse(views)

    async def one(request: Request) -> JSONResponse:
        report = await asyncio.to_thread(rt.store.get_report, request.path_params["id"])
        if report is None:
            raise ApiError(404, "no such service request", request.path_params["id"])
        return JSONResponse([await view(report)])

    async def photo(request: Request) -> FileResponse:
        report_id = request.path_params["id"]
        path = uploads / f"{report_id}.jpg"
        if not report_id.replace("-", "").isalnum() or not path.exists():
            raise ApiError(404, "no such photo", report_id)
        return FileResponse(path, media_type="image/jpeg")

    return [
        Route("/open311/v2/services.json", services),
        Route("/open311/v2/requests.json", create, methods=["POST"]),
        Route("/open311/v2/requests.json", list_requests, methods=["GET"]),
        Route("/open311/v2/requests/{id}.json", one),
        Route("/api/reports/{id}/photo.jpg", photo),
    ]


async def _read(request: Request) -> tuple[dict[str, str], bytes | None]:
    """Form (urlencoded or multipart, with an optional `media` photo) or JSON."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        try:
            body = await request.json()
        except ValueError:
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


def _validate(rt: Runtime, fields: dict[str, str]) -> dict[str, Any]:
    code = fields.get("service_code", "").strip()
    try:
        rt.catalog.get(code)
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
    if rt.index.locate(lon, lat) is None:
        raise ApiError(400, "this place is outside the city's grids")
    description = fields.get("description", "").strip()
    if not description:
        raise ApiError(400, "description is required", "say what is wrong")
    if len(description) > MAX_DESCRIPTION:
        raise ApiError(400, "description too long", f"at most {MAX_DESCRIPTION} characters")
    if len(LINK.findall(description)) > MAX_LINKS:
        raise ApiError(400, "this looks like spam", "too many links in the description")
    media_url = fields.get("media_url", "").strip() or None
    if media_url is not None and (not media_url.startswith(("http://", "https://")) or len(media_url) > 2000):
        raise ApiError(400, "media_url must be an http(s) URL")
    return {
        "service_code": code, "lat": lat, "long": lon, "description": description, "media_url": media_url,
        "address_string": fields.get("address_string", "")[:500] or None,
    }  # fmt: skip
