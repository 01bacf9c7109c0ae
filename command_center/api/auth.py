"""Sign-in and accounts.

POST /api/auth/login, POST /api/auth/logout, GET /api/auth/me (with the names the pages
show: the user's display name and their jurisdiction's), POST /api/auth/password (one's
own); for admins: GET /api/audit, GET/POST /api/users, GET/PATCH /api/users/{username},
POST /api/users/{username}/(disable|enable|reset-password).

Sign-in answers with the token (pages keep it for the Authorization header) and sets it
as the HttpOnly SameSite=Strict cookie `cc_session` too, for what cannot send a header
(<img>, MJPEG, clip links, the websocket). Attempts are throttled per address and per
account, and argon2 runs on its own bounded pool (auth/service.py): a flood of bad
sign-ins is answered 429 or 503 at once instead of stalling the API. Every change that
alters what a token says or who may hold one revokes the account's tokens (auth/users.py).

A district admin (an admin with a jurisdiction) manages only the accounts whose jurisdiction
lies inside theirs: others answer 404 as missing ones, and giving an account a jurisdiction
outside theirs (or the whole city) answers 403. Worker accounts are scoped the same way: made
without a jurisdiction, a worker's account gets the district of its worker's grid.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, int_param, json_body, text_param
from command_center.auth.middleware import COOKIE, bearer_of, principal_of, signed_in
from command_center.auth.principal import ROLES, Principal, normalize_jurisdiction
from command_center.auth.proxies import is_https
from command_center.auth.service import HashBusy
from command_center.auth.users import (
    MAX_PASSWORD,
    Account,
    AccountUnusable,
    UnknownUser,
    UserExists,
    check_grant,
    in_scope,
    new_password,
    principal_of_row,
    public_view,
)

if TYPE_CHECKING:
    from command_center.auth.service import Auth

MAX_USERNAME = 64
EDITABLE = ("role", "jurisdiction", "worker_id")


def set_session_cookie(response: Response, request: Request, token: str, expires_at: float) -> None:
    response.set_cookie(
        COOKIE, token, max_age=max(0, int(expires_at - time.time())), path="/",
        secure=is_https(request), httponly=True, samesite="strict",
    )  # fmt: skip


def too_many(retry_s: float) -> JSONResponse:
    wait = max(1, math.ceil(retry_s))
    return JSONResponse(
        {"error": "too many sign-in attempts", "detail": {"retry_after_s": wait}},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


def busy() -> ApiError:
    return ApiError(503, "sign-in busy", "too many sign-ins are being checked; try again in a second")


def text_field(body: dict[str, Any], name: str, limit: int, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise ApiError(400, f"bad field {name!r}", f"a string of 1 to {limit} characters")
    return value


def signed_response(auth: Auth, request: Request, principal: Principal, status: int = 200) -> JSONResponse:
    token, expires_at = auth.issue(principal)
    body = {"token": token, "token_type": "Bearer", "expires_at": expires_at,
            "user": principal.to_dict() | {"expires_at": expires_at}}  # fmt: skip
    response = JSONResponse(body, status_code=status)
    set_session_cookie(response, request, token, expires_at)
    return response


async def hashed(auth: Auth, fn: Callable[..., Any], *args: Any) -> Any:
    """Blocking argon2 work on its own pool; 503 at once when the pool is full."""
    try:
        return await auth.hashing.run(fn, *args)
    except HashBusy:
        raise busy() from None


async def login(request: Request) -> Response:
    auth, store = deps.auth(request), deps.store(request)
    body = await json_body(request, required=True)
    username = text_field(body, "username", MAX_USERNAME)
    password = text_field(body, "password", MAX_PASSWORD)
    assert username is not None and password is not None
    ip = audit.client_ip(request)
    wait = auth.logins.take(ip, username)
    if wait > 0:
        return too_many(wait)
    try:
        principal = await hashed(auth, auth.users.authenticate, username, password)
    except AccountUnusable as exc:
        auth.logins.refund(ip, username)
        await audit.write(store, audit.entry(username, "-", "login.refused", username, ip, str(exc)))
        raise ApiError(403, "account cannot sign in", str(exc)) from None
    except ApiError:
        auth.logins.refund(ip, username)  # busy: the attempt was not made
        raise
    if principal is None:
        await audit.write(store, audit.entry(username, "-", "login.failed", username, ip))
        raise ApiError(401, "invalid username or password")
    auth.logins.refund(ip, username)  # people signing in do not use up the buckets
    # For the console's user list: when and from where the account last signed in.
    at = datetime.now(UTC).isoformat()
    await asyncio.to_thread(store.update_user, principal.user, last_login_at=at, last_login_ip=ip)
    await audit.record(store, request, principal, "login", principal.user)
    return signed_response(auth, request, principal)


async def logout(request: Request) -> Response:
    response = JSONResponse({"signed_out": True})
    response.delete_cookie(COOKIE, path="/", secure=is_https(request), httponly=True, samesite="strict")
    who = signed_in(request)
    if who is not None:
        await audit.record(deps.store(request), request, who, "logout", who.user)
    return response


def names_of(request: Request, who: Principal) -> dict[str, str]:
    """What the pages show for the signed-in user: a worker's name from the roster (else the
    username), and the jurisdiction's area name ("" for the whole city; the prefix itself
    when no area of the map has that code). A worker's account without a jurisdiction is
    named by the district of their grid, where they work (as `default_jurisdiction` gives
    new worker accounts)."""
    city = deps.city(request)
    worker = city.workers.get(who.worker_id) if who.worker_id else None
    code = who.jurisdiction
    if not code and worker is not None and worker.grid_code[:6].isdigit():
        code = worker.grid_code[:6]
    area = city.city.areas.get(code.ljust(15, "0")) if code else None
    return {
        "display_name": worker.name if worker is not None else who.user,
        "jurisdiction_name": area.name if area is not None else code,
    }


async def me(request: Request) -> Response:
    who = principal_of(request)
    response = JSONResponse(who.to_dict() | names_of(request, who))
    token = bearer_of(request.scope)
    if token is not None and who.expires_at is not None:
        # A page signed in by header (its stored token) gets the cookie back for its
        # images and websocket, e.g. after the cookie alone expired or was cleared.
        set_session_cookie(response, request, token, who.expires_at)
    return response


async def change_password(request: Request) -> Response:
    auth, store = deps.auth(request), deps.store(request)
    who = principal_of(request)
    body = await json_body(request, required=True)
    old = text_field(body, "old_password", MAX_PASSWORD)
    new = text_field(body, "new_password", MAX_PASSWORD)
    ip = audit.client_ip(request)
    wait = auth.logins.take(ip, who.user)  # a stolen token must not make a password oracle
    if wait > 0:
        return too_many(wait)
    try:
        changed = await hashed(auth, auth.users.change_password, who.user, old, new)
    except ValueError as exc:
        raise ApiError(400, "bad new password", str(exc)) from None
    except UnknownUser:
        raise ApiError(404, "no such user", who.user) from None
    if changed is None:
        await audit.record(store, request, who, "password.change.failed", who.user)
        raise ApiError(403, "wrong password", "old_password is not your current password")
    auth.logins.refund(ip, who.user)
    auth.sessions.forget(who.user)
    await audit.record(store, request, who, "password.change", who.user)
    # Every other token of the account is revoked now; this device gets a fresh one.
    return signed_response(auth, request, principal_of_row(changed))


# Accounts, for admins (the policy lets only them in).


async def account_call(auth: Auth, fn: Callable[..., Any], *args: Any, hashing: bool = False) -> Any:
    """Run an account change; its errors as 400/404."""
    try:
        return await (hashed(auth, fn, *args) if hashing else asyncio.to_thread(fn, *args))
    except UnknownUser as exc:
        raise ApiError(404, "no such user", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "bad account change", str(exc)) from None


async def account_changed(request: Request, action: str, username: str, detail: str | None = None) -> None:
    # This node refuses the old tokens at once, others within seconds.
    deps.auth(request).sessions.forget(username)
    await audit.record(deps.store(request), request, principal_of(request), action, username, detail)


async def list_users(request: Request) -> JSONResponse:
    """Filters: q (in the username or worker id), role, status (active/disabled); a district
    admin sees only the accounts inside their jurisdiction."""
    limit = int_param(request, "limit", 100, 1, 1000)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    query = request.query_params
    role, status = query.get("role") or None, query.get("status") or None
    if role is not None and role not in ROLES:
        raise ApiError(400, "bad query parameter 'role'", f"one of {', '.join(ROLES)}")
    if status not in (None, "active", "disabled"):
        raise ApiError(400, "bad query parameter 'status'", "active or disabled")
    filters = {"q": text_param(request, "q", MAX_USERNAME), "role": role,
               "disabled": None if status is None else status == "disabled",
               "prefix": principal_of(request).jurisdiction or None}  # fmt: skip
    rows, total = await asyncio.to_thread(deps.store(request).list_users, limit, offset, **filters)
    items = [account_view(request, r) for r in rows]
    return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})


def account_view(request: Request, row: dict[str, Any]) -> dict[str, Any]:
    """An account as the console shows it: with its worker's name, so people read a name, not an id."""
    worker = deps.city(request).workers.get(row.get("worker_id") or "")
    return public_view(row) | {"worker_name": worker.name if worker is not None else None}


