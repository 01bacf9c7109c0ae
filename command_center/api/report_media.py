"""A citizen's report with media (线索上报): photos, a voice note and a video clip, in one
multipart POST /api/citizen/reports; and the media served back, to staff of the case's area
(and its worker) and to the resident who sent it.

Everything is checked before anything is stored: the fields as Open311 checks them, then
each file by its bytes (never the client's Content-Type or name): photos must decode and are
re-encoded as JPEG (command_center/photos.py: metadata stripped); a voice note must be an
audio-only WebM/MP4/Ogg/WAV and a video a WebM/MP4/Ogg with a picture, each within its size and
length (residents/media.py, `report_media:` config). A refusal is a 4xx naming the field,
with nothing stored. Then the files are written under uploads/media/<report id>/, the case is
made (or joined), the report kept and the media rows inserted in one transaction; should any of
that fail, the files are removed again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.api.open311 import (
    check_rate,
    new_report_id,
    notice_of,
    split_fields,
    store_report,
    uploads_dir,
    validate,
)
from command_center.api.residents import records_of, resident_of
from command_center.auth.middleware import signed_in
from command_center.config import Config
from command_center.photos import NotAnImage, clean_photo
from command_center.store.report_media_records import MediaRow, new_media_id, report_media_store
from command_center.store.resident_records import iso
from residents.media import BadMedia, MediaKind, Recording, check_recording

EXTENSIONS = {"image/jpeg": "jpg", "audio/webm": "webm", "video/webm": "webm", "audio/mp4": "m4a",
              "video/mp4": "mp4", "audio/ogg": "ogg", "video/ogg": "ogv", "audio/wav": "wav"}  # fmt: skip
CLIENT_REF = re.compile(r"^20\d{6}-[0-9a-f]{24}$")
LABELS = {"photos": "照片", "voice": "语音", "video": "视频"}


def media_dir(config: Config, report_id: str) -> Path:
    return uploads_dir(config) / "media" / report_id


async def _file(form: Any, name: str) -> UploadFile | None:
    found = form.get(name)
    return found if isinstance(found, UploadFile) and found.filename else None


def _too_big(field: str, limit_mb: float) -> ApiError:
    return ApiError(413, f"{LABELS[field]}文件过大，不能超过{limit_mb:g}MB", {"field": field})


async def _photos(request: Request, form: Any) -> list[bytes]:
    """The photos, each checked and re-encoded; 400/413 naming `photos` otherwise."""
    config = deps.config(request)
    files = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]
    most = config.report_media.max_photos
    if len(files) > most:
        raise ApiError(400, f"照片最多{most}张", {"field": "photos", "sent": len(files)})
    limit = int(config.citizen.max_photo_mb * 1024 * 1024)
    cleaned = []
    for upload in files:
        if upload.size is not None and upload.size > limit:
            raise _too_big("photos", config.citizen.max_photo_mb)
        raw = await upload.read()
        if len(raw) > limit:
            raise _too_big("photos", config.citizen.max_photo_mb)
        try:
            cleaned.append((await asyncio.to_thread(clean_photo, raw)).jpeg)
        except NotAnImage as exc:
            raise ApiError(
                400, "照片无法识别，请上传 JPEG、PNG 或 WebP 图片", {"field": "photos", "reason": exc.reason}
            ) from None
    return cleaned


async def _recording(request: Request, form: Any, kind: MediaKind) -> tuple[Recording, bytes] | None:
    upload = await _file(form, kind)
    if upload is None:
        return None
    config = deps.config(request).report_media
    limit = config.limit_bytes(kind)
    if upload.size is not None and upload.size > limit:
        raise _too_big(kind, config.max_voice_mb if kind == "voice" else config.max_video_mb)
    raw = await upload.read()
    if len(raw) > limit:
        raise _too_big(kind, config.max_voice_mb if kind == "voice" else config.max_video_mb)
    try:
        return await asyncio.to_thread(check_recording, raw, kind, config), raw
    except BadMedia as exc:
        raise ApiError(400, exc.reason, {"field": kind}) from None


def _write(folder: Path, files: list[tuple[str, bytes]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files:
        (folder / name).write_bytes(data)


def _rows(
    report_id: str, photos: list[bytes], recordings: list[tuple[Recording, bytes]]
) -> tuple[list[MediaRow], list[tuple[str, bytes]]]:
    now = datetime.now(UTC)
    rows: list[MediaRow] = []
    files: list[tuple[str, bytes]] = []
    items = [("photo", "image/jpeg", None, p) for p in photos] + [
        (r.kind, r.mime, r.duration_s, raw) for r, raw in recordings
    ]
    for i, (kind, mime, duration, data) in enumerate(items):  # a µs apart: they list in the order sent
        media_id = new_media_id()
        name = f"{media_id}.{EXTENSIONS.get(mime, 'bin')}"
        rows.append(
            MediaRow(
                media_id,
                report_id,
                None,
                kind,
                mime,
                name,
                len(data),
                duration,
                iso(now + timedelta(microseconds=i)),
            )
        )
        files.append((name, data))
    return rows, files


async def create_report(request: Request) -> Response:
    check_rate(request)
    config = deps.config(request)
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(415, "请以 multipart/form-data 提交", "fields and files: photos, voice, video")
    form = await request.form(max_files=config.report_media.max_photos + 3, max_fields=40)
    fields, answers = split_fields(list(form.multi_items()))
    report_id = _report_id(fields.get("client_ref"))
    if report_id is not None and (done := await _made_already(request, report_id)) is not None:
        return done  # a resend of a report queued offline whose first answer was lost
    report = validate(request, fields, answers)
    photos = await _photos(request, form)
    recordings = [
        r for r in [await _recording(request, form, "voice"), await _recording(request, form, "video")] if r
    ]
    report_id = report_id or new_report_id()
    rows, files = _rows(report_id, photos, recordings)
    folder = media_dir(config, report_id)
    try:
        await asyncio.to_thread(_write, folder, files)
        doc, account = await store_report(
            request, report, report_id, photos[0] if photos else None, fields.get("suggestion_id")
        )
        rows = [MediaRow(**{**_as_dict(r), "case_id": doc["case_id"]}) for r in rows]
        await asyncio.to_thread(report_media_store(deps.store(request)).add, rows)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        raise
    body = {
        "service_request_id": report_id, "service_notice": notice_of(doc["created"]), "account_id": account,
        "joined": not doc["created"], "media": [r.public() for r in rows],
    }  # fmt: skip
    return JSONResponse(body, status_code=201)


def _report_id(ref: str | None) -> str | None:
    """The report's id for a `client_ref` (the service worker's: yyyymmdd-24 hex), so that a
    resend names the same report; None without one (a fresh id then)."""
    if ref is None or not CLIENT_REF.match(ref):
        return None
    return f"R{ref[:8]}-{hashlib.sha256(ref.encode()).hexdigest()[:8]}"


async def _made_already(request: Request, report_id: str) -> Response | None:
    store = deps.store(request)
    report = await asyncio.to_thread(store.get_report, report_id)
    if report is None:
        return None
    rows = await asyncio.to_thread(report_media_store(store).of_report, report_id)
    body = {"service_request_id": report_id, "service_notice": "received already", "account_id": None,
            "joined": False, "media": [r.public() for r in rows]}  # fmt: skip
    return JSONResponse(body, status_code=200)


def _as_dict(row: MediaRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in MediaRow.__slots__}


def _serve(config: Config, row: MediaRow, cache: str) -> FileResponse:
    if row.removed_at is not None:  # swept by the retention rule: said so, not a broken link
        raise ApiError(410, "已按规定删除", {"id": row.id, "removed_at": row.removed_at})
    path = media_dir(config, row.report_id) / row.file
    if not path.is_file():
        raise ApiError(404, "no such media", row.id)
    return FileResponse(path, media_type=row.mime, headers={"Cache-Control": cache})


def _url(base: str, row: MediaRow) -> str | None:
    """Where the file is served; None once the retention sweep deleted it (`removed`)."""
    return None if row.removed_at is not None else f"{base}/{row.id}"


async def case_media(request: Request) -> Response:
    """A case's media, for staff who see the case (its area; a worker: their own case)."""
    case_id = request.path_params["id"]
    case = await asyncio.to_thread(deps.store(request).get_case, case_id)
    who = signed_in(request)
    if case is None or who is None or not who.sees_case(case.grid_code, case.assignee):
        raise ApiError(404, "no such case", case_id)
    rows = await asyncio.to_thread(report_media_store(deps.store(request)).of_case, case_id)
    items = [
        r.public() | {"report_id": r.report_id, "url": _url(f"/api/cases/{case_id}/media", r)} for r in rows
    ]
    return JSONResponse({"items": items})


