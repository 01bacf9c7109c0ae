"""SQLite store: WAL, and synchronous=FULL so an acknowledged case survives a crash."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from command_center.store import case_statements, queries
from command_center.store.base import CaseQuery
from command_center.store.columns import CASE_CACHE, case_params, timeline_params
from command_center.store.migrate import upgrade_sqlite
from command_center.store.queries import TIMELINE_FIELDS
from command_center.store.records import RecordStore
from command_center.store.stats_facts import DEFAULT_ZONE, write_facts
from command_center.store.team_records import TeamRecords
from dispatch.cases import Case, TimelineEntry
from dispatch.repository import CaseIdTaken

DIALECT = "sqlite"


class SQLiteStore(TeamRecords, RecordStore):
    """Incidents, reports, users, the audit log and publish keys: RecordStore (records.py)."""

    dialect = DIALECT

    def __init__(self, path: str | Path, days_zone: tzinfo = DEFAULT_ZONE) -> None:
        self.path = str(path)
        self.days_zone = days_zone  # the statistics' days (stats_facts.py)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: callers come from worker threads. Re-entrant,
        # so that a thread holding a group commit (`batch`) can go on writing.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._in_batch = False
        self._locked = _Locked(self._lock, self._db)
        self._cache: OrderedDict[str, Case] = OrderedDict()
        self._db.execute("PRAGMA busy_timeout=5000")
        _use_wal(self._db)
        self._db.execute("PRAGMA synchronous=FULL")
        self.sql = queries.statements(DIALECT)
        # Bring a database made by an older version up to this schema, in place (rows from
        # before the audit chain are chained by its revision, 0005).
        with self._lock:
            self.migrations = upgrade_sqlite(self._db)

    @classmethod
    def from_url(cls, url: str, days_zone: tzinfo = DEFAULT_ZONE) -> SQLiteStore:
        return cls(sqlite_path(url), days_zone)

    # cases
    def insert_case(self, case: Case) -> None:
        with self._lock:
            with self._tx():
                try:
                    self._run(self.sql.insert_case, case_params(case))
                except sqlite3.IntegrityError as exc:
                    if "cases.id" in str(exc):  # "UNIQUE constraint failed: cases.id"
                        raise CaseIdTaken(case.id) from exc
                    raise
                self._db.executemany(self.sql.insert_timeline, timeline_params(case.id, case.timeline))
                write_facts(self._db.executemany, DIALECT, (case,), self.days_zone)  # the statistics' row (stats_facts.py)
            self._remember(case)  # after the commit: a failed one must not leave it cached

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        with self._lock:
            with self._tx():
                params = case_params(case)
                params["prior"] = case.version - 1
                if self._run(self.sql.update_case, params).fetchone() is None:
                    return False
                self._db.executemany(self.sql.insert_timeline, timeline_params(case.id, (entry,)))
                write_facts(self._db.executemany, DIALECT, (case,), self.days_zone)
            self._remember(case)
            return True

    def get_case(self, case_id: str) -> Case | None:
        with self._lock:
            row = self._run(self.sql.case_row, {"id": case_id}).fetchone()
            if row is None:
                return None
            return self._cached(row[0], row[1], row[2])

    def open_cases_of_matter(
        self, matter_code: str, since: datetime, near: tuple[float, float, float] | None = None
    ) -> list[Case]:
        params: dict[str, Any] = {"matter_code": matter_code, "since": since.isoformat()}
        sql = self.sql.open_of_matter
        if near is not None:  # a box around (lon, lat) of ± radius metres: the caller measures exactly
            sql = self.sql.open_of_matter_near
            params |= queries.box(near)
        with self._lock:
            # Ids and versions first: most are cached, and their docs need not be read.
            rows = self._run(sql, params).fetchall()
            return [self._cached(case_id, version) for case_id, version in rows]

    def prefetch_open_cases(self, wanted: list[tuple[str, datetime, tuple[float, float, float]]]) -> None:
        """Nothing to do: each read is ~10 µs in this process, no round trip to save."""

    def open_counts(self, worker_ids: Iterable[str]) -> dict[str, int]:
        ids = list(worker_ids)
        if not ids:
            return {}
        sql = queries.open_counts(DIALECT, len(ids))
        with self._lock:
            rows = self._run(sql, queries.list_params("worker", ids, DIALECT)).fetchall()
        return dict(rows)

    def open_counts_by_grid(self, prefix: str = "") -> dict[str, int]:
        """Open cases per stored grid code under a code prefix (an area's significant digits)."""
        with self._lock:
            rows = self._run(self.sql.open_counts_by_grid, {"prefix": prefix + "%"}).fetchall()
        return dict(rows)

    def list_cases(self, query: CaseQuery) -> tuple[list[Case], int]:
        key, params = case_statements.case_filters(query, DIALECT)
        count, page = case_statements.cases_page(DIALECT, key)
        with self._lock:
            total = self._run(count, params).fetchone()[0]
            rows = self._run(page, params).fetchall()
            return [self._load(r[0]) for r in rows], total

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: this thread's writes inside share one transaction and one fsync.

        Each write inside is a savepoint, so a failed one undoes only itself. Nothing
        written inside is durable until the block ends: acknowledge after it, not
        before. Other threads wait for the block, so keep it short (tens of cases).
        """
        with self._lock:
            if self._in_batch:  # nested: part of the outer batch
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._in_batch = True
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                self._cache.clear()  # it may hold versions that were just rolled back
                raise
            finally:
                self._in_batch = False

    # helpers
    def _reading(self) -> _Locked:
        return self._locked

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._tx() as db:
            yield db

    # One statement needs no BEGIN: in autocommit mode it is its own transaction, and
    # inside a batch it is part of the batch's (a failed one changes nothing).
    _writing_one = _reading

    def _run(self, sql: str, params: dict[str, Any]) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def _tx(self) -> _Transaction | _Savepoint:
        # In autocommit mode a `with connection` block does not open a transaction; BEGIN does.
        return _Savepoint(self._db) if self._in_batch else _Transaction(self._db)

    def _remember(self, case: Case) -> None:
        self._cache[case.id] = case
        self._cache.move_to_end(case.id)
        if len(self._cache) > CASE_CACHE:
            self._cache.popitem(last=False)

    def _cached(self, case_id: str, version: int, doc: str | None = None) -> Case:
        case = self._cache.get(case_id)
        if case is None or case.version != version:
            if doc is None:
                doc = self._run(self.sql.case_doc, {"id": case_id}).fetchone()[0]
            case = self._load(doc)
            self._remember(case)
        return case

    def _load(self, doc: str) -> Case:
        raw = json.loads(doc)
        rows = self._run(self.sql.timeline_of, {"case_id": raw["id"]}).fetchall()
        raw["timeline"] = [dict(zip(TIMELINE_FIELDS, r, strict=True)) for r in rows]
        return Case.from_dict(raw)


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. On a new file another process opening it at the same moment may hold
    the lock the switch needs, and SQLite answers "locked" at once there, without its
    busy wait: wait for it here, as long as the busy wait would."""
    deadline = time.monotonic() + 5.0
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def sqlite_path(url: str) -> str:
    # sqlite:///relative/path.db or sqlite:////absolute/path.db
    return url.removeprefix("sqlite:///") or ":memory:"


class _Locked:
    """The connection, this thread's for the block. Not a generator context manager: a
    record read is ~6 µs, and one (contextlib's) would add a fifth to it."""

    def __init__(self, lock: threading.RLock, db: sqlite3.Connection) -> None:
        self._lock, self._db = lock, db

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        return self._db

    def __exit__(self, *_: object) -> None:
        self._lock.release()


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


class _Savepoint(_Transaction):
    """One write inside a batch: undone alone when it fails, committed with the batch."""

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("SAVEPOINT op")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type:
            self._db.execute("ROLLBACK TO op")
        self._db.execute("RELEASE op")
