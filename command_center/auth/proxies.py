"""The client's address and scheme behind reverse proxies, trusting only configured ones.

`X-Forwarded-For` is anyone's to write; it is read only when the connection comes from
an address in `server.trusted_proxies`, and then from the right: the first hop that is
not itself a trusted proxy is the client (hops further left were written by the client).
With no trusted proxies (the default) the connection's own address is the client, so a
forged header neither evades per-address throttling nor frames another address.
(uvicorn must not rewrite the address itself: it is run with proxy_headers=False.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in trusted)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: str, nets: tuple[Network, ...]) -> bool:
    ip = _address(address)
    return ip is not None and any(ip in net for net in nets)


def forwarded_client(peer: str, forwarded_for: Iterable[str], nets: tuple[Network, ...]) -> str:
    """The client address given the connection's peer and its X-Forwarded-For values."""
    if not nets or not _trusted(peer, nets):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _address(hop)
        if ip is None:
            return peer  # garbage where an address should be: the proxy's own word is all we have
        if not any(ip in net for net in nets):
            return str(ip)
    return str(_address(hops[0])) if hops else peer


def trusted_proxies(conn: HTTPConnection) -> tuple[Network, ...]:
    """This app's `server.trusted_proxies` (none for an app without a config on its state)."""
    app = conn.scope.get("app")
    config = getattr(getattr(app, "state", None), "config", None)
    return networks(tuple(config.server.trusted_proxies)) if config is not None else ()


def client_address(conn: HTTPConnection) -> str:
    peer = conn.client.host if conn.client else ""
    return forwarded_client(peer, conn.headers.getlist("x-forwarded-for"), trusted_proxies(conn))


def is_https(conn: HTTPConnection) -> bool:
    """Came over TLS: to us, or to a trusted proxy that says so (X-Forwarded-Proto)."""
    if conn.url.scheme in ("https", "wss"):
        return True
    peer = conn.client.host if conn.client else ""
    nets = trusted_proxies(conn)
    return bool(nets) and _trusted(peer, nets) and conn.headers.get("x-forwarded-proto", "").strip() == "https"
