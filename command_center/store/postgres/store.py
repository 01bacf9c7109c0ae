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
from datetime import datetime, tzinfo
from typing import Any

import psycopg

from command_center.store import case_statements, queries
from command_center.store.base import CaseQuery
from command_center.store.columns import CASE_CACHE, case_params, timeline_params
from command_center.store.migrate import postgres_at_head, upgrade_postgres
from command_center.store.postgres import connect as pg_connect
from command_center.store.postgres.batch import Deferred, merge_counts
from command_center.store.postgres.connect import BoundedConnection
from command_center.store.postgres.prefetch import Prefetched, Wanted
from command_center.store.postgres.stats import FreshStats
from command_center.store.queries import TIMELINE_FIELDS
from command_center.store.records import RecordStore
from command_center.store.stats_facts import DEFAULT_ZONE, write_facts
from command_center.store.team_records import TeamRecords
from dispatch.cases import Case, TimelineEntry
from dispatch.repository import CaseIdTaken

DIALECT = "postgresql"


class PostgresStore(TeamRecords, RecordStore):
    """Incidents, reports, users, the audit log and publish keys: RecordStore (records.py)."""

    dialect = DIALECT

    def __init__(self, url: str, pool_size: int | None = None, days_zone: tzinfo = DEFAULT_ZONE) -> None:
        self.settings = pg_connect.parse(url)
        self.days_zone = days_zone  # the statistics' days (stats_facts.py)
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
    def from_url(cls, url: str, days_zone: tzinfo = DEFAULT_ZONE) -> PostgresStore:
        return cls(url, days_zone=days_zone)

    # cases
    def insert_case(self, case: Case) -> None:
        deferred: Deferred | None = getattr(self._local, "deferred", None)
        if deferred is not None:  # in a batch: written at its end (batch.py)
            deferred.add(case)
            self._local.pending.append(case)
            self._local.inserted += 1
            return
        try:
            with self._write(case=True) as db:
                db.execute(self.sql.insert_case, case_params(case))
                self._append(db, case.id, *case.timeline)
                self._facts(db, case)
        except psycopg.errors.UniqueViolation as exc:  # the primary key: the only unique column
            raise CaseIdTaken(case.id) from exc
        self._remember(case)
        self.stats.added(1)

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        with self._write(case=True) as db:
            params = case_params(case)
            params["prior"] = case.version - 1
            if db.execute(self.sql.update_case, params).fetchone() is None:
                return False  # (rowcount is not known yet in a pipeline; a fetch is)
            self._append(db, case.id, entry)
            self._facts(db, case)
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
        key, params = case_statements.case_filters(query, DIALECT)
        count, page = case_statements.cases_page(DIALECT, key)
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
                    self._local.deferred.flush(db, self.sql, self.days_zone)
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
                self._local.deferred.flush(held, self.sql, self.days_zone)
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

    # RecordStore's connections. A single write is a transaction too: inside a batch it
    # must be a savepoint, as a failed statement aborts the whole PostgreSQL transaction.
    def _reading(self) -> contextlib.AbstractContextManager[BoundedConnection]:
        return self._conn()

    def _writing(self) -> contextlib.AbstractContextManager[BoundedConnection]:
        return self._write()

    _writing_one = _writing

    def _append(self, db: BoundedConnection, case_id: str, *entries: TimelineEntry) -> None:
        with db.cursor() as cur:
            cur.executemany(self.sql.insert_timeline, timeline_params(case_id, entries))

    def _facts(self, db: BoundedConnection, case: Case) -> None:
        """The case's statistics row, in the same transaction (store/stats_facts.py)."""
        with db.cursor() as cur:
            write_facts(cur.executemany, DIALECT, (case,), self.days_zone)

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