async def managed(request: Request) -> dict[str, Any]:
    """The account named in the path, if the caller manages it; else 404, as a missing one."""
    username = request.path_params["username"]
    row = await asyncio.to_thread(deps.store(request).get_user, username)
    if row is None or not in_scope(principal_of(request), row):
        raise ApiError(404, "no such user", username)
    return row


def granted(request: Request, jurisdiction: str) -> str:
    """The jurisdiction, normalized, if the caller may give it (400 malformed, 403 outside theirs)."""
    try:
        normal = normalize_jurisdiction(jurisdiction)
        check_grant(principal_of(request), normal)
    except ValueError as exc:
        raise ApiError(400, "bad field 'jurisdiction'", str(exc)) from None
    except PermissionError as exc:
        raise ApiError(403, "forbidden", str(exc)) from None
    return normal


def default_jurisdiction(request: Request, role: str | None, worker_id: str | None) -> str:
    """A new account's jurisdiction when none is given: a worker's is the district of their grid
    (so district admins manage their workers' accounts); else the caller's own."""
    worker = deps.city(request).workers.get(worker_id or "") if role == "worker" else None
    if worker is not None and worker.grid_code[:6].isdigit():
        return worker.grid_code[:6]
    return principal_of(request).jurisdiction


async def create_user(request: Request) -> JSONResponse:
    """The password may be left out: one is made up and answered once as `password`."""
    auth = deps.auth(request)
    body = await json_body(request, required=True)
    fields = {}
    for key in ("username", "password", "role", "jurisdiction", "worker_id"):
        value = body.get(key)
        if not (value is None or isinstance(value, str)):
            raise ApiError(400, f"bad field {key!r}", "a string")
        fields[key] = value
    if not fields["username"] or not fields["role"]:
        raise ApiError(400, "username and role are required")
    if "jurisdiction" in body and fields["jurisdiction"] is None:  # "" is the whole city, and must be said as such
        raise ApiError(400, "bad field 'jurisdiction'", "a grid-code prefix, or \"\" for the whole city")
    given = fields["jurisdiction"]
    jurisdiction = granted(request, default_jurisdiction(request, fields["role"], fields["worker_id"]) if given is None else given)
    made_up = None if fields["password"] else new_password()
    account = Account(fields["username"], fields["password"] or made_up or "", fields["role"], jurisdiction, fields["worker_id"])
    try:
        created = await hashed(auth, auth.users.create, account, set(deps.city(request).workers))
    except ValueError as exc:
        raise ApiError(400, "bad account", str(exc)) from None
    except UserExists:
        raise ApiError(409, "username taken", account.username) from None
    who = principal_of(request)
    await audit.record(deps.store(request), request, who, "user.create", account.username, account.role)
    return JSONResponse(created | {"password": made_up}, status_code=201)


