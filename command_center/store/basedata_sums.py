"""The cross-analysis's per-grid sums, kept exact by the database itself in the writers' own
transactions (migration 0032's triggers, like 0022's counts: store/basedata_counts.py), so
that the analysis of a district reads a few rows per grid instead of grouping its people.

- `basedata_area_sums`, per grid: rental households and rental buildings;
- `basedata_ages`, per grid and birth year: current people and those of them living alone;
- `basedata_alone`, per household with exactly one current person: that person's grid and
  birth year (what the triggers take back and recompute when the household changes).

`kept_sql` is the analysis over these, 0022's counts (residents, households, buildings and
overdue re-checks on the day asked) and the cases, summed per area in ONE statement: the
same figures as store/basedata_analysis.py's grouping over the records (the tests compare
both on either database), with one difference made on purpose: "60 or more" is by birth
year (born in or before this year − 60), since the kept sums know birth years, not dates;
the grouping counts the same way so that the two agree.

Also here: the schema of 0032 (the tables join store/schema.py's `metadata`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.basedata_counts import _overdue_on, grid_counts
from command_center.store.basedata_sql import COUNT_NAMES
from command_center.store.queries import compile_sql, const
from command_center.store.schema import metadata

area_sums = sa.Table(
    "basedata_area_sums",
    metadata,
    sa.Column("grid_code", sa.Text, primary_key=True),
    sa.Column("rental_households", sa.Integer, nullable=False),
    sa.Column("rental_buildings", sa.Integer, nullable=False),
)
ages = sa.Table(
    "basedata_ages",
    metadata,
    sa.Column("grid_code", sa.Text, primary_key=True),
    sa.Column("birth_year", sa.Integer, primary_key=True),
    sa.Column("people", sa.Integer, nullable=False),  # current (not moved out)
    sa.Column("alone", sa.Integer, nullable=False),  # of them, the only current person of their household
)
alone = sa.Table(
    "basedata_alone",
    metadata,
    sa.Column("household_id", sa.Text, primary_key=True),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("birth_year", sa.Integer, nullable=False),
)


def _in_range(column: Any) -> sa.ColumnElement[bool]:
    return sa.and_(column >= sa.bindparam("lo"), column < sa.bindparam("hi"))


def _area(column: Any, digits: int) -> Any:
    return column if digits >= 15 else sa.func.substr(column, const(1), const(digits))


def kept_parts(digits: int, figures: tuple[str, ...], cases_part: sa.Select[Any]) -> list[sa.Select[Any]]:
    """Each kept table's figures per area (zeros where not its own), and the cases' part as
    given (store/basedata_analysis.py's: the cases carry no kept sums). Bind parameters: lo,
    hi (the grid range), due (the day overdue is counted for), elder_year (this year − 60)."""

    def part(table: sa.Table, where: list[Any], **sums: Any) -> sa.Select[Any]:
        area = _area(table.c.grid_code, digits)
        columns = [sums.get(name, const(0)).label(name) for name in figures]
        return sa.select(area.label("area"), *columns).where(_in_range(table.c.grid_code), *where).group_by(area)

    c, s, a = grid_counts.c, area_sums.c, ages.c
    held = sum((c[name] for name in COUNT_NAMES.values()), start=const(0))
    elder = a.birth_year <= sa.bindparam("elder_year")
    return [
        part(grid_counts, [held > const(0)], residents=sa.func.sum(c.people), households=sa.func.sum(c.households),
             buildings=sa.func.sum(c.buildings), overdue=sa.func.sum(_overdue_on())),
        part(area_sums, [], rental_households=sa.func.sum(s.rental_households),
             rental_buildings=sa.func.sum(s.rental_buildings)),
        part(ages, [elder, a.people > const(0)], elderly=sa.func.sum(a.people), elderly_alone=sa.func.sum(a.alone)),
        cases_part,
    ]  # fmt: skip


@cache
def kept_sql(dialect: str, digits: int, figures: tuple[str, ...], cases_part: sa.Select[Any]) -> str:
    """One statement: every area holding a record or a case, its figures summed, by code."""
    every = sa.union_all(*kept_parts(digits, figures, cases_part)).subquery("per_table")
    sums = [sa.func.sum(every.c[name]).label(name) for name in figures]
    statement = sa.select(every.c.area, *sums).group_by(every.c.area).order_by(every.c.area)
    return compile_sql(statement, dialect)


@cache
def residents_sql(dialect: str) -> str:
    """The residents under a grid range, from the kept counts (one row per grid)."""
    c = grid_counts.c
    statement = sa.select(sa.func.coalesce(sa.func.sum(c.people), const(0))).where(_in_range(c.grid_code))
    return compile_sql(statement, dialect)
