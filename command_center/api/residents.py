"""Residents' sign-in (手机号 + 验证码), "my reports" (我的上报) and their rating (满意度评价).

Residents are not staff principals: the staff policy lets these routes through (the auth
middleware finds no staff token in a resident's, whose key differs), and every personal route
here demands a resident token itself (`resident_of`): from `Authorization: Bearer`, else the
`cc_resident` cookie (path /api/residents, HttpOnly, SameSite=Strict). A staff token on these
routes is refused with 403, a resident token on staff routes with the middleware's 401.

Asking for a code answers 202 the same whether or not the phone has signed in before; floods
are refused with 429, Retry-After and the reason in Chinese (residents/limits.py). Nothing is
stored on a refusal. A code is checked against the latest one sent to the phone: a wrong one
counts a try, the sixth attempt is refused, a used one answers "验证码已使用" (residents/codes.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.basedata_views import cipher_of
from command_center.api.cases import case_photos
from command_center.api.errors import ApiError, json_body
from command_center.api.limits import SMALL_BODY
from command_center.auth.middleware import COOKIE_METHODS, bearer_of, signed_in
from command_center.auth.proxies import is_https
from command_center.auth.tokens import load_or_create_secret
from command_center.store.resident_records import Resident, ResidentRecords, iso, resident_store
from command_center.store.resident_views import rateable, report_view
from residents import codes
from residents.limits import WINDOW, check
from residents.phone import BadPhone, mask_phone, normalise_phone
from residents.sms import SmsError, SmsSender, make_sender
from residents.tokens import ResidentSigner, ResidentTokenError, derive_key

COOKIE = "cc_resident"
COOKIE_PATH = "/api/residents"
STATE = "residents"  # app.state: the Desk, made on first use
SWEEP_AFTER = timedelta(days=1)  # codes older than this count in no window: deleted


@dataclass
class Desk:
    """What the routes share: the token signer, the SMS sender, the keys, the clock."""

    signer: ResidentSigner
    sender: SmsSender
    code_key: bytes  # codes' keyed hashes
    address_key: bytes  # client addresses' keyed hashes (only counted, never stored in clear)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # tests freeze it
    # One code request at a time on this node: the limits' count and the new code's row are
    # then one step (two nodes may still race by a request; the per-phone gap bounds it).
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)


def desk_of(conn: HTTPConnection) -> Desk:
    state = conn.app.state
    found: Desk | None = getattr(state, STATE, None)
    if found is None:
        config = deps.config(conn)
        secret = (
            config.auth.secret.encode()
            if config.auth.secret
            else load_or_create_secret(config.server.data_dir)
        )
        found = Desk(
            ResidentSigner(secret, config.residents.session_days * 86400),
            make_sender(config.residents.sms),
            derive_key(secret, b"command-center/residents/code"),
            derive_key(secret, b"command-center/residents/address"),
        )
        setattr(state, STATE, found)
    return found


def records_of(conn: HTTPConnection) -> ResidentRecords:
    return resident_store(deps.store(conn))


def _flood(retry_after_s: int, reason: str) -> JSONResponse:
    return JSONResponse(
        {"error": reason, "detail": {"retry_after_s": retry_after_s}},
        status_code=429,
        headers={"Retry-After": str(retry_after_s)},
    )


async def _phone(request: Request, body: dict[str, Any]) -> tuple[str, str]:
    """(the bare mobile number, its keyed index) of the body's `phone`; 400 if it is none."""
    try:
        phone = normalise_phone(body.get("phone"))
    except BadPhone as exc:
        raise ApiError(400, str(exc), {"field": "phone"}) from None
    cipher = cipher_of(request)
    return phone, await asyncio.to_thread(cipher.index, "phone", phone)


