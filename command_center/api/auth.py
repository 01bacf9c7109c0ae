"""Sign-in and accounts: POST /api/auth/login, GET /api/auth/me, GET /api/audit, /api/users."""

from __future__ import annotations

import asyncio
import math

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from command_center import audit
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.auth.users import MAX_PASSWORD, Account, UserExists, public_view
from command_center.runtime import Runtime

MAX_USERNAME = 64


def routes(rt: Runtime) -> list[Route]:
    auth = rt.auth

    async def login(request: Request) -> JSONResponse:
        ip = audit.client_ip(request)
        allowed, retry = auth.logins.allow(ip)
        if not allowed:
            wait = math.ceil(retry)
            return JSONResponse(
                {"error": "too many sign-in attempts", "detail": {"retry_after_s": wait}},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
        body = await json_body(request, required=True)
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not username or len(username) > MAX_USERNAME:
            raise ApiError(400, "bad field 'username'", f"a string of 1 to {MAX_USERNAME} characters")
        if not isinstance(password, str) or not password or len(password) > MAX_PASSWORD:
            raise ApiError(400, "bad field 'password'", f"a string of 1 to {MAX_PASSWORD} characters")
        principal = await asyncio.to_thread(auth.users.authenticate, username, password)
        if principal is None:
            await audit.write(rt.store, audit.entry(username, "-", "login.failed", username, ip))
            raise ApiError(401, "invalid username or password")
        token, expires_at = auth.issue(principal)
        await audit.record(rt.store, request, principal, "login", principal.user)
        return JSONResponse(
            {
                "token": token,
                "token_type": "Bearer",
                "expires_at": expires_at,
                "user": principal.to_dict() | {"expires_at": expires_at},
            }
        )

    async def me(request: Request) -> JSONResponse:
        return JSONResponse(principal_of(request).to_dict())

    async def audit_log(request: Request) -> JSONResponse:
        limit = int_param(request, "limit", 100, 1, 1000)
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        actor, action = request.query_params.get("actor"), request.query_params.get("action")
        items, total = await asyncio.to_thread(rt.store.list_audit, limit, offset, actor, action)
        return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})

    async def list_users(request: Request) -> JSONResponse:
        limit = int_param(request, "limit", 100, 1, 1000)
        offset = int_param(request, "offset", 0, 0, 10_000_000)
        rows, total = await asyncio.to_thread(rt.store.list_users, limit, offset)
        return JSONResponse({"items": [public_view(r) for r in rows], "total": total, "limit": limit, "offset": offset})

    async def create_user(request: Request) -> JSONResponse:
        body = await json_body(request, required=True)
        fields = {}
        for key in ("username", "password", "role", "jurisdiction", "worker_id"):
            value = body.get(key, "" if key == "jurisdiction" else None)
            if not (value is None or isinstance(value, str)):
                raise ApiError(400, f"bad field {key!r}", "a string")
            fields[key] = value
        if not fields["username"] or not fields["password"] or not fields["role"]:
            raise ApiError(400, "username, password and role are required")
        account = Account(fields["username"], fields["password"], fields["role"], fields["jurisdiction"], fields["worker_id"])
        try:
            created = await asyncio.to_thread(auth.users.create, account, set(rt.workers))
        except ValueError as exc:
            raise ApiError(400, "bad account", str(exc)) from None
        except UserExists:
            raise ApiError(409, "username taken", account.username) from None
        await audit.record(rt.store, request, principal_of(request), "user.create", account.username, account.role)
        return JSONResponse(created, status_code=201)

    return [
        Route("/api/auth/login", login, methods=["POST"]),
        Route("/api/auth/me", me),
        Route("/api/audit", audit_log),
        Route("/api/users", list_users, methods=["GET"]),
        Route("/api/users", create_user, methods=["POST"]),
    ]
