"""Suggested classes for a report (自动输出事件分类建议) and the choices people make.

POST /api/suggestions is public, like Open311 (the citizens' page asks as the resident
types): rate-limited per caller (a signed-in user by name, anyone else by address), the
text and the photo bounded. Its answer's id is a capability: whoever holds it may record
the first choice (POST /api/suggestions/{id}/choice); officers and admins may change a
recorded one. A citizen's choice arrives with the report itself (Open311's
`suggestion_id`, `link_report`), linked to the case it made. The desk asks for the
suggestions of a case's description (GET /api/cases/{id}/suggestions) and records what
the officer kept or changed it to.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.cases import visible_case
from command_center.api.errors import ApiError, int_param, json_body, read_capped
from command_center.api.limits import MULTIPART_SLACK
from command_center.auth.middleware import principal_of, signed_in
from command_center.auth.principal import Principal
from command_center.photos import NotAnImage, clean_photo
from command_center.ratelimit import RateLimiter

if TYPE_CHECKING:
    from command_center.suggestions import Ranked, ReportSuggestions

MAX_TEXT = 4000  # as a report's description (Open311, the case form)
# The pages shrink a photo to 640 px before asking (the detector looks at 320 px): well
# under the API's default body limit (limits.body_kb, 1 MiB), which bounds this route.
MAX_PHOTO = 768 * 1024
TOP = 5
SOURCES = ("citizen", "worker", "officer")
SUGGESTION_ID = re.compile(r"^S[0-9a-f]{24}$")
LIMITER_KEY = "suggestions_limiter"  # app.state: the per-caller limiter (tests may replace it)
PER_MINUTE, BURST = 30.0, 15  # typing, debounced, asks every second or two at most
WAIT_FOR_MODEL_S = 20.0  # the first request after a start waits for the first fit (a few seconds)
CHANGERS = frozenset({"officer", "admin"})  # who may change a choice already recorded


def service(request: Request) -> ReportSuggestions:
    return cast("ReportSuggestions", request.app.state.suggestions)


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter | None = getattr(request.app.state, LIMITER_KEY, None)
    if limiter is None:
        limiter = RateLimiter(PER_MINUTE, BURST)
        setattr(request.app.state, LIMITER_KEY, limiter)
    return limiter


def _throttle(request: Request, who: Principal | None) -> None:
    key = f"user:{who.user}" if who else f"addr:{request.client.host if request.client else 'unknown'}"
    allowed, wait = _limiter(request).allow(key)
    if not allowed:
        raise ApiError(429, "too many suggestion requests", {"retry_after_s": round(wait, 1)})


def _source(who: Principal | None, asked: str | None) -> str:
    """The source a caller may claim: the public only citizen, a worker only worker."""
    if asked is not None and asked not in SOURCES:
        raise ApiError(400, "bad field 'source'", list(SOURCES))
    own = "citizen" if who is None else "worker" if who.is_worker else "officer"
    if who is not None and who.is_staff:
        return asked or own  # staff also file what a caller or a worker told them
    if asked not in (None, own):
        raise ApiError(403, "forbidden", f"you suggest with source {own!r}")
    return own


def _items(request: Request, ranked: Ranked) -> list[dict[str, Any]]:
    catalog = deps.catalog(request)
    items = []
    for code, score in ranked:
        matter = catalog.get(code)
        items.append({"code": code, "name": matter.name, "name_en": matter.name_en, "score": score})
    return items


async def _read(request: Request, max_photo: int) -> tuple[dict[str, str], bytes | None]:
    """JSON {text, source, photo: base64} or a multipart form (text, source, file `photo`)."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        body = await json_body(request, required=True, limit=max_photo * 4 // 3 + MAX_TEXT * 4 + 4096)
        fields = {k: v for k, v in body.items() if isinstance(v, str)}
        if any(not isinstance(body.get(k), str | None) for k in ("text", "source", "photo")):
            raise ApiError(400, "bad fields", "text, source and photo are strings")
        raw = fields.pop("photo", None)
        if not raw:
            return fields, None
        try:
            return fields, base64.b64decode(raw.split(",", 1)[-1], validate=True)  # a data: URL or plain base64
        except (binascii.Error, ValueError):
            raise ApiError(400, "bad field 'photo'", "base64 of a JPEG, PNG or WebP image") from None
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(415, "unsupported content type", "send JSON or a multipart form")
    await read_capped(request, max_photo + MAX_TEXT * 4 + MULTIPART_SLACK)
    form = await request.form(max_files=1, max_fields=5)
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    upload = form.get("photo")
    if isinstance(upload, UploadFile) and upload.filename:
        return fields, await upload.read()
    return fields, None


async def suggest(request: Request) -> JSONResponse:
    who = signed_in(request)
    _throttle(request, who)
    fields, raw = await _read(request, MAX_PHOTO)
    source = _source(who, fields.get("source") or None)
    text = fields.get("text", "").strip()
    if len(text) > MAX_TEXT or "\x00" in text:
        raise ApiError(400, "bad field 'text'", f"up to {MAX_TEXT} characters")
    photo = None
    if raw:
        if len(raw) > MAX_PHOTO:
            raise ApiError(413, "photo too large", f"at most {MAX_PHOTO} bytes: send it smaller (640 px is plenty)")
        try:
            photo = (await asyncio.to_thread(clean_photo, raw)).jpeg
        except NotAnImage as exc:
            raise ApiError(400, "the photo is not an image we can read", exc.reason) from None
    if not text and photo is None:
        raise ApiError(400, "nothing to suggest from", "send a 'text' or a 'photo'")
    ranked, labels = await _ranked(request, text, photo)
    row = await _store(request, source, text, photo is not None, ranked, None)
    return JSONResponse({"id": row["id"], "items": _items(request, ranked), "photo_labels": labels}, status_code=201)