async def get_user(request: Request) -> JSONResponse:
    return JSONResponse(account_view(request, await managed(request)))


async def update_user(request: Request) -> JSONResponse:
    auth = deps.auth(request)
    username = request.path_params["username"]
    body = await json_body(request, required=True)
    unknown = sorted(set(body) - set(EDITABLE))
    if unknown or not body:
        raise ApiError(400, "bad account change", f"send some of {', '.join(EDITABLE)}; not {unknown}")
    for key, value in body.items():
        if not (isinstance(value, str) or (key == "worker_id" and value is None)):
            raise ApiError(400, f"bad field {key!r}", "a string" + (" or null" if key == "worker_id" else ""))
    if username == principal_of(request).user and body.get("role", "admin") != "admin":
        raise ApiError(400, "bad account change", "an admin cannot take their own admin role")
    row = await managed(request)
    if "jurisdiction" in body:
        body["jurisdiction"] = granted(request, body["jurisdiction"])
    elif body.get("role", row["role"]) == "worker" and not row["jurisdiction"]:
        body["jurisdiction"] = granted(request, default_jurisdiction(request, "worker", body.get("worker_id", row["worker_id"])))
    view = await account_call(auth, auth.users.update, username, body, set(deps.city(request).workers))
    await account_changed(request, "user.update", username, ", ".join(f"{k}={v}" for k, v in body.items()))
    return JSONResponse(view)


