"""Security headers on every HTTP response: a Content-Security-Policy the pages pass, no
framing, no referrer, no MIME sniffing.

The pages are plain ES modules and stylesheets served from here, with no inline script
or style, so scripts and styles are 'self' only. MapLibre draws with WebGL and runs its
workers from the module it is served as (worker-src blob: for builds that make them
from a blob); images come from here, data: (the empty favicon) and blob: (photo
previews before upload); the websocket is same-origin (ws:/wss: for browsers that do
not count it as 'self'). An external link in a citizen report is only ever an <a href>,
which the policy does not need to allow. A configured street basemap (`map.basemap`) adds its
tile server's origin to img-src and connect-src, fixed when the app is built.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def csp(extra_origins: Sequence[str] = ()) -> str:
    """The policy; `extra_origins` (a configured street basemap's tile server, checked to be
    bare origins by map_config.origin_of) may serve images and answer fetches too."""
    extra = "".join(f" {origin}" for origin in extra_origins)
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: blob:{extra}",
            "media-src 'self' blob:",
            f"connect-src 'self' ws: wss:{extra}",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


CSP = csp()
HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, extra_origins: Sequence[str] = ()) -> None:
        self.app = app
        self.headers = ((b"content-security-policy", csp(extra_origins).encode()), *HEADERS[1:])  # CSP first

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
