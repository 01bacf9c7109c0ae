"""Per-grid counts of the base data at city scale: read from two small tables the database
keeps exact itself (migration 0022's triggers), not by grouping millions of records.

- `basedata_counts`, one row per grid: its addresses, buildings, households, people and
  organisations, and `overdue`: the records never checked or due before the row's `as_of`;
- `basedata_due`, per grid and day: how many records fall due that day.

Overdue depends on the day asked: `overdue(T) = overdue + #records due in [as_of, T)` (or
minus those in [T, as_of) for an earlier T). Reading a grid whose `as_of` is T reads one
row; any other day sums that grid's due-days in between, on the table's primary key. The
first read of a new day moves `as_of` forward for what it read (`roll`, best effort: a grid
an import holds is left for later), so a district reads ~1,500 rows, not 2 million records.

The triggers run in the writer's transaction (import, form, sweep): a write locks its grids'
rows (in code order) before it reads their `as_of`, and a roll takes only rows no writer
holds (SKIP LOCKED) and reads the due-days after locking them, so neither can count a
change the other has not committed. `direct_counts` is the GROUP BY over the records
themselves (what the tables must equal; the tests compare both).

Also here: the schema of 0022 (the tables join store/schema.py's `metadata`).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from command_center.store.basedata_schema import TABLES
from command_center.store.basedata_sql import COUNT_NAMES, grid_range, present
from command_center.store.queries import compile_sql, const
from command_center.store.schema import metadata

if TYPE_CHECKING:  # the records call this module for their counts: no import back at run time
    from command_center.store.basedata_records import BaseDataRecords

grid_counts = sa.Table(
    "basedata_counts",
    metadata,
    sa.Column("grid_code", sa.Text, primary_key=True),
    *(sa.Column(name, sa.Integer, nullable=False) for name in COUNT_NAMES.values()),
    sa.Column("overdue", sa.Integer, nullable=False),  # never checked, or due before as_of
    sa.Column("as_of", sa.Text, nullable=False),  # the day `overdue` was counted for (ISO)
)
due_days = sa.Table(
    "basedata_due",
    metadata,
    sa.Column("grid_code", sa.Text, primary_key=True),
    sa.Column("day", sa.Text, primary_key=True),  # a next_check_at
    sa.Column("n", sa.Integer, nullable=False),
)


def _due_between(lo: Any, hi: Any) -> sa.ScalarSelect[Any]:
    """The grid's records falling due in [lo, hi): its due-days on their primary key."""
    d, c = due_days, grid_counts
    between = sa.and_(d.c.grid_code == c.c.grid_code, d.c.day >= lo, d.c.day < hi)
    return sa.select(sa.func.coalesce(sa.func.sum(d.c.n), const(0))).where(between).scalar_subquery()


def _overdue_on() -> sa.ColumnElement[Any]:
    """overdue(T), T the bind parameter `due`: only a grid counted for another day sums days."""
    c = grid_counts.c
    day: sa.BindParameter[str] = sa.bindparam("due")
    return c.overdue + sa.case(
        (c.as_of < day, _due_between(c.as_of, day)),
        (c.as_of > day, -_due_between(day, c.as_of)),
        else_=const(0),
    )


def _in_grids(column: Any) -> sa.ColumnElement[bool]:
    return sa.and_(column >= sa.bindparam("lo"), column < sa.bindparam("hi"))


@cache
def _sql(dialect: str) -> dict[str, str]:
    c = grid_counts.c
    held = sum((c[name] for name in COUNT_NAMES.values()), start=const(0))
    read = (
        sa.select(
            c.grid_code, *(c[name] for name in COUNT_NAMES.values()), _overdue_on().label("overdue"), c.as_of
        )
        .where(_in_grids(c.grid_code), held > const(0))
        .order_by(c.grid_code)
    )
    stale = sa.and_(_in_grids(c.grid_code), c.as_of != sa.bindparam("due"))
    statements: dict[str, Any] = {"read": read, "direct": direct_counts()}
    if dialect == "postgresql":
        # Rows a writer holds are skipped: the roll never waits on an import.
        statements["lock"] = (
            sa.select(c.grid_code).where(stale).order_by(c.grid_code).with_for_update(skip_locked=True)
        )
        chosen = c.grid_code == sa.any_(sa.bindparam("grids"))
    else:
        chosen = stale  # one writer at a time: nothing to lock around
    statements["roll"] = (
        sa.update(grid_counts).where(chosen).values(overdue=_overdue_on(), as_of=sa.bindparam("due"))
    )
    return {name: compile_sql(statement, dialect) for name, statement in statements.items()}


