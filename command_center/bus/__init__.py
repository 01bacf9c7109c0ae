"""Bus backends, chosen by the `bus:` config value (`memory` or a URL scheme)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from command_center.bus.base import Bus, BusUnavailable, Subscription, batches, release
from command_center.bus.memory import MemoryBus


def _redis(url: str) -> Bus:
    # Imported on use: the embedded default needs no Redis client.
    from command_center.bus.redis_streams import RedisBus

    return RedisBus(url)


_BACKENDS: dict[str, Callable[[str], Bus]] = {
    "memory": lambda _url: MemoryBus(),
    "redis": _redis,
    "rediss": _redis,
}


def register(scheme: str, factory: Callable[[str], Bus]) -> None:
    _BACKENDS[scheme] = factory


def create_bus(url: str) -> Bus:
    scheme = url.split("://", 1)[0] if "://" in url else url
    try:
        factory = _BACKENDS[scheme]
    except KeyError:
        raise ValueError(f"unknown bus {url!r}; known: {', '.join(sorted(_BACKENDS))}") from None
    return factory(url)


def redis_of(bus: object) -> tuple[Any, str] | None:
    """The Redis client and key prefix of a Redis bus, for what shares them (the hub's
    history, leader leases); None for a bus without Redis (one process)."""
    client, prefix = getattr(bus, "client", None), getattr(getattr(bus, "options", None), "prefix", None)
    if client is None or not isinstance(prefix, str) or not hasattr(client, "register_script"):
        return None
    return client, prefix


__all__ = ["Bus", "BusUnavailable", "Subscription", "MemoryBus", "batches", "create_bus", "redis_of", "register", "release"]
