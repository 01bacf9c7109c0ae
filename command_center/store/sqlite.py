"""SQLite store: WAL, and synchronous=FULL so an acknowledged case survives a crash."""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from command_center.store import audit_chain
from command_center.store.base import CaseQuery
from command_center.store.columns import (
    AUDIT_LISTED,
    CASE_CACHE,
    KEY_FIELDS,
    USER_DEFAULTS,
    USER_FIELDS,
    case_columns,
)
from command_center.store.migrate import apply_sqlite
from dispatch.cases import Case, TimelineEntry


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
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self.migrations = self._migrate()

    def _migrate(self) -> list[str]:
        """Bring a database made by an older version up to this schema, in place."""
        applied = apply_sqlite(self._db, legacy_baseline)
        if audit_chain.MIGRATION in applied:  # rows from before the chain: chained once, now
            with self._lock, self._tx():
                audit_chain.chain_existing(self._db.execute, "?")
        return applied

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        return cls(sqlite_path(url))

    # incidents
    def add_incident(self, incident: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO incidents (id, ts, camera_id, state, doc) VALUES (?, ?, ?, ?, ?)",
                (incident["id"], incident["ts"], incident.get("camera_id"), incident["state"], json.dumps(incident)),
            )

    def update_incident(self, incident_id: str, **fields: Any) -> dict[str, Any] | None:
        with self._lock, self._tx():
            row = self._db.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                return None
            doc = json.loads(row[0]) | fields
            self._db.execute(
                "UPDATE incidents SET state = ?, doc = ? WHERE id = ?", (doc["state"], json.dumps(doc), incident_id)
            )
            return doc

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_incidents(
        self, limit: int = 50, offset: int = 0, state: str | None = None, grid_prefix: str | None = None
    ) -> tuple[list[dict], int]:
        clauses, args = [], []
        if state:
            clauses.append("state = ?")
            args.append(state)
        if grid_prefix:  # a jurisdiction: the grid code is in the document only
            clauses.append("json_extract(doc, '$.grid_code') LIKE ?")
            args.append(grid_prefix + "%")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM incidents {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT doc FROM incidents {where} ORDER BY ts DESC LIMIT ? OFFSET ?", [*args, limit, offset]
            ).fetchall()
        return [json.loads(r[0]) for r in rows], total

    # citizen reports (Open311 service requests)
    def add_report(self, report: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO reports (id, created_at, case_id, doc) VALUES (?, ?, ?, ?)",
                (report["id"], report["requested_datetime"], report.get("case_id"), json.dumps(report, ensure_ascii=False)),
            )

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute("SELECT doc FROM reports WHERE id = ?", (report_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_reports(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT doc FROM reports ORDER BY created_at DESC LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete_reports_before(self, ts_iso: str) -> list[str]:
        with self._lock, self._tx():
            rows = self._db.execute("DELETE FROM reports WHERE created_at < ? RETURNING id", (ts_iso,)).fetchall()
        return [r[0] for r in rows]

    # users and the audit log (command_center.auth, command_center.audit)
    def add_users(self, users: Iterable[dict[str, Any]]) -> int:
        """Insert the users not there yet (by username); how many were new."""
        rows = [tuple(u.get(k, USER_DEFAULTS.get(k)) for k in USER_FIELDS) for u in users]
        marks = ", ".join("?" * len(USER_FIELDS))
        with self._lock, self._tx():
            before = self._db.total_changes
            self._db.executemany(f"INSERT OR IGNORE INTO users ({', '.join(USER_FIELDS)}) VALUES ({marks})", rows)
            return self._db.total_changes - before

    def get_user(self, username: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(USER_FIELDS)} FROM users WHERE username = ?", (username,)).fetchone()
        return dict(zip(USER_FIELDS, row, strict=True)) if row else None

    def get_users(self, usernames: list[str]) -> list[dict[str, Any]]:
        """The rows of those of `usernames` that exist (any order)."""
        if not usernames:
            return []
        marks = ", ".join("?" * len(usernames))
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(USER_FIELDS)} FROM users WHERE username IN ({marks})", usernames
            ).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows]

    def update_user(self, username: str, **fields: Any) -> None:
        unknown = set(fields) - set(USER_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown user fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            self._db.execute(f"UPDATE users SET {sets} WHERE username = ?", [*fields.values(), username])

    def list_users(self, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self._lock:
            total = self._db.execute("SELECT count(*) FROM users").fetchone()[0]
            rows = self._db.execute(
                f"SELECT {', '.join(USER_FIELDS)} FROM users ORDER BY username LIMIT ? OFFSET ?", (limit, offset)
            ).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows], total

    def add_audit(self, entry: dict[str, Any]) -> None:
        # The write transaction (BEGIN IMMEDIATE) is the append lock, across processes too:
        # the last hash read and the new row go in together, so the chain cannot fork.
        with self._lock, self._tx():
            audit_chain.append(self._db.execute, "?", entry)

    def list_audit(
        self, limit: int = 100, offset: int = 0, actor: str | None = None, action: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first."""
        clauses, args = [], []
        if actor:
            clauses.append("actor = ?")
            args.append(actor)
        if action:
            clauses.append("action = ?")
            args.append(action)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM audit {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT {', '.join(AUDIT_LISTED)} FROM audit {where} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*args, limit, offset],
            ).fetchall()
        return [dict(zip(AUDIT_LISTED, r, strict=True)) for r in rows], total

    def iter_audit(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        after = -1
        while True:
            with self._lock:
                rows = audit_chain.page(self._db.execute, "?", after, batch)
            if not rows:
                return
            yield from rows
            after = rows[-1]["seq"]

    def scrub_audit_ips_before(self, ts_iso: str) -> int:
        # ip is outside the hash chain (audit_chain.py): blanking it breaks nothing.
        with self._lock, self._tx():
            return self._db.execute("UPDATE audit SET ip = '' WHERE ts < ? AND ip <> ''", (ts_iso,)).rowcount

    def ping(self) -> None:
        with self._lock:
            self._db.execute("SELECT count(*) FROM schema_migrations").fetchone()

    # publish keys (command_center.auth.publish_keys)
    def add_publish_key(self, key: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                f"INSERT INTO publish_keys ({', '.join(KEY_FIELDS)}) VALUES ({', '.join('?' * len(KEY_FIELDS))})",
                tuple(key.get(k) for k in KEY_FIELDS),
            )

    def get_publish_key(self, key_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(f"SELECT {', '.join(KEY_FIELDS)} FROM publish_keys WHERE id = ?", (key_id,)).fetchone()
        return dict(zip(KEY_FIELDS, row, strict=True)) if row else None

    def list_publish_keys(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(f"SELECT {', '.join(KEY_FIELDS)} FROM publish_keys ORDER BY created_at, id").fetchall()
        return [dict(zip(KEY_FIELDS, r, strict=True)) for r in rows]

    def update_publish_key(self, key_id: str, **fields: Any) -> bool:
        """Change a key that is not revoked; False when there is none (or it is revoked)."""
        unknown = set(fields) - set(KEY_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown publish key fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self._lock:
            cur = self._db.execute(
                f"UPDATE publish_keys SET {sets} WHERE id = ? AND revoked_at IS NULL", [*fields.values(), key_id]
            )
        return cur.rowcount == 1

    # cases
    def insert_case(self, case: Case) -> None:
        with self._lock:
            with self._tx():
                self._db.execute(
                    "INSERT INTO cases (state, is_open, matter_code, grid_code, assignee, created_at, deadline,"
                    " version, doc, lon, lat, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*case_columns(case), case.id),
                )
                self._append(case.id, *case.timeline)
            self._remember(case)  # after the commit: a failed one must not leave it cached

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        with self._lock:
            with self._tx():
                cur = self._db.execute(
                    "UPDATE cases SET state = ?, is_open = ?, matter_code = ?, grid_code = ?, assignee = ?,"
                    " created_at = ?, deadline = ?, version = ?, doc = ?, lon = ?, lat = ? WHERE id = ? AND version = ?",
                    (*case_columns(case), case.id, case.version - 1),
                )
                if cur.rowcount != 1:
                    return False
                self._append(case.id, entry)
            self._remember(case)
            return True

    def get_case(self, case_id: str) -> Case | None:
        with self._lock:
            row = self._db.execute("SELECT id, version, doc FROM cases WHERE id = ?", (case_id,)).fetchone()
            if row is None:
                return None
            return self._cached(row[0], row[1], row[2])

    def open_cases_of_matter(
        self, matter_code: str, since: datetime, near: tuple[float, float, float] | None = None
    ) -> list[Case]:
        sql = "SELECT id, version FROM cases WHERE is_open = 1 AND matter_code = ? AND created_at >= ?"
        args: list[object] = [matter_code, since.isoformat()]
        if near is not None:  # a box around (lon, lat) of ± radius metres: the caller measures exactly
            lon, lat, radius_m = near
            dlat = radius_m / 111_320.0
            dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
            sql += " AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ?"
            args += [lon - dlon, lon + dlon, lat - dlat, lat + dlat]
        with self._lock:
            # Ids and versions first: most are cached, and their docs need not be read.
            rows = self._db.execute(sql, args).fetchall()
            return [self._cached(case_id, version) for case_id, version in rows]

    def open_counts(self, worker_ids: Iterable[str]) -> dict[str, int]:
        ids = list(worker_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        with self._lock:
            rows = self._db.execute(
                f"SELECT assignee, count(*) FROM cases WHERE is_open = 1 AND assignee IN ({marks}) GROUP BY assignee",
                ids,
            ).fetchall()
        return dict(rows)

    def open_counts_by_grid(self, prefix: str = "") -> dict[str, int]:
        """Open cases per stored grid code under a code prefix (an area's significant digits)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT grid_code, count(*) FROM cases WHERE is_open = 1 AND grid_code LIKE ? GROUP BY grid_code",
                (prefix + "%",),
            ).fetchall()
        return dict(rows)

    def list_cases(self, query: CaseQuery) -> tuple[list[Case], int]:
        where, args = query.where("?")
        with self._lock:
            total = self._db.execute(f"SELECT count(*) FROM cases {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT doc FROM cases {where} ORDER BY is_open DESC, deadline ASC LIMIT ? OFFSET ?",
                [*args, query.limit, query.offset],
            ).fetchall()
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
    def _tx(self) -> _Transaction | _Savepoint:
        # In autocommit mode a `with connection` block does not open a transaction; BEGIN does.
        return _Savepoint(self._db) if self._in_batch else _Transaction(self._db)

    def _append(self, case_id: str, *entries: TimelineEntry) -> None:
        self._db.executemany(
            "INSERT INTO case_timeline (case_id, ts, action, actor, from_state, to_state, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (case_id, e.ts.isoformat(), e.action, e.actor, e.from_state.value, e.to_state.value, e.note)
                for e in entries
            ],
        )

    def _remember(self, case: Case) -> None:
        self._cache[case.id] = case
        self._cache.move_to_end(case.id)
        if len(self._cache) > CASE_CACHE:
            self._cache.popitem(last=False)

    def _cached(self, case_id: str, version: int, doc: str | None = None) -> Case:
        case = self._cache.get(case_id)
        if case is None or case.version != version:
            if doc is None:
                doc = self._db.execute("SELECT doc FROM cases WHERE id = ?", (case_id,)).fetchone()[0]
            case = self._load(doc)
            self._remember(case)
        return case

    def _load(self, doc: str) -> Case:
        raw = json.loads(doc)
        rows = self._db.execute(
            "SELECT ts, action, actor, from_state, to_state, note FROM case_timeline WHERE case_id = ? ORDER BY seq",
            (raw["id"],),
        ).fetchall()
        raw["timeline"] = [dict(zip(("ts", "action", "actor", "from_state", "to_state", "note"), r, strict=True)) for r in rows]
        return Case.from_dict(raw)


_INITIAL_TABLES = {"incidents", "cases", "case_timeline", "reports", "users", "audit"}


def sqlite_path(url: str) -> str:
    # sqlite:///relative/path.db or sqlite:////absolute/path.db
    return url.removeprefix("sqlite:///") or ":memory:"


def legacy_baseline(db: sqlite3.Connection) -> set[int]:
    """The migrations a database made before `schema_migrations` existed already has.

    0001 counts only when every one of its tables is there: it is all IF NOT EXISTS, so
    running it adds what a very old database lacks. 0002 (the location columns) must not
    run twice.
    """
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    columns = {row[1] for row in db.execute("PRAGMA table_info(cases)")}
    present = {1} if tables >= _INITIAL_TABLES else set()
    return present | ({2} if "lon" in columns else set())


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
