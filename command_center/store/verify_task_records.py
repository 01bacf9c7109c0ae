"""Verification tasks in the store (table: store/verify_task_schema.py; rules:
basedata/verify_tasks.py), written once for SQLite and PostgreSQL.

- `generate`: the sweep's step: per kind ONE `INSERT … SELECT` from the record table into
  the tasks, for every record whose next check falls by the horizon and that has no open
  task (NOT EXISTS, and the partial unique index with ON CONFLICT DO NOTHING against a
  second node). No record is loaded into Python. The grid → worker map comes from the
  city's roster as one JSON parameter, joined in SQL (SQLite's json_each, PostgreSQL's
  json_each_text), so a grid with no worker still gets its task, unassigned.
- `reassign`: open tasks follow the roster: a grid's tasks move to the worker it now has.
- `settle`: open tasks whose record was re-checked some other way (an import with a new
  check date) are closed as of that check; those whose record is gone are dropped.
- `close`: a re-check through the API closes the record's open task (api/basedata.py).
- `list` / `counts` (store/verify_task_views.py's statements): a page of tasks with their
  records' names, and the KPIs, both computed by the database.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.access import StoreAccess
from command_center.store.basedata_records import grid_range
from command_center.store.basedata_schema import KEYS, TABLES
from command_center.store.queries import compile_sql, const
from command_center.store.verify_task_schema import verify_tasks as tasks
from command_center.store.verify_task_views import KpiQuery, TaskQuery, kpi_sql, list_sql

GENERATED = ("kind", "record_key", "grid_code", "worker_id", "due_on", "opened_on", "opened_at")
TASK_FIELDS = tuple(c.name for c in tasks.columns)
LISTED = (*TASK_FIELDS, "name", "room", "address", "version")


@dataclass(frozen=True, slots=True)
class Closed:
    """A task closed by a re-check: which, by when it was due, and whether in time."""

    id: int
    due_on: date
    on_time: bool


def assignment_map(dialect: str) -> Any:
    """The grid → worker JSON object (:map) as a table of (key, value) rows, materialised
    once per statement: SQLite's json_each has no index, and joined as it is it would be
    scanned whole for every record (120,000 households × 20,000 grids took 6 minutes);
    materialised, SQLite joins it through an automatic index (0.2 s)."""
    if dialect == "postgresql":
        found = sa.func.json_each_text(sa.cast(sa.bindparam("map"), postgresql.JSON))
    else:
        found = sa.func.json_each(sa.bindparam("map"))
    pairs = found.table_valued("key", "value").alias("pairs")
    return sa.select(pairs.c.key, pairs.c.value).cte("assigned").prefix_with("MATERIALIZED")


def _insert(dialect: str) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(tasks)


def _is_open(kind: str, key: Any) -> sa.ColumnElement[bool]:
    other = tasks.alias("other")
    return sa.exists(
        sa.select(other.c.id).where(
            other.c.kind == const(kind), other.c.record_key == key, other.c.closed_at.is_(None)
        )
    )


@cache
def _kind_sql(dialect: str, kind: str) -> dict[str, str]:
    record = TABLES[kind]
    key = record.c[KEYS[kind]]
    assigned = assignment_map(dialect)
    due = sa.or_(record.c.next_check_at.is_(None), record.c.next_check_at <= sa.bindparam("horizon"))
    chosen = sa.select(
        const(kind), key, record.c.grid_code, assigned.c.value,
        sa.func.coalesce(record.c.next_check_at, sa.bindparam("default_due")),
        sa.bindparam("today"), sa.bindparam("stamp"),
    ).select_from(record.outerjoin(assigned, assigned.c.key == record.c.grid_code)).where(due, ~_is_open(kind, key))  # fmt: skip
    checked = sa.func.coalesce(record.c.verified_at, sa.bindparam("today"))
    mine = [tasks.c.kind == const(kind), tasks.c.record_key == key, tasks.c.closed_at.is_(None)]
    gone = ~sa.exists(sa.select(key).where(key == tasks.c.record_key))
    statements: dict[str, Any] = {
        "generate": _insert(dialect).from_select(GENERATED, chosen).on_conflict_do_nothing(),
        # re-checked by other means since the task opened (an import's check date), its next
        # check moved past the deadline (a longer cycle alone is no re-check: the task stays)
        "settle": sa.update(tasks)
        .where(*mine, record.c.next_check_at > tasks.c.due_on, checked >= tasks.c.opened_on)
        .values(closed_at=sa.bindparam("now"), closed_on=checked, closed_by=record.c.updated_by,
                on_time=sa.case((checked <= tasks.c.due_on, sa.true()), else_=sa.false())),
        "drop_gone": sa.delete(tasks).where(tasks.c.kind == const(kind), tasks.c.closed_at.is_(None), gone),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


@cache
def _sql(dialect: str) -> dict[str, str]:
    assigned = assignment_map(dialect)
    open_one = [
        tasks.c.kind == sa.bindparam("kind"),
        tasks.c.record_key == sa.bindparam("key"),
        tasks.c.closed_at.is_(None),
    ]
    statements: dict[str, Any] = {
        "reassign": sa.update(tasks)
        .where(tasks.c.grid_code == assigned.c.key, tasks.c.closed_at.is_(None),
               tasks.c.worker_id.is_distinct_from(assigned.c.value))
        .values(worker_id=assigned.c.value),
        "opened": sa.select(tasks.c.worker_id, sa.func.count())
        .where(tasks.c.opened_at == sa.bindparam("stamp"), tasks.c.worker_id.is_not(None))
        .group_by(tasks.c.worker_id).order_by(tasks.c.worker_id),
        "find_open": sa.select(tasks.c.id, tasks.c.due_on).where(*open_one),
        "close": sa.update(tasks)
        .where(tasks.c.id == sa.bindparam("id"), tasks.c.closed_at.is_(None))
        .values(closed_at=sa.bindparam("now"), closed_on=sa.bindparam("on"), closed_by=sa.bindparam("by"),
                on_time=sa.bindparam("on_time")),
    }  # fmt: skip
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _prefix_params(prefixes: Iterable[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for i, prefix in enumerate(prefixes):
        bounds = grid_range(prefix)
        params[f"lo{i}"], params[f"hi{i}"] = bounds["lo"], bounds["hi"]
    return params


class VerifyTaskRecords:
    """The verification tasks of one store (either backend)."""

    def __init__(self, store: StoreAccess) -> None:
        self.store = store
        self.dialect = store.dialect

    def _changed(self, db: Any, done: Any) -> int:
        """Rows the last statement changed. Python's sqlite3 gives no rowcount for a statement
        that starts with WITH (it counts only those starting INSERT, UPDATE, DELETE): SQLite's
        own changes() does."""
        if self.dialect == "sqlite":
            return int(db.execute("SELECT changes()", {}).fetchone()[0])
        return max(int(done.rowcount), 0)

    # the sweep
    def generate(
        self,
        kinds: Iterable[str],
        today: date,
        horizon: date,
        default_due: date,
        assignees: Mapping[str, str],
    ) -> tuple[str, dict[str, int]]:
        """Open the tasks due by `horizon` that are not open yet: the sweep's stamp (each
        task it opened carries it in `opened_at`) and how many it opened per kind. Each kind
        is one statement in its own transaction: a city's sweep never holds the write lock long."""
        stamp = _now()
        params = {"horizon": horizon.isoformat(), "default_due": default_due.isoformat(),
                  "today": today.isoformat(), "stamp": stamp, "map": json.dumps(dict(assignees))}  # fmt: skip
        opened: dict[str, int] = {}
        for kind in kinds:
            with self.store._writing() as db:
                opened[kind] = self._changed(
                    db, db.execute(_kind_sql(self.dialect, kind)["generate"], params)
                )
        return stamp, opened

    def reassign(self, assignees: Mapping[str, str]) -> int:
        """Open tasks of grids whose worker changed go to the grid's worker now (a grid left
        with no worker keeps its tasks where they are: someone must still hold them)."""
        with self.store._writing() as db:
            return self._changed(
                db, db.execute(_sql(self.dialect)["reassign"], {"map": json.dumps(dict(assignees))})
            )

    def settle(self, kinds: Iterable[str], today: date) -> tuple[int, int]:
        """Open tasks closed by a re-check made some other way, and open tasks of records
        no longer stored dropped: (closed, dropped)."""
        closed = dropped = 0
        for kind in kinds:
            sql = _kind_sql(self.dialect, kind)
            with self.store._writing() as db:
                closed += self._changed(
                    db, db.execute(sql["settle"], {"now": _now(), "today": today.isoformat()})
                )
                dropped += self._changed(db, db.execute(sql["drop_gone"], {}))
        return closed, dropped

    def opened_by_worker(self, stamp: str) -> builtins.list[tuple[str, int]]:
        """(worker, tasks) the sweep `stamp` opened, counted by the database."""
        with self.store._reading() as db:
            rows = db.execute(_sql(self.dialect)["opened"], {"stamp": stamp}).fetchall()
        return [(str(worker), int(n)) for worker, n in rows]

    # a re-check
    def close(self, kind: str, key: str, on: date, by: str) -> Closed | None:
        """Close the record's open task as re-checked on `on` by `by`; None when it had none."""
        sql = _sql(self.dialect)
        with self.store._writing() as db:
            found = db.execute(sql["find_open"], {"kind": kind, "key": key}).fetchone()
            if found is None:
                return None
            task_id, due_text = found
            due_on = date.fromisoformat(due_text)
            in_time = on <= due_on
            params = {"id": task_id, "now": _now(), "on": on.isoformat(), "by": by, "on_time": in_time}
            if db.execute(sql["close"], params).rowcount != 1:
                return None  # closed meanwhile (the sweep's settle): once is enough
        return Closed(int(task_id), due_on, in_time)

    # reading
    def list(
        self, query: TaskQuery, today: date, limit: int = 100, offset: int = 0
    ) -> tuple[builtins.list[dict[str, Any]], int]:
        """A page of tasks (with each record's name, room, address text and version) and how many."""
        sql = list_sql(self.dialect, query.shape)
        params: dict[str, Any] = _prefix_params(query.prefixes) | {
            "worker": query.worker,
            "today": today.isoformat(),
        }
        with self.store._reading() as db:
            found = db.execute(sql["count"], params).fetchone()
            rows = db.execute(sql["page"], params | {"limit": limit, "offset": offset}).fetchall()
        return [dict(zip(LISTED, row, strict=True)) for row in rows], int(found[0]) if found else 0

    def kpis(self, query: KpiQuery) -> builtins.list[dict[str, Any]]:
        """Per group key: the tasks decided in the range (done on a day in it, or open past a
        deadline in it), done, done on time, still open past the deadline. An open task
        still in time is not late yet: it counts nowhere."""
        params = grid_range(query.prefix) | {"start": query.start.isoformat(), "end": query.end.isoformat(),
                                             "today": query.today.isoformat()}  # fmt: skip
        with self.store._reading() as db:
            rows = db.execute(kpi_sql(self.dialect, query.group), params).fetchall()
        names = ("key", "due", "done", "on_time", "overdue")
        return [
            {n: (v if n == "key" else int(v or 0)) for n, v in zip(names, row, strict=True)} for row in rows
        ]


def verify_task_store(store: object) -> VerifyTaskRecords:
    """The verification tasks of a store (either backend)."""
    if not isinstance(store, StoreAccess):
        raise TypeError(f"{type(store).__name__} keeps no verification tasks")
    return VerifyTaskRecords(store)
