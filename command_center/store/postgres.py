"""PostgreSQL store: the SQLite store's behaviour on a server many processes can share.

A small pool of connections, not one behind a lock: a case transition's compare-and-set
then really races in the server (row locks, READ COMMITTED re-check of the WHERE), which
is what keeps "exactly one winner" honest across processes too.
"""

from __future__ import annotations

import contextlib
import json
import math
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import psycopg

from command_center.store import audit_chain, pg_connect
from command_center.store.base import CaseQuery, StoreUnavailable
from command_center.store.columns import (
    AUDIT_LISTED,
    CASE_CACHE,
    KEY_FIELDS,
    USER_DEFAULTS,
    USER_FIELDS,
    case_columns,
)
from command_center.store.migrate import apply_postgres
from command_center.store.pg_stats import FreshStats
from dispatch.cases import Case, TimelineEntry

POOL_SIZE = pg_connect.POOL_SIZE
AUDIT_LOCK = 0x63635F617564  # advisory lock key serialising audit appends ("cc_aud")
_TIMELINE = ("ts", "action", "actor", "from_state", "to_state", "note")


def conninfo(url: str) -> tuple[str, int]:
    """A libpq URL without our own options (timeouts and keepalives added: pg_connect.py),
    and the pool size (`?pool=N`, default 8)."""
    settings = pg_connect.parse(url)
    return settings.dsn, settings.pool


