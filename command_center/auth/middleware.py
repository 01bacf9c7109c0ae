"""ASGI middleware: resolve the caller's token, enforce the policy, hand the principal on.

The token comes from `Authorization: Bearer …`, else from the HttpOnly SameSite=Strict
cookie `cc_session` that sign-in sets, and the cookie only where a page cannot send a
header and nothing changes: GET and HEAD (<img src>, MJPEG, clip links) and the
websocket handshake, whose Origin, when sent, must be this host (a page elsewhere
cannot ride on the cookie). A token in the query string is never read: URLs end up in
logs, history and Referer headers.

A token must be signed, unexpired and still current (its account exists, is enabled
and has the token's version: auth/sessions.py). The principal is put in the request
state (`principal_of(request)`); refusals are the API's JSON errors: 401 with the
reason for a missing or bad token, 403 for a role that may not, 503 when the store
cannot say whether the token was revoked. On a public route a bad token is ignored.
A refused websocket gets the same error as its first message, then a close with code
4000 + the status (4401, 4403).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import HTTPConnection, cookie_parser
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from command_center.auth.policy import Policy
from command_center.auth.principal import Principal
from command_center.auth.sessions import Sessions, SessionStoreError
from command_center.auth.tokens import TokenError, TokenSigner

log = logging.getLogger(__name__)
STATE_KEY = "principal"
COOKIE = "cc_session"
COOKIE_METHODS = frozenset({"GET", "HEAD"})
Refusal = tuple[int, str, Any]


class NotSignedIn(Exception):
    pass


def signed_in(conn: HTTPConnection) -> Principal | None:
    """The caller if a valid token came with the request (on a public route, maybe none)."""
    return conn.scope.get("state", {}).get(STATE_KEY)


def principal_of(conn: HTTPConnection) -> Principal:
    """The caller, as the middleware resolved it; endpoints behind a rule with roles always
    have one."""
    principal = signed_in(conn)
    if principal is None:
        raise NotSignedIn("no principal: is AuthMiddleware installed and the route listed in the policy?")
    return principal


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return value.decode("latin-1")
    return None


def bearer_of(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer` header."""
    value = _header(scope, b"authorization")
    if value is None:
        return None
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


def cookie_token(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    return (cookie_parser(raw).get(COOKIE) or None) if raw else None


def token_of(scope: Scope) -> tuple[str | None, str]:
    """(token, where it came from: "header", "cookie" or "")."""
    token = bearer_of(scope)
    if token is not None:
        return token, "header"
    if scope["type"] == "websocket" or scope.get("method", "GET") in COOKIE_METHODS:
        token = cookie_token(scope)
        if token is not None:
            return token, "cookie"
    return None, ""


def same_origin(scope: Scope) -> bool:
    """A websocket handshake's Origin (when sent: browsers always do) names this host."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = _header(scope, b"host") or ""
    return bool(host) and urlsplit(origin).netloc.lower() == host.lower()


class AuthMiddleware:
    def __init__(self, app: ASGIApp, signer: TokenSigner, policy: Policy, sessions: Sessions | None = None) -> None:
        self.app = app
        self.signer = signer
        self.policy = policy
        self.sessions = sessions  # None: signature and expiry only (no revocation)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        decision, match = self.policy.decide(scope.get("method", "GET"), scope["path"])
        principal, refusal = await self._resolve(scope)
        if not decision.public:
            if refusal is None and principal is None:
                refusal = (401, "sign in required", "send Authorization: Bearer <token> from POST /api/auth/login")
            elif principal is not None and principal.role not in decision.roles:
                refusal = (403, "forbidden", {"role": principal.role, "allowed": sorted(decision.roles)})
            elif principal is not None and decision.check is not None and match is not None:
                query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
                why = decision.check(principal, match, query)
                if why is not None:
                    refusal = (403, "forbidden", why)
        elif refusal is not None:
            refusal, principal = None, None  # a stale token does not spoil a public page
        if refusal is not None:
            await self._refuse(scope, receive, send, *refusal)
            return
        scope.setdefault("state", {})[STATE_KEY] = principal
        await self.app(scope, receive, send)

    async def _resolve(self, scope: Scope) -> tuple[Principal | None, Refusal | None]:
        token, source = token_of(scope)
        if token is None:
            return None, None
        if source == "cookie" and scope["type"] == "websocket" and not same_origin(scope):
            return None, (403, "forbidden", "a websocket signed in by cookie must come from this site's pages")
        try:
            principal = self.signer.verify(token)
        except TokenError as exc:
            return None, (401, "invalid token", str(exc))
        if self.sessions is None:
            return principal, None
        try:
            why = await self.sessions.check(principal)
        except SessionStoreError as exc:
            log.warning("auth: %s", exc)
            return None, (503, "cannot check the session now", "the account store is unreachable; try again")
        if why is not None:
            return None, (401, "invalid token", why)
        return principal, None

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, error: str, detail: Any) -> None:
        headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{error}"'} if status == 401 else {}
        if status == 503:
            headers["Retry-After"] = "2"
        response = JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)
        if scope["type"] == "http":
            await response(scope, receive, send)
            return
        # An HTTP answer to the handshake would be the plain way, but a page cannot read it
        # (it sees only a failed connection) and uvicorn logs each one as an error. So the
        # socket is accepted, told why, and closed with 4000 + the status (4401, 4403).
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_json({"type": "error", "status": status, "error": error, "detail": detail})
        await websocket.close(code=4000 + status, reason=error)
