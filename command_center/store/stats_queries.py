"""The statistics' statements (docs/STATS.md), SQLAlchemy Core compiled once per dialect and
shape; store/stats_records.py runs them.

Every figure is a sum over *rows* of one shape (day, area, matter, class, source and the
counts), taken from one of two places:
- the city or a district: `case_daily` (already summed per day, district, matter and
  source) for the days that are clean, and the facts themselves for the days a case write
  marked dirty since (stats_daily.py): exact at any moment, and the city's year reads the
  summed rows, not a million facts;
- a street, community or grid: `case_facts` over the area's grid-code range (its own
  index); a street's year is a few thousand facts.
Series always read the facts' covering index (series_sql says why); so do hotspots.
Area filters are code ranges (lo <= code < hi), never LIKE: both databases use the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.basedata_sql import grid_range
from command_center.store.queries import compile_sql, const
from command_center.store.stats_schema import case_daily, case_daily_dirty, case_facts

FILTERS = ("source", "matter_class", "matter")
DAILY_DEPTH = 6  # case_daily's area: the district (the grid code's first 6 digits)
# Which areas read case_daily: the city and a district. A street's (or smaller) facts are few
# and found by their grid-code index (measured at 1,000,000 cases: a street's year 12 ms from
# the facts, 187 ms from daily rows in day order; the city's year 413 ms from daily rows of
# streets against 2,167 ms from the facts).
SUMS = ("cases", "closed", "closed_on_time", "deferred", "reworked", "sum_close_min")
HOTSPOT_MOST = 200


@dataclass(frozen=True, slots=True)
class StatsQuery:
    """Cases created on [start, end] (city days, inclusive) under the code prefix `prefix`
    (an area's significant digits), narrowed by the filters that are set."""

    start: date
    end: date
    prefix: str
    source: str | None = None
    matter_class: str | None = None
    matter: str | None = None

    @property
    def daily(self) -> bool:
        return len(self.prefix) <= DAILY_DEPTH

    @property
    def filters(self) -> tuple[str, ...]:
        return tuple(f for f in FILTERS if getattr(self, f))

    def params(self) -> dict[str, Any]:
        span = {"lo": self.start.isoformat(), "hi": self.end.isoformat()}
        area = grid_range(self.prefix)
        return span | {"alo": area["lo"], "ahi": area["hi"]} | {f: getattr(self, f) for f in self.filters}


def _filtered(table: sa.Table, filters: tuple[str, ...]) -> list[sa.ColumnElement[bool]]:
    columns = {"source": table.c.source, "matter_class": table.c.matter_class, "matter": table.c.matter_code}
    return [columns[f] == sa.bindparam(f) for f in filters]


def _fact_rows(area_digits: int, where: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    f = case_facts.c
    on_time = sa.case((f.on_time == const(1), const(1)), else_=const(0))
    return sa.select(
        f.created_day.label("day"), sa.func.substr(f.grid_code, const(1), const(area_digits)).label("area"),
        f.matter_code, f.matter_class, f.source, const(1).label("cases"), f.closed, on_time.label("closed_on_time"),
        f.deferred, f.reworked, sa.func.coalesce(f.close_min, const(0)).label("sum_close_min"),
    ).where(f.counted == const(1), f.grid_code >= sa.bindparam("alo"), f.grid_code < sa.bindparam("ahi"), *where)  # fmt: skip


def rows(daily: bool, filters: tuple[str, ...]) -> sa.Subquery:
    """The rows every figure sums: (day, area, matter_code, matter_class, source, *SUMS)."""
    span: tuple[sa.BindParameter[str], sa.BindParameter[str]] = (sa.bindparam("lo"), sa.bindparam("hi"))
    if not daily:
        return _fact_rows(
            15, [case_facts.c.created_day.between(*span), *_filtered(case_facts, filters)]
        ).subquery("r")
    d = case_daily.c
    dirty = sa.select(case_daily_dirty.c.day).where(case_daily_dirty.c.day.between(*span)).distinct()
    clean = sa.select(
        d.day, d.district.label("area"), d.matter_code, d.matter_class, d.source, *(d[name] for name in SUMS)
    ).where(
        d.day.between(*span), d.day.not_in(dirty), d.district >= sa.bindparam("alo"), d.district < sa.bindparam("ahi"),
        *_filtered(case_daily, filters),
    )  # fmt: skip
    fresh = _fact_rows(DAILY_DEPTH, [case_facts.c.created_day.in_(dirty), *_filtered(case_facts, filters)])
    return sa.union_all(clean, fresh).subquery("r")


def _sums(r: sa.Subquery) -> list[sa.ColumnElement[Any]]:
    return [sa.func.coalesce(sa.func.sum(r.c[name]), const(0)).label(name) for name in SUMS]


@cache
def summary_sql(dialect: str, daily: bool, filters: tuple[str, ...]) -> str:
    r = rows(daily, filters)
    return compile_sql(sa.select(*_sums(r)), dialect)


@cache
def series_sql(dialect: str, filters: tuple[str, ...], by: str) -> str:
    """Cases per day and `by` (source, or matter code: the caller maps codes to classes and
    buckets the days), straight from the facts: (day, source, matter) are in their covering
    index in day order, so this is one sweep. (From case_daily it measured slower: its rows
    are barely fewer than the facts at street grain, and wider.)"""
    f = case_facts.c
    key = f.source if by == "source" else f.matter_code
    where = [f.counted == const(1), f.created_day.between(sa.bindparam("lo"), sa.bindparam("hi")),
             f.grid_code >= sa.bindparam("alo"), f.grid_code < sa.bindparam("ahi"), *_filtered(case_facts, filters)]  # fmt: skip
    statement = sa.select(f.created_day, key, sa.func.count()).where(*where).group_by(f.created_day, key)
    return compile_sql(statement.order_by(f.created_day, key), dialect)


@cache
def areas_sql(dialect: str, daily: bool, filters: tuple[str, ...], digits: int) -> str:
    """The sums per child area: the first `digits` of the area codes."""
    r = rows(daily, filters)
    child = sa.func.substr(r.c.area, const(1), const(digits))
    return compile_sql(sa.select(child, *_sums(r)).group_by(child), dialect)


@cache
def matters_sql(dialect: str, daily: bool, filters: tuple[str, ...]) -> str:
    r = rows(daily, filters)
    sums = _sums(r)
    return compile_sql(
        sa.select(r.c.matter_code, sa.func.min(r.c.matter_class), *sums)
        .group_by(r.c.matter_code)
        .order_by(sums[0].desc(), r.c.matter_code),
        dialect,
    )


@cache
def hotspots_sql(dialect: str, filters: tuple[str, ...]) -> str:
    """The `most` cells with the most cases, with their cases per matter (the caller picks
    each cell's top matter): one pass over the facts (the covering index holds the cells),
    grouped per cell and matter once (a CTE used twice: materialised by both databases)."""
    f = case_facts.c
    mix = (
        sa.select(f.cell_x, f.cell_y, f.matter_code, sa.func.count().label("m"))
        .where(f.counted == const(1), f.created_day.between(sa.bindparam("lo"), sa.bindparam("hi")),
               f.grid_code >= sa.bindparam("alo"), f.grid_code < sa.bindparam("ahi"), *_filtered(case_facts, filters))
        .group_by(f.cell_x, f.cell_y, f.matter_code)
        .cte("mix")
    )  # fmt: skip
    n = sa.func.sum(mix.c.m).label("n")
    top = (
        sa.select(mix.c.cell_x, mix.c.cell_y, n).group_by(mix.c.cell_x, mix.c.cell_y)
        .order_by(n.desc(), mix.c.cell_x, mix.c.cell_y).limit(sa.bindparam("most")).offset(sa.bindparam("skip")).subquery("top")
    )  # fmt: skip
    statement = (
        sa.select(top.c.cell_x, top.c.cell_y, top.c.n, mix.c.matter_code, mix.c.m)
        .join_from(top, mix, sa.and_(mix.c.cell_x == top.c.cell_x, mix.c.cell_y == top.c.cell_y))
        .order_by(top.c.n.desc(), top.c.cell_x, top.c.cell_y, mix.c.m.desc(), mix.c.matter_code)
    )
    return compile_sql(statement, dialect)
