"""Store backends, chosen by the `store:` URL scheme."""

from __future__ import annotations

from collections.abc import Callable

from command_center.store.base import CaseQuery, Store
from command_center.store.sqlite import SQLiteStore


def _postgres(url: str) -> Store:
    # Imported on use: a SQLite deployment never loads the PostgreSQL driver.
    from command_center.store.postgres import PostgresStore

    return PostgresStore.from_url(url)


_BACKENDS: dict[str, Callable[[str], Store]] = {
    "sqlite": SQLiteStore.from_url,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def register(scheme: str, factory: Callable[[str], Store]) -> None:
    _BACKENDS[scheme] = factory


def create_store(url: str) -> Store:
    scheme = url.split(":", 1)[0]
    try:
        return _BACKENDS[scheme](url)
    except KeyError:
        raise ValueError(f"unknown store {url!r}; known schemes: {', '.join(sorted(_BACKENDS))}") from None


__all__ = ["CaseQuery", "Store", "SQLiteStore", "create_store", "register"]