async def send_code(request: Request) -> Response:
    desk, records = desk_of(request), records_of(request)
    phone, index = await _phone(request, await json_body(request, required=True, limit=SMALL_BODY))
    address = hmac.new(desk.address_key, audit.client_ip(request).encode(), hashlib.sha256).hexdigest()
    code = codes.new_code()
    digest = codes.code_hash(desk.code_key, index, code)
    async with desk.sending:
        now = desk.clock()
        recent = await asyncio.to_thread(records.recent, index, address, now - WINDOW)
        refusal = check(deps.config(request).residents.limits, recent, now)
        if refusal is not None:
            return _flood(refusal.retry_after_s, refusal.reason)
        await asyncio.to_thread(records.add_code, index, address, digest, now, now + codes.TTL)
    await asyncio.to_thread(records.sweep_codes, now - SWEEP_AFTER)
    try:
        await desk.sender.send(phone, code, int(codes.TTL.total_seconds() // 60))
    except SmsError as exc:
        raise ApiError(503, "短信发送失败，请稍后再试", str(exc)) from None
    limits = deps.config(request).residents.limits
    body = {
        "sent": True,
        "expires_in_s": int(codes.TTL.total_seconds()),
        "resend_after_s": limits.phone_gap_s,
    }
    return JSONResponse(body, status_code=202)


async def _check_code(request: Request, desk: Desk, records: ResidentRecords, index: str, code: str) -> None:
    """Returns when the code signs in (and marks it used); else the refusal, a wrong try counted."""
    now = desk.clock()
    row = await asyncio.to_thread(records.latest_code, index)
    verdict = codes.judge(row, codes.code_hash(desk.code_key, index, code), now)
    if verdict is codes.Verdict.OK and row is not None:
        if await asyncio.to_thread(records.use_code, row.id, codes.MAX_TRIES, now):
            return
        verdict = codes.Verdict.USED  # another attempt used it a moment ago
    detail: dict[str, Any] = {"field": "code", "reason": verdict.value}
    if verdict is codes.Verdict.WRONG and row is not None:
        await asyncio.to_thread(records.count_try, row.id, codes.MAX_TRIES)
        detail["tries_left"] = max(0, codes.MAX_TRIES - row.tries - 1)
    raise ApiError(400, codes.REASONS[verdict], detail)


async def sign_in(request: Request) -> Response:
    desk, records = desk_of(request), records_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    phone, index = await _phone(request, body)
    code = body.get("code")
    if not codes.well_formed(code):
        raise ApiError(400, "验证码为6位数字", {"field": "code"})
    assert isinstance(code, str)
    await _check_code(request, desk, records, index, code)
    sealed = await asyncio.to_thread(cipher_of(request).seal, "phone", phone)
    resident = await asyncio.to_thread(records.sign_in, index, sealed.cipher, mask_phone(phone), desk.clock())
    ip = audit.client_ip(request)
    if resident.blocked:
        await audit.write(
            deps.store(request),
            audit.entry(resident.id, "resident", "resident.login.refused", resident.id, ip),
        )
        raise ApiError(403, "该手机号已停用，请联系社区", {"resident": resident.id})
    await audit.write(
        deps.store(request), audit.entry(resident.id, "resident", "resident.login", resident.id, ip)
    )
    token, expires_at = desk.signer.issue(resident.id, resident.token_version)
    response = JSONResponse(
        {"token": token, "token_type": "Bearer", "expires_at": expires_at, "resident": _me(resident)}
    )
    response.set_cookie(
        COOKIE, token, max_age=max(0, int(expires_at - desk.clock().timestamp())), path=COOKIE_PATH,
        secure=is_https(request), httponly=True, samesite="strict",
    )  # fmt: skip
    return response


def _token(conn: HTTPConnection) -> str | None:
    """The Bearer token, else the cookie on a read only (as for staff, auth/middleware.py): a
    change always comes with the header, which no other site can make a browser send."""
    token = bearer_of(conn.scope)
    if token is None and conn.scope.get("method", "GET") in COOKIE_METHODS:
        token = conn.cookies.get(COOKIE) or None
    return token


async def current_resident(conn: HTTPConnection) -> Resident | None:
    """The signed-in resident, or None (no token, not a resident's, expired, revoked, blocked)."""
    token = _token(conn)
    if token is None:
        return None
    try:
        claims = desk_of(conn).signer.verify(token)
    except ResidentTokenError:
        return None
    resident = await asyncio.to_thread(records_of(conn).get, claims.resident_id)
    if resident is None or resident.blocked or resident.token_version != claims.version:
        return None
    return resident


async def resident_of(request: Request) -> Resident:
    """The signed-in resident; 401 without a good resident token, 403 for a staff token."""
    token = _token(request)
    if token is None:
        if signed_in(request) is not None:
            raise ApiError(
                403, "工作人员账号不能使用居民功能", "sign in as a resident (POST /api/residents/session)"
            )
        raise ApiError(401, "请先登录", "POST /api/residents/code, then POST /api/residents/session")
    try:
        claims = desk_of(request).signer.verify(token)
    except ResidentTokenError as exc:
        if signed_in(request) is not None:
            raise ApiError(403, "工作人员账号不能使用居民功能", "a staff token is not a resident's") from None
        raise ApiError(401, "登录已失效，请重新登录", str(exc)) from None
    resident = await asyncio.to_thread(records_of(request).get, claims.resident_id)
    if resident is None or resident.token_version != claims.version:
        raise ApiError(401, "登录已失效，请重新登录", "signed out")
    if resident.blocked:
        raise ApiError(403, "该手机号已停用，请联系社区", {"resident": resident.id})
    return resident


def _me(resident: Resident) -> dict[str, Any]:
    return {"id": resident.id, "phone": resident.phone_masked, "since": iso(resident.created_at)}


async def sign_out(request: Request) -> Response:
    resident = await current_resident(request)
    if resident is not None:  # every token of the resident revoked, this device's and others'
        await asyncio.to_thread(records_of(request).sign_out, resident.id)
        ip = audit.client_ip(request)
        await audit.write(
            deps.store(request), audit.entry(resident.id, "resident", "resident.logout", resident.id, ip)
        )
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(
        COOKIE, path=COOKIE_PATH, secure=is_https(request), httponly=True, samesite="strict"
    )
    return response


async def me(request: Request) -> Response:
    return JSONResponse(_me(await resident_of(request)))


async def my_reports(request: Request) -> Response:
    resident = await resident_of(request)
    store, city, catalog = deps.store(request), deps.city(request).city, deps.catalog(request)
    links = await asyncio.to_thread(records_of(request).reports_of, resident.id)

    def build() -> list[dict[str, Any]]:
        views = [report_view(store, city, catalog, link) for link in links]
        return [{k: v for k, v in view.items() if not k.startswith("_")} for view in views]

    return JSONResponse({"items": await asyncio.to_thread(build)})


async def _my_report(request: Request) -> tuple[Resident, dict[str, Any]]:
    """The resident and the report of the path, if it is theirs; else 404 (as a missing one)."""
    resident = await resident_of(request)
    report_id = request.path_params["id"]
    link = await asyncio.to_thread(records_of(request).report_of, resident.id, report_id)
    if link is None:
        raise ApiError(404, "没有这条上报", {"id": report_id})
    return resident, link


async def rate(request: Request) -> Response:
    resident, link = await _my_report(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    stars, comment = body.get("stars"), body.get("comment", "")
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
        raise ApiError(400, "请选择1到5颗星", {"field": "stars"})
    limit = deps.config(request).residents.rating_comment_max
    if not isinstance(comment, str) or len(comment) > limit:
        raise ApiError(400, f"评价内容不超过{limit}字", {"field": "comment"})
    if link["rating"] is not None:
        raise ApiError(409, "已评价过，不能重复评价", {"rating": link["rating"]})
    case = await asyncio.to_thread(rateable, deps.store(request), link)
    if case is None:
        raise ApiError(409, "事件办结后才能评价", {"id": link["report_id"]})
    records, now = records_of(request), desk_of(request).clock()
    rated = await asyncio.to_thread(
        records.rate, link["report_id"], case.id, resident.id, stars, comment.strip(), now
    )
    if not rated:
        raise ApiError(409, "已评价过，不能重复评价", {"id": link["report_id"]})
    ip = audit.client_ip(request)
    row = audit.entry(
        resident.id, "resident", "case.rating", case.id, ip, f"{stars} stars, report {link['report_id']}"
    )
    await audit.write(deps.store(request), row)
    rating = {"stars": stars, "comment": comment.strip(), "rated_at": iso(now)}
    return JSONResponse({"report_id": link["report_id"], "rating": rating}, status_code=201)


async def closing_photo(request: Request) -> Response:
    """The photo the case was closed with, faces and plates blurred (as for roles that need no
    identities: evidence_access.py); 503 rather than the original when blurring fails."""
    _, link = await _my_report(request)
    view = await asyncio.to_thread(
        report_view, deps.store(request), deps.city(request).city, deps.catalog(request), link
    )
    source = view.pop("_photo", None)
    if source is None:
        raise ApiError(404, "没有办结照片", {"id": link["report_id"]})
    case_id, photo_id = source
    path = case_photos(request).path(case_id, photo_id)
    if path is None:
        raise ApiError(404, "没有办结照片", {"id": link["report_id"]})
    try:
        blurred = await asyncio.to_thread(
            deps.evidence(request).cache.image, path, f"photos/{case_id}/{photo_id}"
        )
    except Exception as exc:  # no model, a broken file: never the original instead
        raise ApiError(503, "照片暂时无法显示", str(exc)) from None
    return FileResponse(blurred, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


async def link_report(conn: HTTPConnection, report_id: str, case_id: str | None) -> str | None:
    """Open311's hook: a report made by a signed-in resident becomes theirs; the resident's id
    (Open311's `account_id`), or None for an anonymous report (it keeps its receipt code)."""
    resident = await current_resident(conn)
    if resident is None:
        return None
    await asyncio.to_thread(
        records_of(conn).link_report, report_id, resident.id, case_id, desk_of(conn).clock()
    )
    return resident.id


routes: list[BaseRoute] = [
    Route("/api/residents/code", send_code, methods=["POST"]),
    Route("/api/residents/session", sign_in, methods=["POST"]),
    Route("/api/residents/session", sign_out, methods=["DELETE"]),
    Route("/api/residents/me", me, methods=["GET"]),
    Route("/api/residents/me/reports", my_reports, methods=["GET"]),
    Route("/api/residents/me/reports/{id}/rating", rate, methods=["POST"]),
    Route("/api/residents/me/reports/{id}/photo.jpg", closing_photo, methods=["GET"]),
]
