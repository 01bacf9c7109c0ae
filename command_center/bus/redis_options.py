"""The Redis Streams bus's settings, read from its URL: `redis://HOST:PORT/DB?prefix=cc&maxlen=...`.

Kept apart from the bus so that config validation can check a URL without opening a
connection. Our own keys are taken out of the query; the rest go to redis-py as its
own URL options (timeouts, pool size), and anything else is an error, not ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SCHEMES = ("redis", "rediss")
# redis-py's own URL options, passed through untouched.
_CLIENT_KEYS = frozenset(
    {
        "socket_timeout",
        "socket_connect_timeout",
        "socket_keepalive",
        "health_check_interval",
        "max_connections",
        "ssl_check_hostname",
        "ssl_cert_reqs",
        "ssl_ca_certs",
    }
)
DEFAULT_BLOCK_MS = 1000
_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class RedisBusOptions:
    url: str = field(repr=False)  # what redis-py connects to (our keys removed); may hold a password
    prefix: str = "cc"  # keys are {prefix}:stream:{topic}
    maxlen: int = 100_000  # per stream, approximate (XADD MAXLEN ~)
    buffer: int = 10_000  # publishes held in memory while Redis is unreachable
    batch: int = 64  # entries read (or claimed) per call
    block_ms: int = DEFAULT_BLOCK_MS  # longest wait of one read; also how soon a close is noticed
    reclaim_idle_s: float = 30.0  # a pending entry idle this long is taken over (XAUTOCLAIM)
    reclaim_every_s: float = 5.0
    # Subscriber names that every process must see in full (one group per process);
    # any other name is a group shared by its processes, each event to one of them.
    # camera-checks: a verification request must reach whichever process holds the camera.
    fanout: frozenset[str] = field(default_factory=lambda: frozenset({"hub", "registry", "camera-checks"}))
    start: str = "0"  # where a new shared group begins: "0" (all kept) or "$" (new only)
    stale_s: float = 3600.0  # consumers and fan-out groups quiet this long are removed
    backoff_max_s: float = 5.0


def redacted(url: str) -> str:
    """The URL fit for logs and errors: without its password."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit((parts.scheme, f"{user}***@{host}", parts.path, parts.query, parts.fragment))


def parse_redis_url(url: str) -> RedisBusOptions:
    """The options in `url`, or ValueError saying what is wrong with it."""
    shown = redacted(url) if "@" in url else url
    try:
        return _parse(url, shown)
    except ValueError as exc:
        if "@" in url:  # urlsplit's own messages may quote the netloc
            raise ValueError(str(exc).replace(url, shown)) from None
        raise


def _parse(url: str, shown: str) -> RedisBusOptions:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a non-numeric or out-of-range port
    except ValueError as exc:
        raise ValueError(f"malformed redis URL {shown!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"expected redis://HOST:PORT/DB or rediss://..., got {shown!r}")
    if not parts.hostname:
        raise ValueError(f"redis URL {shown!r} has no host")
    if port == 0:
        raise ValueError(f"redis URL {shown!r} has port 0")
    db = parts.path.lstrip("/")
    if db and not db.isdigit():
        raise ValueError(f"redis URL {shown!r}: the path must be a database number, got {db!r}")

    ours: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in _OURS:
            ours[key] = value
        elif key in _CLIENT_KEYS:
            passed.append((key, value))
        else:
            known = ", ".join(sorted({*_OURS, *_CLIENT_KEYS}))
            raise ValueError(f"redis URL {shown!r}: unknown option {key!r}; known: {known}")
    kwargs: dict[str, object] = {}
    for key, value in ours.items():
        try:
            kwargs[key] = _OURS[key](value)
        except ValueError as exc:
            raise ValueError(f"redis URL {shown!r}: option {key}={value!r}: {exc}") from None
    block_s = int(ours.get("block_ms", DEFAULT_BLOCK_MS)) / 1000
    timeout = dict(passed).get("socket_timeout")
    # A blocking read that outlasts the socket's timeout would look like an outage.
    if timeout is not None and float(timeout) <= block_s:
        raise ValueError(f"redis URL {shown!r}: socket_timeout must be longer than block_ms ({block_s:g} s)")
    client_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(passed), ""))
    return RedisBusOptions(url=client_url, **kwargs)  # type: ignore[arg-type]


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("must be at least 1")
    return number


def _seconds(value: str) -> float:
    number = float(value)
    if not number >= 0:  # also rejects NaN
        raise ValueError("must be zero or more seconds")
    return number


def _prefix(value: str) -> str:
    if not _PREFIX.match(value):
        raise ValueError("letters, digits and _.:- only, 1 to 64 of them")
    return value


def _names(value: str) -> frozenset[str]:
    return frozenset(n.strip() for n in value.split(",") if n.strip())


def _start(value: str) -> str:
    if value not in ("0", "$"):
        raise ValueError("'0' (everything the stream holds) or '$' (only what comes next)")
    return value


_OURS = {
    "prefix": _prefix,
    "maxlen": _positive_int,
    "buffer": _positive_int,
    "batch": _positive_int,
    "block_ms": _positive_int,
    "reclaim_idle_s": _seconds,
    "reclaim_every_s": _seconds,
    "fanout": _names,
    "start": _start,
    "stale_s": _seconds,
    "backoff_max_s": _seconds,
}
