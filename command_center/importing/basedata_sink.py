"""Where the bulk import's checked rows go (importing/basedata_fast.py): one transaction for
the whole import, committed only when the import is applied, rolled back otherwise.

- PostgreSQL: a writer thread owns the transaction's connection. Rows whose keys are new
  are COPYed straight into their table; rows whose keys are stored (the import's existence
  lookup knows which) are COPYed into a temporary twin and merged by the store's own
  INSERT … ON CONFLICT (store/basedata_records.py: the version bumped); a table empty when
  the import began is loaded without its secondary indexes and counts trigger, both built
  once after its rows (importing/basedata_load.py). The main thread checks the next chunk
  meanwhile: PostgreSQL's work on one core, the checks on the other.
  Each chunk is its own COPY statement, so the store's statement timeout still bounds
  every statement of a long import.
- SQLite: the store's executemany of INSERT … ON CONFLICT DO UPDATE, in the caller's thread.
- A dry run: nothing.

A key written meanwhile by someone else (the lookup said new, the COPY finds it) fails the
COPY: `SinkConflict`, and the import is refused whole.
"""

from __future__ import annotations

import contextlib
import io
import queue
import threading
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from command_center.importing.basedata_load import Counted, Taken, release, take
from command_center.importing.basedata_rows import FIELDS, STAMPS
from command_center.store.basedata_records import BaseDataRecords
from command_center.store.basedata_schema import KEYS, TABLES
from command_center.store.basedata_sql import upsert_changes
from command_center.store.queries import compile_sql

QUEUED = 2  # chunks checked ahead of the writer: bounded memory, and the writer never waits
Rows = list[tuple[Any, ...]]


class SinkConflict(Exception):
    """A key the import took for new was stored by another writer meanwhile."""


class Sink:
    """A dry run's sink: every chunk dropped."""

    def put(
        self, kind: str, new: Rows, stored: Rows, fresh: bool = False, counted: Counted | None = None
    ) -> None:
        """A chunk of good rows: `new` with keys not stored, `stored` with keys that are;
        `fresh`: the kind's table was empty when the import began, and `counted` its new rows
        by grid and next check."""

    def finish(self, commit: bool) -> None:
        """Commit or roll back; raises what the writing raised."""


@cache
def _sqlite_upsert(kind: str) -> str:
    """INSERT … ON CONFLICT DO UPDATE of the import's columns; every other column (a person's
    left_on) is reset as the model path's upsert resets it, the version bumped."""
    table, key = TABLES[kind], KEYS[kind]
    insert = sqlite.insert(table).values({name: sa.bindparam(name) for name in (*FIELDS[kind], *STAMPS)})
    data = [c for c in table.columns if c.name not in (key, "created_at")]
    changed = upsert_changes(table, insert.excluded, data)
    return compile_sql(insert.on_conflict_do_update(index_elements=[table.c[key]], set_=changed), "sqlite")


class SqliteSink(Sink):
    def __init__(self, records: BaseDataRecords) -> None:
        self._stack = contextlib.ExitStack()
        self._db: Any = self._stack.enter_context(records.store._writing())  # sqlite3.Connection

    def put(
        self, kind: str, new: Rows, stored: Rows, fresh: bool = False, counted: Counted | None = None
    ) -> None:
        names = (*FIELDS[kind], *STAMPS)
        self._db.executemany(
            _sqlite_upsert(kind), [dict(zip(names, row, strict=True)) for row in (*new, *stored)]
        )

    def finish(self, commit: bool) -> None:
        if commit:
            self._stack.close()
            return
        with contextlib.suppress(_RolledBack):  # the store's transaction rolls back on it
            self._stack.__exit__(_RolledBack, _RolledBack(), None)


class _RolledBack(Exception):
    """Thrown into the transaction's context to end it without committing."""


_COMMIT, _ROLLBACK = object(), object()


class PostgresSink(Sink):
    def __init__(self, records: BaseDataRecords) -> None:
        self.records = records
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUED)
        self._error: BaseException | None = None
        # The rows are put in COPY's text form here, in the checking thread, with psycopg's
        # own adapters (a cursor of an idle pooled connection lends them; nothing is sent on
        # it): the writer thread then only sends bytes, and needs the interpreter so little
        # that PostgreSQL is fed as fast as it takes them.
        self._lent = contextlib.ExitStack()
        lent: Any = self._lent.enter_context(records.store._reading())  # a psycopg connection
        self._cursor = lent.cursor()
        self._taken: Taken | None = None  # the table loaded now, if it was empty (writer thread)
        self._tried: set[str] = set()
        self._thread = threading.Thread(target=self._run, name="basedata-import-writer", daemon=True)
        self._thread.start()

    def put(
        self, kind: str, new: Rows, stored: Rows, fresh: bool = False, counted: Counted | None = None
    ) -> None:
        self._send((kind, self._text(new), self._text(stored), fresh, counted))

    def _text(self, rows: Rows) -> bytes:
        from psycopg.copy import Copy, FileWriter

        out = io.BytesIO()
        if rows:
            with Copy(self._cursor, writer=FileWriter(out)) as copy:
                for row in rows:
                    copy.write_row(row)
        return out.getvalue()

    def finish(self, commit: bool) -> None:
        self._lent.close()
        if self._thread.is_alive():
            self._send(_COMMIT if commit else _ROLLBACK, fail=commit)
            self._thread.join()
        if self._error is not None and commit:
            raise self._error

    def _send(self, item: Any, fail: bool = True) -> None:
        while True:
            if self._error is not None:  # the writer stopped: its error, not a wait forever
                if fail:
                    raise self._error
                return
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def _run(self) -> None:
        import psycopg

        try:
            with self.records.store._writing() as db:
                while (item := self._queue.get()) is not _COMMIT:
                    if item is _ROLLBACK:
                        raise _RolledBack
                    self._write(db, *item)
                self._release(db)
        except _RolledBack:
            pass
        except psycopg.errors.UniqueViolation as exc:
            self._error = SinkConflict(str(exc).splitlines()[0])
        except BaseException as exc:  # handed to the importing thread
            self._error = exc

    def _write(
        self, db: Any, kind: str, new: bytes, stored: bytes, fresh: bool, counted: Counted | None
    ) -> None:
        names = ", ".join((*FIELDS[kind], *STAMPS))  # names from the schema, not from input
        table = TABLES[kind].name
        if self._taken is not None and self._taken.kind != kind:
            self._release(db)  # the kind before is in: build what was set aside
        if fresh and kind not in self._tried:  # a first load: indexes and counts after (basedata_load)
            self._tried.add(kind)
            self._taken = take(db, kind)
        if self._taken is not None and counted:  # its trigger set aside: counted here
            self._taken.counted.update(counted)
        if new:
            with db.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                copy.write(new)
        if stored:
            stage = f"stage_{table}"
            db.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DROP")
            with db.cursor() as cur, cur.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
                copy.write(stored)
            db.execute(self.records._sql(kind)["merge"])
            db.execute(f"TRUNCATE {stage}")

    def _release(self, db: Any) -> None:
        if self._taken is not None:
            release(db, self._taken)
            self._taken = None


def open_sink(records: BaseDataRecords, dry_run: bool) -> Sink:
    if dry_run:
        return Sink()
    return PostgresSink(records) if records.dialect == "postgresql" else SqliteSink(records)
