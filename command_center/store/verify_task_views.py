"""The reading statements of the verification tasks (store/verify_task_records.py runs
them): a page of tasks with their records' names, and the KPIs per worker or area.

A page is chosen first (filtered, ordered, LIMIT/OFFSET in a subquery) and only its rows
look up their record's name, room, address text and version: correlated lookups on the
records' keys, one per row of the page, never over an area's thousands of tasks. The KPIs
are one GROUP BY over the tasks of an area (its grid-code range).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any, Literal

import sqlalchemy as sa

from command_center.store.basedata_schema import TABLES
from command_center.store.queries import compile_sql, const
from command_center.store.verify_task_schema import verify_tasks as tasks
from dispatch.kpi import LEVEL_DIGITS

State = Literal["open", "overdue", "done"]
LABELS = ("name", "room", "address", "version")


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Which tasks: under any of `prefixes` (grid-code prefixes; "" the whole city), of one
    worker if `worker` is set, in one state."""

    prefixes: tuple[str, ...]
    state: State = "open"
    worker: str | None = None

    @property
    def shape(self) -> tuple[int, bool, State]:
        return len(self.prefixes), self.worker is not None, self.state


@dataclass(frozen=True, slots=True)
class KpiQuery:
    """KPIs grouped by `group` (worker or a level) for tasks decided in [start, end) under `prefix`."""

    group: str
    prefix: str
    start: date
    end: date
    today: date


def _where(prefixes: int, worker: bool, state: State) -> list[sa.ColumnElement[bool]]:
    ranges = [sa.and_(tasks.c.grid_code >= sa.bindparam(f"lo{i}"), tasks.c.grid_code < sa.bindparam(f"hi{i}"))
              for i in range(prefixes)]  # fmt: skip
    where = [sa.or_(*ranges) if ranges else sa.false()]
    if worker:
        where.append(tasks.c.worker_id == sa.bindparam("worker"))
    if state == "done":
        where.append(tasks.c.closed_at.is_not(None))
    else:
        where.append(tasks.c.closed_at.is_(None))
    if state == "overdue":
        where.append(tasks.c.due_on < sa.bindparam("today"))
    return where


def _order(table: Any, state: State) -> tuple[Any, ...]:
    if state == "done":
        return table.c.closed_at.desc(), table.c.id.desc()
    return table.c.due_on, table.c.id


Lookup = tuple[Any, sa.ColumnElement[bool], tuple[Any, ...]]


def _lookups(key: Any) -> dict[str, Lookup]:
    """Per kind: where its record is found and its (name, room, address text, version)."""
    a, b, h = TABLES["address"], TABLES["building"], TABLES["household"]
    o, p = TABLES["organisation"], TABLES["person"]
    building_at = b.outerjoin(a, a.c.code == b.c.address_code)
    household_at = h.outerjoin(b, b.c.code == h.c.building_code).outerjoin(a, a.c.code == b.c.address_code)
    return {
        "address": (a, a.c.code == key, (a.c.text, None, a.c.text, a.c.version)),
        "building": (building_at, b.c.code == key, (b.c.name, None, a.c.text, b.c.version)),
        "household": (household_at, h.c.id == key, (b.c.name, h.c.room, a.c.text, h.c.version)),
        "organisation": (o.outerjoin(a, a.c.code == o.c.address_code), o.c.id == key,
                         (o.c.name, None, a.c.text, o.c.version)),
        "person": (p.outerjoin(household_at, h.c.id == p.c.household_id), p.c.id == key,
                   (p.c.name, h.c.room, a.c.text, p.c.version)),
    }  # fmt: skip


def _labels(page: Any) -> list[Any]:
    """The label columns of a page's row: a CASE on its kind over the kinds' lookups, each
    a scalar subquery correlated with the row's record key."""
    lookups = _lookups(page.c.record_key)
    columns = []
    for i, label in enumerate(LABELS):
        whens = [
            (
                page.c.kind == const(kind),
                sa.select(values[i]).select_from(found).where(where).scalar_subquery(),
            )
            for kind, (found, where, values) in lookups.items()
            if values[i] is not None
        ]
        columns.append(sa.case(*whens, else_=sa.null()).label(label))
    return columns


@cache
def list_sql(dialect: str, shape: tuple[int, bool, State]) -> dict[str, str]:
    """The page and the count for one shape of query (compiled once per shape)."""
    prefixes, worker, state = shape
    where = _where(prefixes, worker, state)
    page = (
        sa.select(*tasks.columns).where(*where).order_by(*_order(tasks, state))
        .limit(sa.bindparam("limit")).offset(sa.bindparam("offset")).subquery("page")
    )  # fmt: skip
    listed = sa.select(*page.c, *_labels(page)).order_by(*_order(page, state))
    statements = {"page": listed, "count": sa.select(sa.func.count()).select_from(tasks).where(*where)}
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def _within(day: Any) -> sa.ColumnElement[bool]:
    return sa.and_(day >= sa.bindparam("start"), day < sa.bindparam("end"))


@cache
def kpi_sql(dialect: str, group: str) -> str:
    """Per worker (their assigned tasks) or per area level (the grid code's first digits),
    the tasks decided in [start, end): done on a day in it, or still open past a deadline
    in it (an open task still in time is not late yet and counts nowhere)."""
    if group == "worker":
        key: Any = tasks.c.worker_id
    else:
        key = sa.func.substr(tasks.c.grid_code, const(1), const(LEVEL_DIGITS[group]))
    done = tasks.c.closed_at.is_not(None)

    def count(condition: sa.ColumnElement[bool]) -> Any:
        return sa.func.sum(sa.case((condition, const(1)), else_=const(0)))

    statement = (
        sa.select(key.label("key"), sa.func.count(), count(done), count(tasks.c.on_time.is_(sa.true())),
                  count(sa.and_(~done, tasks.c.due_on < sa.bindparam("today"))))
        .where(tasks.c.grid_code >= sa.bindparam("lo"), tasks.c.grid_code < sa.bindparam("hi"),
               sa.or_(sa.and_(done, _within(tasks.c.closed_on)),
                      sa.and_(~done, tasks.c.due_on < sa.bindparam("today"), _within(tasks.c.due_on))),
               key.is_not(None))
        .group_by(key).order_by(key)
    )  # fmt: skip
    return compile_sql(statement, dialect)
