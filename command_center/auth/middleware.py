"""ASGI middleware: resolve the caller's token, enforce the policy, hand the principal on.

The token comes from `Authorization: Bearer …`, else from `?token=` (what pages use
where they cannot set headers: <img src>, the websocket). The principal is put in
the request state (`principal_of(request)`); refusals are the API's JSON errors:
401 with the reason for a missing or bad token, 403 for a role that may not.
A refused websocket gets the same error as its first message, then a close with
code 4401 or 4403.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from command_center.auth.policy import Policy
from command_center.auth.principal import Principal
from command_center.auth.tokens import TokenError, TokenSigner

log = logging.getLogger(__name__)
STATE_KEY = "principal"


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


def token_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            scheme, _, credentials = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
    query = scope.get("query_string", b"").decode("latin-1")
    if "token=" in query:
        for key, value in parse_qsl(query):
            if key == "token" and value:
                return value
    return None


class AuthMiddleware:
    def __init__(self, app: ASGIApp, signer: TokenSigner, policy: Policy) -> None:
        self.app = app
        self.signer = signer
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET")
        decision, match = self.policy.decide(method, scope["path"])
        token = token_of(scope)
        principal: Principal | None = None
        refusal: tuple[int, str, Any] | None = None
        if token is not None:
            try:
                principal = self.signer.verify(token)
            except TokenError as exc:
                refusal = (401, "invalid token", str(exc))
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
            refusal = None  # a stale token does not spoil a public page
        if refusal is not None:
            await self._refuse(scope, receive, send, *refusal)
            return
        scope.setdefault("state", {})[STATE_KEY] = principal
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, status: int, error: str, detail: Any) -> None:
        headers = {"WWW-Authenticate": f'Bearer error="invalid_token", error_description="{error}"'} if status == 401 else {}
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