async def disable_user(request: Request) -> JSONResponse:
    auth = deps.auth(request)
    username = (await managed(request))["username"]
    if username == principal_of(request).user:
        raise ApiError(400, "bad account change", "an admin cannot disable themself")
    view = await account_call(auth, auth.users.set_disabled, username, True)
    await account_changed(request, "user.disable", username)
    return JSONResponse(view)


async def enable_user(request: Request) -> JSONResponse:
    auth = deps.auth(request)
    username = (await managed(request))["username"]
    view = await account_call(auth, auth.users.set_disabled, username, False)
    await account_changed(request, "user.enable", username)
    return JSONResponse(view)


async def reset_password(request: Request) -> JSONResponse:
    auth = deps.auth(request)
    username = (await managed(request))["username"]
    body = await json_body(request)
    given = text_field(body, "password", MAX_PASSWORD, required=False)
    view, password = await account_call(auth, auth.users.reset_password, username, given, hashing=True)
    await account_changed(request, "user.reset_password", username, "given" if given else "generated")
    # The new password is shown once, and only when the server made it up.
    return JSONResponse({"user": view, "password": None if given else password})


routes: list[BaseRoute] = [
    Route("/api/auth/login", login, methods=["POST"]),
    Route("/api/auth/logout", logout, methods=["POST"]),
    Route("/api/auth/me", me),
    Route("/api/auth/password", change_password, methods=["POST"]),
    Route("/api/users", list_users, methods=["GET"]),
    Route("/api/users", create_user, methods=["POST"]),
    Route("/api/users/{username}", get_user, methods=["GET"]),
    Route("/api/users/{username}", update_user, methods=["PATCH"]),
    Route("/api/users/{username}/disable", disable_user, methods=["POST"]),
    Route("/api/users/{username}/enable", enable_user, methods=["POST"]),
    Route("/api/users/{username}/reset-password", reset_password, methods=["POST"]),
]
