"""Live views (MJPEG, WHEP) as sessions of their user: capped per user, and closed when
the user's token expires or is revoked (command_center.auth.sessions)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from command_center.api.errors import ApiError
from command_center.auth.principal import Principal
from command_center.auth.sessions import LiveSession, Sessions, TooManySessions


def open_view(
    sessions: Sessions, principal: Principal, kind: str, close: Callable[[str], Awaitable[None]]
) -> LiveSession:
    """Register a view of `kind` ("mjpeg", "whep", "whip") in `sessions` (the auth
    service's, `deps.auth(request).sessions`); 429 past the user's cap. The returned
    LiveSession's `end()` deregisters it; `close(reason)` is awaited when the token lapses."""
    try:
        return sessions.open(principal, kind, close)
    except TooManySessions as exc:
        raise ApiError(
            429,
            "too many sessions",
            {"kind": exc.kind, "limit": exc.limit, "hint": "close another live view first"},
        ) from None


def once(fn: Callable[[], object]) -> Callable[[], None]:
    """`fn`, made safe to call from every path that ends a view (it runs the first time only)."""
    done = False

    def call() -> None:
        nonlocal done
        if not done:
            done = True
            fn()

    return call
