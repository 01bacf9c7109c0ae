"""Bus backends, chosen by the `bus:` config value (`memory` or a URL scheme)."""

from __future__ import annotations

from collections.abc import Callable

from command_center.bus.base import Bus, Subscription
from command_center.bus.memory import MemoryBus

_BACKENDS: dict[str, Callable[[str], Bus]] = {"memory": lambda _url: MemoryBus()}


def register(scheme: str, factory: Callable[[str], Bus]) -> None:
    _BACKENDS[scheme] = factory


def create_bus(url: str) -> Bus:
    scheme = url.split("://", 1)[0] if "://" in url else url
    try:
        return _BACKENDS[scheme](url)
    except KeyError:
        raise ValueError(f"unknown bus {url!r}; known: {', '.join(sorted(_BACKENDS))}") from None


__all__ = ["Bus", "Subscription", "MemoryBus", "create_bus", "register"]