class PostgresStore:
    def __init__(self, url: str, pool_size: int | None = None) -> None:
        self.settings = pg_connect.parse(url)
        self.dsn = self.settings.dsn
        size = pool_size or self.settings.pool
        # Autocommit, with explicit transactions: `conn.transaction()` nested inside a
        # batch becomes a savepoint, exactly like the SQLite store's writes in a batch.
        first = pg_connect.connect(self.settings)
        self.migrations = apply_postgres(first)
        if audit_chain.MIGRATION in self.migrations:  # rows from before the chain: chained once, now
            with first.transaction():
                first.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
                audit_chain.chain_existing(first.execute, "%s")
        self._pool: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue()
        self._pool.put(first)
        self._spare = size - 1  # opened on demand: most runs never need them all
        self._pool_lock = threading.Lock()
        self._local = threading.local()  # the connection a thread's batch holds
        self._cache: OrderedDict[str, Case] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._closed = False
        rows = first.execute("SELECT reltuples FROM pg_class WHERE oid = 'cases'::regclass").fetchone()[0]  # type: ignore[index]
        self.stats = FreshStats(rows, self._analyze)

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        return cls(url)

    # incidents
    def add_incident(self, incident: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO incidents (id, ts, camera_id, state, doc) VALUES (%s, %s, %s, %s, %s)",
                (incident["id"], incident["ts"], incident.get("camera_id"), incident["state"], json.dumps(incident)),
            )

    def update_incident(self, incident_id: str, **fields: Any) -> dict[str, Any] | None:
        with self._write() as db:
            row = db.execute("SELECT doc FROM incidents WHERE id = %s FOR UPDATE", (incident_id,)).fetchone()
            if row is None:
                return None
            doc = json.loads(row[0]) | fields
            db.execute(
                "UPDATE incidents SET state = %s, doc = %s WHERE id = %s", (doc["state"], json.dumps(doc), incident_id)
            )
            return doc

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute("SELECT doc FROM incidents WHERE id = %s", (incident_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_incidents(
        self, limit: int = 50, offset: int = 0, state: str | None = None, grid_prefix: str | None = None
    ) -> tuple[list[dict], int]:
        clauses, args = [], []
        if state:
            clauses.append("state = %s")
            args.append(state)
        if grid_prefix:  # a jurisdiction: the grid code is in the document only
            clauses.append("(doc::jsonb ->> 'grid_code') LIKE %s")
            args.append(grid_prefix + "%")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._conn() as db:
            total = db.execute(f"SELECT count(*) FROM incidents {where}", args).fetchone()[0]  # type: ignore[index]
            rows = db.execute(
                f"SELECT doc FROM incidents {where} ORDER BY ts DESC LIMIT %s OFFSET %s", [*args, limit, offset]
            ).fetchall()
        return [json.loads(r[0]) for r in rows], total

    # citizen reports (Open311 service requests)
    def add_report(self, report: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO reports (id, created_at, case_id, doc) VALUES (%s, %s, %s, %s)",
                (report["id"], report["requested_datetime"], report.get("case_id"), json.dumps(report, ensure_ascii=False)),
            )

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute("SELECT doc FROM reports WHERE id = %s", (report_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def list_reports(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self._conn() as db:
            rows = db.execute(
                "SELECT doc FROM reports ORDER BY created_at DESC LIMIT %s OFFSET %s", (limit, offset)
            ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete_reports_before(self, ts_iso: str) -> list[str]:
        with self._write() as db:
            rows = db.execute("DELETE FROM reports WHERE created_at < %s RETURNING id", (ts_iso,)).fetchall()
        return [r[0] for r in rows]

    # users and the audit log
    def add_users(self, users: Iterable[dict[str, Any]]) -> int:
        """Insert the users not there yet (by username); how many were new."""
        rows = [tuple(u.get(k, USER_DEFAULTS.get(k)) for k in USER_FIELDS) for u in users]
        sql = (
            f"INSERT INTO users ({', '.join(USER_FIELDS)}) VALUES ({', '.join(['%s'] * len(USER_FIELDS))})"
            " ON CONFLICT (username) DO NOTHING"
        )
        added = 0
        with self._write() as db:
            for row in rows:
                added += db.execute(sql, row).rowcount
        return added

    def get_user(self, username: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute(f"SELECT {', '.join(USER_FIELDS)} FROM users WHERE username = %s", (username,)).fetchone()
        return dict(zip(USER_FIELDS, row, strict=True)) if row else None

    def get_users(self, usernames: list[str]) -> list[dict[str, Any]]:
        """The rows of those of `usernames` that exist (any order)."""
        if not usernames:
            return []
        with self._conn() as db:
            rows = db.execute(
                f"SELECT {', '.join(USER_FIELDS)} FROM users WHERE username = ANY(%s)", (list(usernames),)
            ).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows]

    def update_user(self, username: str, **fields: Any) -> None:
        unknown = set(fields) - set(USER_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown user fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = %s" for k in fields)
        with self._write() as db:
            db.execute(f"UPDATE users SET {sets} WHERE username = %s", [*fields.values(), username])

    def list_users(self, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self._conn() as db:
            total = db.execute("SELECT count(*) FROM users").fetchone()[0]  # type: ignore[index]
            rows = db.execute(
                f"SELECT {', '.join(USER_FIELDS)} FROM users ORDER BY username LIMIT %s OFFSET %s", (limit, offset)
            ).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows], total

    def add_audit(self, entry: dict[str, Any]) -> None:
        # Appends from every process serialise on one advisory lock, held to the commit:
        # the last hash read and the new row go in together, so the chain cannot fork.
        with self._write() as db:
            db.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK,))
            audit_chain.append(db.execute, "%s", entry)

    def list_audit(
        self, limit: int = 100, offset: int = 0, actor: str | None = None, action: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first."""
        clauses, args = [], []
        if actor:
            clauses.append("actor = %s")
            args.append(actor)
        if action:
            clauses.append("action = %s")
            args.append(action)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._conn() as db:
            total = db.execute(f"SELECT count(*) FROM audit {where}", args).fetchone()[0]  # type: ignore[index]
            rows = db.execute(
                f"SELECT {', '.join(AUDIT_LISTED)} FROM audit {where} ORDER BY seq DESC LIMIT %s OFFSET %s",
                [*args, limit, offset],
            ).fetchall()
        return [dict(zip(AUDIT_LISTED, r, strict=True)) for r in rows], total

    def iter_audit(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        after = -1
        while True:
            with self._conn() as db:
                rows = audit_chain.page(db.execute, "%s", after, batch)
            if not rows:
                return
            yield from rows
            after = rows[-1]["seq"]

    def scrub_audit_ips_before(self, ts_iso: str) -> int:
        # ip is outside the hash chain (audit_chain.py): blanking it breaks nothing.
        with self._write() as db:
            return db.execute("UPDATE audit SET ip = '' WHERE ts < %s AND ip <> ''", (ts_iso,)).rowcount

    def ping(self) -> None:
        with self._conn() as db:
            db.execute("SELECT 1").fetchone()

    # publish keys (command_center.auth.publish_keys)
    def add_publish_key(self, key: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute(
                f"INSERT INTO publish_keys ({', '.join(KEY_FIELDS)}) VALUES ({', '.join(['%s'] * len(KEY_FIELDS))})",
                tuple(key.get(k) for k in KEY_FIELDS),
            )

    def get_publish_key(self, key_id: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute(f"SELECT {', '.join(KEY_FIELDS)} FROM publish_keys WHERE id = %s", (key_id,)).fetchone()
        return dict(zip(KEY_FIELDS, row, strict=True)) if row else None

    def list_publish_keys(self) -> list[dict[str, Any]]:
        with self._conn() as db:
            rows = db.execute(f"SELECT {', '.join(KEY_FIELDS)} FROM publish_keys ORDER BY created_at, id").fetchall()
        return [dict(zip(KEY_FIELDS, r, strict=True)) for r in rows]

    def update_publish_key(self, key_id: str, **fields: Any) -> bool:
        """Change a key that is not revoked; False when there is none (or it is revoked)."""
        unknown = set(fields) - set(KEY_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown publish key fields: {sorted(unknown)}")
        sets = ", ".join(f"{k} = %s" for k in fields)
        with self._write() as db:
            cur = db.execute(
                f"UPDATE publish_keys SET {sets} WHERE id = %s AND revoked_at IS NULL", [*fields.values(), key_id]
            )
            return cur.rowcount == 1

    # cases
    def insert_case(self, case: Case) -> None:
        with self._write(pipelined=True) as db:
            db.execute(
                "INSERT INTO cases (state, is_open, matter_code, grid_code, assignee, created_at, deadline,"
                " version, doc, lon, lat, id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (*case_columns(case), case.id),
            )
            self._append(db, case.id, *case.timeline)
        self._remember(case)
        if getattr(self._local, "inserted", None) is None:
            self.stats.added(1)
        else:
            self._local.inserted += 1

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        with self._write(pipelined=True) as db:
            cur = db.execute(
                "UPDATE cases SET state = %s, is_open = %s, matter_code = %s, grid_code = %s, assignee = %s,"
                " created_at = %s, deadline = %s, version = %s, doc = %s, lon = %s, lat = %s"
                " WHERE id = %s AND version = %s RETURNING id",
                (*case_columns(case), case.id, case.version - 1),
            )
            if cur.fetchone() is None:  # (rowcount is not known yet in a pipeline; a fetch is)
                return False
            self._append(db, case.id, entry)
        self._remember(case)
        return True

    def get_case(self, case_id: str) -> Case | None:
        with self._snapshot() as db:
            row = db.execute("SELECT id, version, doc FROM cases WHERE id = %s", (case_id,)).fetchone()
            return None if row is None else self._cached(db, row[0], row[1], row[2])

    def open_cases_of_matter(
        self, matter_code: str, since: datetime, near: tuple[float, float, float] | None = None
    ) -> list[Case]:
        sql = "SELECT id, version FROM cases WHERE is_open = 1 AND matter_code = %s AND created_at >= %s"
        args: list[object] = [matter_code, since.isoformat()]
        if near is not None:  # a box around (lon, lat) of ± radius metres: the caller measures exactly
            lon, lat, radius_m = near
            dlat = radius_m / 111_320.0
            dlon = dlat / max(math.cos(math.radians(lat)), 0.01)
            sql += " AND lon BETWEEN %s AND %s AND lat BETWEEN %s AND %s"
            args += [lon - dlon, lon + dlon, lat - dlat, lat + dlat]
        with self._snapshot() as db:
            rows = db.execute(sql, args).fetchall()
            return [self._cached(db, case_id, version) for case_id, version in rows]

    def open_counts(self, worker_ids: Iterable[str]) -> dict[str, int]:
        ids = list(worker_ids)
        if not ids:
            return {}
        with self._conn() as db:
            rows = db.execute(
                "SELECT assignee, count(*) FROM cases WHERE is_open = 1 AND assignee = ANY(%s) GROUP BY assignee", (ids,)
            ).fetchall()
        return dict(rows)

    def open_counts_by_grid(self, prefix: str = "") -> dict[str, int]:
        """Open cases per stored grid code under a code prefix (an area's significant digits)."""
        with self._conn() as db:
            rows = db.execute(
                "SELECT grid_code, count(*) FROM cases WHERE is_open = 1 AND grid_code LIKE %s GROUP BY grid_code",
                (prefix + "%",),
            ).fetchall()
        return dict(rows)

    def list_cases(self, query: CaseQuery) -> tuple[list[Case], int]:
        where, args = query.where("%s")
        with self._snapshot() as db:
            total = db.execute(f"SELECT count(*) FROM cases {where}", args).fetchone()[0]  # type: ignore[index]
            # id last: ties in the deadline come back in the same order on every page.
            rows = db.execute(
                f"SELECT doc FROM cases {where} ORDER BY is_open DESC, deadline ASC, id LIMIT %s OFFSET %s",
                [*args, query.limit, query.offset],
            ).fetchall()
            return [self._load(db, r[0]) for r in rows], total

    def close(self) -> None:
        with self._pool_lock:
            self._closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: this thread's writes inside share one transaction and one commit.

        Each write inside is a savepoint, so a failed one undoes only itself. Nothing
        written inside is durable, or seen by others, until the block ends: acknowledge
        after it. Unlike SQLite's, other threads go on meanwhile on other connections;
        only a row the batch wrote waits for it.
        """
        if getattr(self._local, "conn", None) is not None:  # nested: part of the outer batch
            yield
            return
        with self._conn() as db:
            self._local.conn, self._local.pending, self._local.inserted = db, [], 0
            try:
                with db.transaction():
                    yield
                # Cached only once committed: a rolled-back version must never be served.
                for case in self._local.pending:
                    self._remember(case, now=True)
                inserted = self._local.inserted
            finally:
                self._local.conn = self._local.pending = self._local.inserted = None
        self.stats.added(inserted)

    # helpers
    def _analyze(self, table: str) -> None:
        with self._conn() as db:
            db.execute(f"ANALYZE {table}")  # a name from pg_stats.TABLES

    @contextlib.contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        held = getattr(self._local, "conn", None)
        if held is not None:  # inside this thread's batch: see its own uncommitted writes
            yield held
            return
        db = self._take()
        try:
            yield db
        except Exception as exc:
            lost = pg_connect.unavailable(exc, db)  # a hang or a lost server: 503, not 500
            if lost is None or lost is exc:
                raise
            raise lost from exc
        finally:
            self._give(db)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection[Any]]:
        # A case is its row plus its timeline rows, read by separate statements: under
        # READ COMMITTED a transition committing in between would pair a doc with
        # another version's timeline. Writes stay READ COMMITTED: the compare-and-set
        # must re-check its WHERE and answer False, not fail with a serialization error.
        if getattr(self._local, "conn", None) is not None:
            with self._conn() as db:
                yield db
            return
        with self._conn() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield db

    @contextlib.contextmanager
    def _write(self, pipelined: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A transaction, or a savepoint inside a batch. `pipelined`: BEGIN (SAVEPOINT),
        the statements and COMMIT (RELEASE) go out together, one round trip instead of
        one each; a result arrives only when fetched (rowcount is unknown until then)."""
        with self._conn() as db, db.pipeline() if pipelined else contextlib.nullcontext(), db.transaction():
            yield db

    def _take(self) -> psycopg.Connection[Any]:
        """A pooled connection, a new one while the pool is below its size, or after
        `pool_wait_s` StoreUnavailable: a hung server must not queue threads forever."""
        deadline = time.monotonic() + self.settings.pool_wait_s
        while True:
            with self._pool_lock:
                if self._closed:
                    raise RuntimeError("store closed")
                opened = self._pool.empty() and self._spare > 0
                if opened:
                    self._spare -= 1
            if opened:
                try:
                    return pg_connect.connect(self.settings)
                except BaseException:
                    with self._pool_lock:
                        self._spare += 1
                    raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnavailable(
                    f"no PostgreSQL connection free within {self.settings.pool_wait_s:g} s (pool_wait_s)"
                )
            try:  # in slices: a slot freed by a dropped connection is seen too
                return self._pool.get(timeout=min(left, 0.25))
            except queue.Empty:
                continue

    def _give(self, db: psycopg.Connection[Any]) -> None:
        with self._pool_lock:
            if db.broken or db.closed or self._closed:
                # A lost connection is dropped; its slot opens a fresh one when needed.
                db.close()
                self._spare += 0 if self._closed else 1
                return
        self._pool.put(db)

    def _append(self, db: psycopg.Connection[Any], case_id: str, *entries: TimelineEntry) -> None:
        with db.cursor() as cur:
            cur.executemany(
                "INSERT INTO case_timeline (case_id, ts, action, actor, from_state, to_state, note)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s)",
                [
                    (case_id, e.ts.isoformat(), e.action, e.actor, e.from_state.value, e.to_state.value, e.note)
                    for e in entries
                ],
            )

    def _remember(self, case: Case, now: bool = False) -> None:
        pending = getattr(self._local, "pending", None)
        if pending is not None and not now:
            pending.append(case)
            return
        with self._cache_lock:
            self._cache[case.id] = case
            self._cache.move_to_end(case.id)
            if len(self._cache) > CASE_CACHE:
                self._cache.popitem(last=False)

    def _cached(self, db: psycopg.Connection[Any], case_id: str, version: int, doc: str | None = None) -> Case:
        # An entry is served only at the stored version, and every change bumps it.
        with self._cache_lock:
            case = self._cache.get(case_id)
        if case is None or case.version != version:
            if doc is None:
                doc = db.execute("SELECT doc FROM cases WHERE id = %s", (case_id,)).fetchone()[0]  # type: ignore[index]
            case = self._load(db, doc)
            if getattr(self._local, "pending", None) is None:  # read inside a batch: maybe uncommitted
                self._remember(case)
        return case

    def _load(self, db: psycopg.Connection[Any], doc: str) -> Case:
        raw = json.loads(doc)
        rows = db.execute(
            "SELECT ts, action, actor, from_state, to_state, note FROM case_timeline WHERE case_id = %s ORDER BY seq",
            (raw["id"],),
        ).fetchall()
        raw["timeline"] = [dict(zip(_TIMELINE, r, strict=True)) for r in rows]
        return Case.from_dict(raw)