async def _ranked(request: Request, text: str, photo: bytes | None) -> tuple[Ranked, dict[str, float] | None]:
    try:
        return await asyncio.to_thread(service(request).suggest, text, photo, TOP, WAIT_FOR_MODEL_S)
    except TimeoutError:
        raise ApiError(503, "the classifier is still being trained", "try again in a few seconds") from None


async def _store(
    request: Request, source: str, text: str, has_photo: bool, ranked: Ranked, case_id: str | None
) -> dict[str, Any]:
    row = {
        "id": f"S{secrets.token_hex(12)}", "created_at": datetime.now(UTC).isoformat(), "source": source,
        "text": text, "has_photo": has_photo, "suggested": [[c, s] for c, s in ranked], "case_id": case_id,
    }  # fmt: skip
    await asyncio.to_thread(service(request).records.add, row)
    return row


async def choose(request: Request) -> JSONResponse:
    suggestion_id = request.path_params["id"]
    who = signed_in(request)
    body = await json_body(request, required=True)
    code, case_id = body.get("code"), body.get("case_id")
    if not isinstance(code, str) or not code:
        raise ApiError(400, "code is required", "a matter code")
    try:
        deps.catalog(request).get(code)
    except KeyError:
        raise ApiError(400, "unknown matter code", code) from None
    if case_id is not None:
        if who is None:
            raise ApiError(403, "forbidden", "only a signed-in user links a choice to a case")
        if not isinstance(case_id, str) or not case_id or len(case_id) > 64:
            raise ApiError(400, "bad field 'case_id'", "a case id")
        await visible_case(request, case_id, reporter_too=True)
    records = service(request).records
    row = await asyncio.to_thread(records.get, suggestion_id) if SUGGESTION_ID.match(suggestion_id) else None
    if row is None:
        raise ApiError(404, "no such suggestion", suggestion_id)
    overwrite = who is not None and who.role in CHANGERS
    by = who.user if who else "citizen"
    at = datetime.now(UTC).isoformat()
    if not await asyncio.to_thread(records.choose, suggestion_id, code, by, at, case_id, overwrite):
        raise ApiError(409, "a class was chosen already", {"chosen_code": row["chosen_code"]})
    service(request).note_choice()
    top = row["suggested"][0][0] if row["suggested"] else None
    return JSONResponse({"id": suggestion_id, "chosen_code": code, "accepted": code == top, "case_id": case_id})


async def link_report(request: Request, suggestion_id: str, code: str, case_id: str) -> None:
    """Open311: the citizen's report names the suggestion it followed; its class is the
    choice. A bad or already used id is ignored: the report itself must not fail for it."""
    if not SUGGESTION_ID.match(suggestion_id):
        return
    at = datetime.now(UTC).isoformat()
    if await asyncio.to_thread(service(request).records.choose, suggestion_id, code, "citizen", at, case_id):
        service(request).note_choice()


async def case_suggestions(request: Request) -> JSONResponse:
    """The suggestions for a case's description, for the desk; the same stored row while
    the description is unchanged (so the officer's choice lands on it)."""
    case = await visible_case(request, request.path_params["id"])
    records = service(request).records
    row = await asyncio.to_thread(records.latest_of_case, case.id)
    text = case.description.strip()[:MAX_TEXT]
    if row is None or row["source"] != "officer" or row["text"] != text:
        ranked = (await _ranked(request, text, None))[0] if text else []
        row = await _store(request, "officer", text, False, ranked, case.id)
        row["chosen_code"] = None
    ranked = [(str(c), float(s)) for c, s in row["suggested"]]
    return JSONResponse(
        {"id": row["id"], "case_id": case.id, "matter_code": case.matter_code, "text": text,
         "items": _items(request, ranked), "chosen_code": row.get("chosen_code")}
    )  # fmt: skip


async def stats(request: Request) -> JSONResponse:
    """How suggestions fared over the last `days` days: city-wide counts (no report's text)."""
    principal_of(request)  # the policy admits officers and admins only
    days = int_param(request, "days", 30, 1, 3650)
    since = (datetime.now(UTC) - timedelta(days=days)).isoformat()
    found = await asyncio.to_thread(service(request).records.stats, since)
    classifier = service(request).classifier
    trained = classifier.counts.as_dict() if classifier else None
    return JSONResponse({"days": days, **found.as_dict(), "classifier": trained})


routes: list[BaseRoute] = [
    Route("/api/suggestions", suggest, methods=["POST"]),
    Route("/api/suggestions/stats", stats, methods=["GET"]),
    Route("/api/suggestions/{id}/choice", choose, methods=["POST"]),
    Route("/api/cases/{id}/suggestions", case_suggestions, methods=["GET"]),
]