async def case_media_file(request: Request) -> Response:
    case_id, media_id = request.path_params["id"], request.path_params["media_id"]
    store = deps.store(request)
    case = await asyncio.to_thread(store.get_case, case_id)
    row = await asyncio.to_thread(report_media_store(store).get, media_id)
    who = signed_in(request)
    if (
        case is None
        or row is None
        or row.case_id != case_id
        or who is None
        or not who.sees_case(case.grid_code, case.assignee)
    ):
        raise ApiError(404, "no such media", media_id)
    return _serve(deps.config(request), row, "private, no-store")


async def my_report_media(request: Request) -> Response:
    """The media of one of the resident's own reports (another's is 404, as a missing one)."""
    resident = await resident_of(request)
    report_id = request.path_params["id"]
    link = await asyncio.to_thread(records_of(request).report_of, resident.id, report_id)
    if link is None:
        raise ApiError(404, "没有这条上报", {"id": report_id})
    rows = await asyncio.to_thread(report_media_store(deps.store(request)).of_report, report_id)
    base = f"/api/residents/me/reports/{report_id}/media"
    return JSONResponse({"items": [r.public() | {"url": _url(base, r)} for r in rows]})


async def my_report_media_file(request: Request) -> Response:
    resident = await resident_of(request)
    report_id, media_id = request.path_params["id"], request.path_params["media_id"]
    link = await asyncio.to_thread(records_of(request).report_of, resident.id, report_id)
    row = await asyncio.to_thread(report_media_store(deps.store(request)).get, media_id)
    if link is None or row is None or row.report_id != report_id:
        raise ApiError(404, "没有这个文件", {"id": media_id})
    return _serve(deps.config(request), row, "private, max-age=300")


routes: list[BaseRoute] = [
    Route("/api/citizen/reports", create_report, methods=["POST"]),
    Route("/api/cases/{id}/media", case_media, methods=["GET"]),
    Route("/api/cases/{id}/media/{media_id}", case_media_file, methods=["GET"]),
    Route("/api/residents/me/reports/{id}/media", my_report_media, methods=["GET"]),
    Route("/api/residents/me/reports/{id}/media/{media_id}", my_report_media_file, methods=["GET"]),
]
