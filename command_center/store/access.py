"""How a store's shared methods reach the database: the three context managers each store
gives (see store/records.py), and the driver shapes they yield.

The shared methods are written once, in mixins over `StoreAccess`: `RecordStore`
(records.py: incidents, reports, users, audit, publish keys) and the registry's
(roster_records.py, camera_records.py, matter_records.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from datetime import tzinfo
from typing import Any, ClassVar, Protocol


class Rows(Protocol):
    """What a statement gives back: a sqlite3 or a psycopg cursor."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """A sqlite3 or a psycopg connection: SQL with named parameters, and them."""

    def execute(self, sql: str, params: dict[str, Any] = ..., /) -> Rows: ...


class StoreAccess(ABC):
    dialect: ClassVar[str]  # "sqlite" or "postgresql": which compiled text to run
    days_zone: tzinfo  # the city's zone: the statistics' days (stats_facts.py)

    @abstractmethod
    def _reading(self) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Connection]: ...

    @abstractmethod
    def _writing_one(self) -> AbstractContextManager[Connection]: ...
