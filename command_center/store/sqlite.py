"""SQLite store: WAL, and synchronous=FULL so an acknowledged case survives a crash."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from command_center.store import audit_chain, queries
from command_center.store.base import CaseQuery
from command_center.store.columns import CASE_CACHE, USER_DEFAULTS, case_params, timeline_params
from command_center.store.migrate import upgrade_sqlite
from command_center.store.queries import AUDIT_LISTED, KEY_FIELDS, TIMELINE_FIELDS, USER_FIELDS
from dispatch.cases import Case, TimelineEntry

DIALECT = "sqlite"


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection guarded by a lock: callers come from worker threads. Re-entrant,
        # so that a thread holding a group commit (`batch`) can go on writing.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._in_batch = False
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
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(sqlite_path(url))

    # incidents
    def add_incident(self, incident: dict[str, Any]) -> None:
        with self._lock:
            self._run(self.sql.insert_incident, {
                "id": incident["id"], "ts": incident["ts"], "camera_id": incident.get("camera_id"),
                "state": incident["state"], "doc": json.dumps(incident),
            })  # fmt: skip

    def update_incident(self, incident_id: str, **fields: Any) -> dict[str, Any] | None:
        with self._lock, self._tx():
            row = self._run(self.sql.incident_doc, {"id": incident_id}).fetchone()
            if row is None:
                return None
            doc = json.loads(row[0]) | fields
            self._run(self.sql.update_incident, {"state": doc["state"], "doc": json.dumps(doc), "id": incident_id})
            return doc

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._run(self.sql.incident_doc, {"id": incident_id}).fetchone()
        return json.loads(row[0]) if row else None

    def list_incidents(
        self, limit: int = 50, offset: int = 0, state: str | None = None, grid_prefix: str | None = None
    ) -> tuple[list[dict], int]:
        count, page = queries.incidents_page(DIALECT, bool(state), bool(grid_prefix))
        params = {"state": state, "grid": f"{grid_prefix}%", "limit": limit, "offset": offset}
        with self._lock:
            total = self._run(count, params).fetchone()[0]
            rows = self._run(page, params).fetchall()
        return [json.loads(r[0]) for r in rows], total

    # citizen reports (Open311 service requests)
    def add_report(self, report: dict[str, Any]) -> None:
        with self._lock:
            self._run(self.sql.insert_report, {
                "id": report["id"], "created_at": report["requested_datetime"], "case_id": report.get("case_id"),
                "doc": json.dumps(report, ensure_ascii=False),
            })  # fmt: skip

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._run(self.sql.report_doc, {"id": report_id}).fetchone()
        return json.loads(row[0]) if row else None

    def list_reports(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._run(self.sql.list_reports, {"limit": limit, "offset": offset}).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete_reports_before(self, ts_iso: str) -> list[str]:
        with self._lock, self._tx():
            rows = self._run(self.sql.delete_reports_before, {"ts": ts_iso}).fetchall()
        return [r[0] for r in rows]

    # users and the audit log (command_center.auth, command_center.audit)
    def add_users(self, users: Iterable[dict[str, Any]]) -> int:
        """Insert the users not there yet (by username); how many were new."""
        rows = [{k: u.get(k, USER_DEFAULTS.get(k)) for k in USER_FIELDS} for u in users]
        with self._lock, self._tx():
            before = self._db.total_changes
            self._db.executemany(self.sql.insert_user, rows)
            return self._db.total_changes - before

    def get_user(self, username: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._run(self.sql.get_user, {"username": username}).fetchone()
        return dict(zip(USER_FIELDS, row, strict=True)) if row else None

    def get_users(self, usernames: list[str]) -> list[dict[str, Any]]:
        """The rows of those of `usernames` that exist (any order)."""
        if not usernames:
            return []
        sql = queries.users_named(DIALECT, len(usernames))
        with self._lock:
            rows = self._run(sql, queries.list_params("name", list(usernames), DIALECT)).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows]

    def update_user(self, username: str, **fields: Any) -> None:
        unknown = set(fields) - set(USER_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown user fields: {sorted(unknown)}")
        with self._lock:
            self._run(queries.update_user(DIALECT, tuple(fields)), {**fields, "key": username})

    def list_users(self, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            total = self._run(self.sql.count_users, {}).fetchone()[0]
            rows = self._run(self.sql.list_users, {"limit": limit, "offset": offset}).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows], total

    def add_audit(self, entry: dict[str, Any]) -> None:
        # The write transaction (BEGIN IMMEDIATE) is the append lock, across processes too:
        # the last hash read and the new row go in together, so the chain cannot fork.
        with self._lock, self._tx():
            audit_chain.append(self._run, self.sql, entry)

    def list_audit(
        self, limit: int = 100, offset: int = 0, actor: str | None = None, action: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first."""
        count, page = queries.audit_page_filtered(DIALECT, bool(actor), bool(action))
        params = {"actor": actor, "action": action, "limit": limit, "offset": offset}
        with self._lock:
            total = self._run(count, params).fetchone()[0]
            rows = self._run(page, params).fetchall()
        return [dict(zip(AUDIT_LISTED, r, strict=True)) for r in rows], total

    def iter_audit(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        after = -1
        while True:
            with self._lock:
                rows = audit_chain.page(self._run, self.sql, after, batch)
            if not rows:
                return
            yield from rows
            after = rows[-1]["seq"]

    def scrub_audit_ips_before(self, ts_iso: str) -> int:
        # ip is outside the hash chain (audit_chain.py): blanking it breaks nothing.
        with self._lock, self._tx():
            return self._run(self.sql.scrub_audit_ips, {"ts": ts_iso}).rowcount

    def ping(self) -> None:
        with self._lock:
            self._run(self.sql.ping, {}).fetchone()

    # publish keys (command_center.auth.publish_keys)
    def add_publish_key(self, key: dict[str, Any]) -> None:
        with self._lock:
            self._run(self.sql.insert_key, {k: key.get(k) for k in KEY_FIELDS})

    def get_publish_key(self, key_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._run(self.sql.get_key, {"id": key_id}).fetchone()
        return dict(zip(KEY_FIELDS, row, strict=True)) if row else None

    def list_publish_keys(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._run(self.sql.list_keys, {}).fetchall()
        return [dict(zip(KEY_FIELDS, r, strict=True)) for r in rows]

    def update_publish_key(self, key_id: str, **fields: Any) -> bool:
        """Change a key that is not revoked; False when there is none (or it is revoked)."""
        unknown = set(fields) - set(KEY_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown publish key fields: {sorted(unknown)}")
        with self._lock:
            cur = self._run(queries.update_key(DIALECT, tuple(fields)), {**fields, "key": key_id})
        return cur.rowcount == 1

    # cases
    def insert_case(self, case: Case) -> None:
        with self._lock:
            with self._tx():
                self._run(self.sql.insert_case, case_params(case))
                self._db.executemany(self.sql.insert_timeline, timeline_params(case.id, case.timeline))
            self._remember(case)  # after the commit: a failed one must not leave it cached

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        with self._lock:
            with self._tx():
                params = case_params(case)
                params["prior"] = case.version - 1
                if self._run(self.sql.update_case, params).fetchone() is None:
                    return False
                self._db.executemany(self.sql.insert_timeline, timeline_params(case.id, (entry,)))
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
        key, params = queries.case_filters(query)
        count, page = queries.cases_page(DIALECT, key)
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
