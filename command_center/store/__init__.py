"""Store backends, chosen by the `store:` URL scheme."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

from command_center.store.base import CaseQuery, Store
from command_center.store.sqlite import SQLiteStore
from command_center.store.stats_facts import DEFAULT_ZONE


def _postgres(url: str, days_zone: tzinfo) -> Store:
    # Imported on use: a SQLite deployment never loads the PostgreSQL driver.
    from command_center.store.postgres import PostgresStore

    return PostgresStore.from_url(url, days_zone)


# A backend's factory: (the URL, the zone of the city's days for the statistics) → a store.
_BACKENDS: dict[str, Callable[[str, tzinfo], Store]] = {
    "sqlite": SQLiteStore.from_url,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def register(scheme: str, factory: Callable[[str, tzinfo], Store]) -> None:
    _BACKENDS[scheme] = factory


def create_store(url: str, days_zone: tzinfo = DEFAULT_ZONE) -> Store:
    """The store the URL names; `days_zone`: the city's, whose days the statistics count."""
    scheme = url.split(":", 1)[0]
    try:
        factory = _BACKENDS[scheme]
    except KeyError:
        raise ValueError(f"unknown store {url!r}; known schemes: {', '.join(sorted(_BACKENDS))}") from None
    return factory(url, days_zone)


__all__ = ["CaseQuery", "Store", "SQLiteStore", "create_store", "register"]