def direct_counts() -> sa.Select[Any]:
    """The same counts grouped over the records themselves (each table on its (grid_code,
    next_check_at) index, the groups summed per grid): what the kept tables must equal."""

    parts = []
    for kind, table in TABLES.items():
        counts = [
            (sa.func.count() if other == kind else const(0)).label(name)
            for other, name in COUNT_NAMES.items()
        ]
        late = sa.or_(table.c.next_check_at.is_(None), table.c.next_check_at < sa.bindparam("due"))
        overdue = sa.func.sum(sa.case((late, const(1)), else_=const(0))).label("overdue")
        parts.append(
            sa.select(table.c.grid_code.label("grid_code"), *counts, overdue)
            .where(_in_grids(table.c.grid_code), present(table))
            .group_by(table.c.grid_code)
        )
    every = sa.union_all(*parts).subquery("per_kind")
    sums = [sa.func.sum(every.c[name]).label(name) for name in (*COUNT_NAMES.values(), "overdue")]
    return sa.select(every.c.grid_code, *sums).group_by(every.c.grid_code).order_by(every.c.grid_code)


def _params(grid_prefix: str, today: date) -> dict[str, Any]:
    return grid_range(grid_prefix) | {"due": today.isoformat()}


def _rows(rows: list[Any]) -> list[dict[str, Any]]:
    names = ("grid_code", *COUNT_NAMES.values(), "overdue")
    return [{name: (v if name == "grid_code" else int(v)) for name, v in zip(names, r[: len(names)], strict=True)}
            for r in rows]  # fmt: skip


def counts_by_grid(
    records: BaseDataRecords, grid_prefix: str, today: date | None = None
) -> list[dict[str, Any]]:
    """BaseDataRecords.counts_by_grid: [{grid_code, addresses, …, overdue}] for the grids
    under the prefix holding any record. Asked for the real today, grids counted for
    another day are rolled to it afterwards, so the next read is one row per grid."""
    on = today or date.today()
    params = _params(grid_prefix, on)
    with records.store._reading() as db:
        rows = db.execute(_sql(records.dialect)["read"], params).fetchall()
    if _is_current(on) and any(row[-1] != params["due"] for row in rows):
        roll(records, grid_prefix, on)
    return _rows(rows)


def _is_current(day: date) -> bool:
    """Is `day` today somewhere? The routes ask with the city's date (the dispatcher's zone),
    which is the machine's date or a day either side of it (zones from UTC−12 to UTC+14); any
    other day is a look back or ahead, read with the sums and never rolled to."""
    return abs((day - date.today()).days) <= 1


def roll(records: BaseDataRecords, grid_prefix: str, day: date) -> int:
    """Count the grids under the prefix for `day`: their overdue moved by the records due in
    between, `as_of` set. Grids a writer holds now are left as they are (PostgreSQL); how
    many grids were rolled."""
    sql, params = _sql(records.dialect), _params(grid_prefix, day)
    with records.store._writing() as db:
        if records.dialect != "postgresql":
            return int(db.execute(sql["roll"], params).rowcount)
        grids = [row[0] for row in db.execute(sql["lock"], params).fetchall()]
        if grids:  # a new statement: a snapshot taken after the locks, so no writer is half-seen
            db.execute(sql["roll"], params | {"grids": grids})
        return len(grids)


def direct(records: BaseDataRecords, grid_prefix: str, today: date) -> list[dict[str, Any]]:
    """counts_by_grid computed from the records themselves (tests and the bench compare)."""
    with records.store._reading() as db:
        rows = db.execute(_sql(records.dialect)["direct"], _params(grid_prefix, today)).fetchall()
    return _rows(rows)
