"""PostgreSQL store: the SQLite store's behaviour on a server many processes can share.

A small pool of connections, not one behind a lock: a case transition's compare-and-set
then really races in the server (row locks, READ COMMITTED re-check of the WHERE), which
is what keeps "exactly one winner" honest across processes too.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from command_center.store import audit_chain, queries
from command_center.store.base import CaseQuery
from command_center.store.columns import CASE_CACHE, USER_DEFAULTS, case_params, timeline_params
from command_center.store.migrate import postgres_at_head, upgrade_postgres
from command_center.store.postgres import connect as pg_connect
from command_center.store.postgres.batch import Deferred, merge_counts
from command_center.store.postgres.connect import BoundedConnection
from command_center.store.postgres.prefetch import Prefetched, Wanted
from command_center.store.postgres.stats import FreshStats
from command_center.store.queries import AUDIT_LISTED, KEY_FIELDS, TIMELINE_FIELDS, USER_FIELDS
from dispatch.cases import Case, TimelineEntry

DIALECT = "postgresql"


class PostgresStore:
    def __init__(self, url: str, pool_size: int | None = None) -> None:
        self.settings = pg_connect.parse(url)
        self.dsn = self.settings.dsn
        size = pool_size or self.settings.pool
        self.sql = queries.statements(DIALECT)
        # Autocommit, with explicit transactions: `conn.transaction()` nested inside a
        # batch becomes a savepoint, exactly like the SQLite store's writes in a batch.
        first = pg_connect.connect(self.settings)
        # Migrated on a connection of its own (Alembic's); rows from before the audit
        # chain are chained by its revision, 0005.
        self.migrations = [] if postgres_at_head(first) else upgrade_postgres(self.dsn)
        self._pool = pg_connect.Pool(self.settings, first, size)
        self._local = threading.local()  # the connection a thread's batch holds
        self._cache: OrderedDict[str, Case] = OrderedDict()
        self._cache_lock = threading.Lock()
        rows = first.execute(self.sql.cases_reltuples).fetchone()[0]  # type: ignore[index]
        self.stats = FreshStats(rows, self._analyze)

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        return cls(url)

    # incidents
    def add_incident(self, incident: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute(self.sql.insert_incident, {
                "id": incident["id"], "ts": incident["ts"], "camera_id": incident.get("camera_id"),
                "state": incident["state"], "doc": json.dumps(incident),
            })  # fmt: skip

    def update_incident(self, incident_id: str, **fields: Any) -> dict[str, Any] | None:
        with self._write() as db:
            row = db.execute(self.sql.incident_doc_for_update, {"id": incident_id}).fetchone()
            if row is None:
                return None
            doc = json.loads(row[0]) | fields
            db.execute(self.sql.update_incident, {"state": doc["state"], "doc": json.dumps(doc), "id": incident_id})
            return doc

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute(self.sql.incident_doc, {"id": incident_id}).fetchone()
        return json.loads(row[0]) if row else None

    def list_incidents(
        self, limit: int = 50, offset: int = 0, state: str | None = None, grid_prefix: str | None = None
    ) -> tuple[list[dict], int]:
        count, page = queries.incidents_page(DIALECT, bool(state), bool(grid_prefix))
        params = {"state": state, "grid": f"{grid_prefix}%", "limit": limit, "offset": offset}
        with self._conn() as db:
            total = db.execute(count, params).fetchone()[0]  # type: ignore[index]
            rows = db.execute(page, params).fetchall()
        return [json.loads(r[0]) for r in rows], total

    # citizen reports (Open311 service requests)
    def add_report(self, report: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute(self.sql.insert_report, {
                "id": report["id"], "created_at": report["requested_datetime"], "case_id": report.get("case_id"),
                "doc": json.dumps(report, ensure_ascii=False),
            })  # fmt: skip

    def get_report(self, report_id: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute(self.sql.report_doc, {"id": report_id}).fetchone()
        return json.loads(row[0]) if row else None

    def list_reports(self, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        with self._conn() as db:
            rows = db.execute(self.sql.list_reports, {"limit": limit, "offset": offset}).fetchall()
        return [json.loads(r[0]) for r in rows]

    def delete_reports_before(self, ts_iso: str) -> list[str]:
        with self._write() as db:
            rows = db.execute(self.sql.delete_reports_before, {"ts": ts_iso}).fetchall()
        return [r[0] for r in rows]

    # users and the audit log
    def add_users(self, users: Iterable[dict[str, Any]]) -> int:
        """Insert the users not there yet (by username); how many were new."""
        rows = [{k: u.get(k, USER_DEFAULTS.get(k)) for k in USER_FIELDS} for u in users]
        added = 0
        with self._write() as db:
            for row in rows:
                added += db.execute(self.sql.insert_user, row).rowcount
        return added

    def get_user(self, username: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute(self.sql.get_user, {"username": username}).fetchone()
        return dict(zip(USER_FIELDS, row, strict=True)) if row else None

    def get_users(self, usernames: list[str]) -> list[dict[str, Any]]:
        """The rows of those of `usernames` that exist (any order)."""
        if not usernames:
            return []
        sql = queries.users_named(DIALECT, len(usernames))
        with self._conn() as db:
            rows = db.execute(sql, queries.list_params("name", list(usernames), DIALECT)).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows]

    def update_user(self, username: str, **fields: Any) -> None:
        unknown = set(fields) - set(USER_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown user fields: {sorted(unknown)}")
        with self._write() as db:
            db.execute(queries.update_user(DIALECT, tuple(fields)), {**fields, "key": username})

    def list_users(self, limit: int = 100, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
        with self._conn() as db:
            total = db.execute(self.sql.count_users).fetchone()[0]  # type: ignore[index]
            rows = db.execute(self.sql.list_users, {"limit": limit, "offset": offset}).fetchall()
        return [dict(zip(USER_FIELDS, r, strict=True)) for r in rows], total

    def add_audit(self, entry: dict[str, Any]) -> None:
        # Appends from every process serialise on one advisory lock, held to the commit:
        # the last hash read and the new row go in together, so the chain cannot fork.
        with self._write() as db:
            db.execute(self.sql.audit_lock)
            audit_chain.append(db.execute, self.sql, entry)

    def list_audit(
        self, limit: int = 100, offset: int = 0, actor: str | None = None, action: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Newest first."""
        count, page = queries.audit_page_filtered(DIALECT, bool(actor), bool(action))
        params = {"actor": actor, "action": action, "limit": limit, "offset": offset}
        with self._conn() as db:
            total = db.execute(count, params).fetchone()[0]  # type: ignore[index]
            rows = db.execute(page, params).fetchall()
        return [dict(zip(AUDIT_LISTED, r, strict=True)) for r in rows], total

    def iter_audit(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        after = -1
        while True:
            with self._conn() as db:
                rows = audit_chain.page(db.execute, self.sql, after, batch)
            if not rows:
                return
            yield from rows
            after = rows[-1]["seq"]

    def scrub_audit_ips_before(self, ts_iso: str) -> int:
        # ip is outside the hash chain (audit_chain.py): blanking it breaks nothing.
        with self._write() as db:
            return db.execute(self.sql.scrub_audit_ips, {"ts": ts_iso}).rowcount

    def ping(self) -> None:
        with self._conn() as db:
            db.execute(self.sql.ping).fetchone()

    # publish keys (command_center.auth.publish_keys)
    def add_publish_key(self, key: dict[str, Any]) -> None:
        with self._write() as db:
            db.execute(self.sql.insert_key, {k: key.get(k) for k in KEY_FIELDS})

    def get_publish_key(self, key_id: str) -> dict[str, Any] | None:
        with self._conn() as db:
            row = db.execute(self.sql.get_key, {"id": key_id}).fetchone()
        return dict(zip(KEY_FIELDS, row, strict=True)) if row else None

    def list_publish_keys(self) -> list[dict[str, Any]]:
        with self._conn() as db:
            rows = db.execute(self.sql.list_keys).fetchall()
        return [dict(zip(KEY_FIELDS, r, strict=True)) for r in rows]

    def update_publish_key(self, key_id: str, **fields: Any) -> bool:
        """Change a key that is not revoked; False when there is none (or it is revoked)."""
        unknown = set(fields) - set(KEY_FIELDS[1:])
        if unknown:
            raise ValueError(f"unknown publish key fields: {sorted(unknown)}")
        with self._write() as db:
            cur = db.execute(queries.update_key(DIALECT, tuple(fields)), {**fields, "key": key_id})
            return cur.rowcount == 1

    # cases
    def insert_case(self, case: Case) -> None:
        deferred: Deferred | None = getattr(self._local, "deferred", None)
        if deferred is not None:  # in a batch: written at its end (batch.py)
            deferred.add(case)
            self._local.pending.append(case)
            self._local.inserted += 1
            return
        with self._write(case=True) as db:
            db.execute(self.sql.insert_case, case_params(case))
            self._append(db, case.id, *case.timeline)
        self._remember(case)
        self.stats.added(1)

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        with self._write(case=True) as db:
            params = case_params(case)
            params["prior"] = case.version - 1
            if db.execute(self.sql.update_case, params).fetchone() is None:
                return False  # (rowcount is not known yet in a pipeline; a fetch is)
            self._append(db, case.id, entry)
        self._remember(case)
        return True

    def get_case(self, case_id: str) -> Case | None:
        with self._snapshot() as db:
            rows = db.read(self.sql.case_row, {"id": case_id})
            return self._cached(db, *rows[0]) if rows else None

    def open_cases_of_matter(
        self, matter_code: str, since: datetime, near: tuple[float, float, float] | None = None
    ) -> list[Case]:
        params: dict[str, Any] = {"matter_code": matter_code, "since": since.isoformat()}
        sql, box = self.sql.open_of_matter, None
        if near is not None:  # a box around (lon, lat) of ± radius metres: the caller measures exactly
            sql, box = self.sql.open_of_matter_near, queries.box(near)
            params |= box
        held: BoundedConnection | None = getattr(self._local, "conn", None)
        prefetched: Prefetched | None = getattr(self._local, "prefetched", None)
        if held is not None and prefetched is not None and near is not None:
            found = prefetched.answer(matter_code, since, near, self._local.pending, lambda i, v: self._cached(held, i, v))
            if found is not None:  # answered without a round trip (prefetch.py)
                return found
        if held is not None:  # in a batch: on its connection, its deferred cases merged in
            found = [self._cached(held, case_id, version) for case_id, version in held.read(sql, params)]
            return found + self._local.deferred.matching(matter_code, since, box)
        with self._snapshot() as db:
            return [self._cached(db, case_id, version) for case_id, version in db.read(sql, params)]

    def prefetch_open_cases(self, wanted: list[Wanted]) -> None:
        """In a batch: read the dedupe checks to come in one round trip (prefetch.py)."""
        if getattr(self._local, "conn", None) is not None and wanted:
            self._local.prefetched = Prefetched.read(self._local.conn, wanted)

    def open_counts(self, worker_ids: Iterable[str]) -> dict[str, int]:
        ids = list(worker_ids)
        if not ids:
            return {}
        sql, params = queries.open_counts(DIALECT, len(ids)), queries.list_params("worker", ids, DIALECT)
        held: BoundedConnection | None = getattr(self._local, "conn", None)
        if held is not None:  # in a batch: on its connection, its deferred cases merged in
            return merge_counts(dict(held.read(sql, params)), self._local.deferred.counts(ids))
        with self._conn() as db:
            return dict(db.read(sql, params))

    def open_counts_by_grid(self, prefix: str = "") -> dict[str, int]:
        """Open cases per stored grid code under a code prefix (an area's significant digits)."""
        with self._conn(cases=True) as db:
            rows = db.execute(self.sql.open_counts_by_grid, {"prefix": prefix + "%"}).fetchall()
        return dict(rows)

    def list_cases(self, query: CaseQuery) -> tuple[list[Case], int]:
        key, params = queries.case_filters(query)
        count, page = queries.cases_page(DIALECT, key)
        with self._snapshot() as db:
            total = db.execute(count, params).fetchone()[0]  # type: ignore[index]
            rows = db.execute(page, params).fetchall()
            return [self._load(db, r[0]) for r in rows], total

    def close(self) -> None:
        self._pool.close()

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Group commit: this thread's writes inside share one transaction and one commit.

        New cases are written together at the end (batch.py); every other write is a
        savepoint, so a failed one undoes only itself. Nothing written inside is durable,
        or seen by others, until the block ends: acknowledge after it. Unlike SQLite's,
        other threads go on meanwhile on other connections; only a row the batch wrote
        waits for it.
        """
        if getattr(self._local, "conn", None) is not None:  # nested: part of the outer batch
            yield
            return
        with self._conn() as db:
            self._local.conn, self._local.pending, self._local.inserted = db, [], 0
            self._local.deferred = Deferred()
            try:
                with db.transaction():
                    yield
                    self._local.deferred.flush(db, self.sql)
                # Cached only once committed: a rolled-back version must never be served.
                for case in self._local.pending:
                    self._remember(case, now=True)
                inserted = self._local.inserted
            finally:
                vars(self._local).clear()  # conn, pending, inserted, deferred, prefetched
        self.stats.added(inserted)

    def _analyze(self, table: str) -> None:
        with self._conn() as db:
            db.execute(f"ANALYZE {table}")  # a name from stats.TABLES

    @contextlib.contextmanager
    def _conn(self, cases: bool = False) -> Iterator[BoundedConnection]:
        """A pooled connection, or the batch's. `cases`: the statement reads or writes the
        case tables, so the batch's deferred cases go in first (only the intake's two
        reads merge them instead); the other tables' statements need not wait for them."""
        held = getattr(self._local, "conn", None)
        if held is not None:  # inside this thread's batch: see its own uncommitted writes
            if cases:
                self._local.deferred.flush(held, self.sql)
            yield held
            return
        db = self._pool.take()
        try:
            yield db
        except Exception as exc:
            lost = pg_connect.unavailable(exc, db)  # a hang or a lost server: 503, not 500
            if lost is None or lost is exc:
                raise
            raise lost from exc
        finally:
            self._pool.give(db)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[BoundedConnection]:
        # A case is its row plus its timeline rows, read by separate statements: under
        # READ COMMITTED a transition committing in between would pair a doc with
        # another version's timeline. Writes stay READ COMMITTED: the compare-and-set
        # must re-check its WHERE and answer False, not fail with a serialization error.
        if getattr(self._local, "conn", None) is not None:
            with self._conn(cases=True) as db:
                yield db
            return
        with self._conn() as db, db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield db

    @contextlib.contextmanager
    def _write(self, case: bool = False) -> Iterator[BoundedConnection]:
        """A transaction, or a savepoint inside a batch. `case`: a write of the case tables,
        after the batch's deferred cases, pipelined: BEGIN (SAVEPOINT), the statements and
        COMMIT (RELEASE) go out together, one round trip instead of one each; a result
        arrives only when fetched (rowcount is unknown until then)."""
        with self._conn(cases=case) as db, db.pipeline() if case else contextlib.nullcontext(), db.transaction():
            yield db

    def _append(self, db: BoundedConnection, case_id: str, *entries: TimelineEntry) -> None:
        with db.cursor() as cur:
            cur.executemany(self.sql.insert_timeline, timeline_params(case_id, entries))

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

    def _cached(self, db: BoundedConnection, case_id: str, version: int, doc: str | None = None) -> Case:
        # An entry is served only at the stored version, and every change bumps it.
        with self._cache_lock:
            case = self._cache.get(case_id)
        if case is None or case.version != version:
            if doc is None:
                doc = db.read(self.sql.case_doc, {"id": case_id})[0][0]
            case = self._load(db, doc)
            if getattr(self._local, "pending", None) is None:  # read inside a batch: maybe uncommitted
                self._remember(case)
        return case

    def _load(self, db: BoundedConnection, doc: str) -> Case:
        raw = json.loads(doc)
        rows = db.read(self.sql.timeline_of, {"case_id": raw["id"]})
        raw["timeline"] = [dict(zip(TIMELINE_FIELDS, r, strict=True)) for r in rows]
        return Case.from_dict(raw)

