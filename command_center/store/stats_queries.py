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
Series of the city or a district read the class roll-up `case_daily_class` the same way;
hotspots of the city or a district are bounded by `case_cells_monthly` (stats_hotspots.py).
Area filters are code ranges (lo <= code < hi), never LIKE: both databases use the index.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.basedata_sql import grid_range
from command_center.store.queries import compile_sql, const
from command_center.store.stats_schema import (
    case_daily,
    case_daily_class,
    case_daily_dirty,
    case_facts,
    case_monthly,
    case_monthly_dirty,
    case_monthly_street,
)

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
        whole = months_within(self.start, self.end)
        return (
            span
            | whole
            | {"alo": area["lo"], "ahi": area["hi"]}
            | {f: getattr(self, f) for f in self.filters}
        )


def months_within(start: date, end: date) -> dict[str, str]:
    """The whole months inside [start, end] (mlo … mhi, their first and last days), and the
    days before and after them (head: lo … head_hi, tail: tail_lo … hi; empty ranges when none)."""
    first = start if start.day == 1 else (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    after = end + timedelta(days=1)
    last_end = end if after.day == 1 else end.replace(day=1) - timedelta(days=1)
    if first > last_end:  # no whole month: every day is the head
        return {"mlo": "9999-12", "mhi": "0000-01", "mlo_day": "9999-12-01", "mhi_day": "0000-01-31",
                "head_hi": end.isoformat(), "tail_lo": "9999-12-31"}  # fmt: skip
    return {"mlo": f"{first:%Y-%m}", "mhi": f"{last_end:%Y-%m}", "mlo_day": first.isoformat(),
            "mhi_day": last_end.isoformat(), "head_hi": (first - timedelta(days=1)).isoformat(),
            "tail_lo": (last_end + timedelta(days=1)).isoformat()}  # fmt: skip


def _filtered(table: sa.Table, filters: tuple[str, ...]) -> list[sa.ColumnElement[bool]]:
    columns = {"source": "source", "matter_class": "matter_class", "matter": "matter_code"}
    return [table.c[columns[f]] == sa.bindparam(f) for f in filters]


def _fact_rows(area_digits: int, where: list[sa.ColumnElement[bool]]) -> sa.Select[Any]:
    f = case_facts.c
    on_time = sa.case((f.on_time == const(1), const(1)), else_=const(0))
    return sa.select(
        f.created_day.label("day"), sa.func.substr(f.grid_code, const(1), const(area_digits)).label("area"),
        f.matter_code, f.matter_class, f.source, const(1).label("cases"), f.closed, on_time.label("closed_on_time"),
        f.deferred, f.reworked, sa.func.coalesce(f.close_min, const(0)).label("sum_close_min"),
    ).where(f.counted == const(1), f.grid_code >= sa.bindparam("alo"), f.grid_code < sa.bindparam("ahi"), *where)  # fmt: skip


def rows(daily: bool, filters: tuple[str, ...], matters: bool = False, monthly: bool = False) -> sa.Subquery:
    """The rows every figure sums: (day, area, matter_code, matter_class, source, *SUMS).
    The city's and a district's clean days come from `case_daily_class` (a fifth of
    `case_daily`'s rows) unless a matter is asked for or the rows are summed per matter
    (`matters`); there its matter_code is only the class. `monthly` (sums that need no day):
    the period's whole months without a dirty day from `case_monthly` (their `day` is the month)."""
    span: tuple[sa.BindParameter[str], sa.BindParameter[str]] = (sa.bindparam("lo"), sa.bindparam("hi"))
    if not daily:
        return _fact_rows(
            15, [case_facts.c.created_day.between(*span), *_filtered(case_facts, filters)]
        ).subquery("r")
    table = case_daily if matters or "matter" in filters else case_daily_class
    dirty = sa.select(case_daily_dirty.c.day).where(case_daily_dirty.c.day.between(*span)).distinct()
    fresh = _fact_rows(DAILY_DEPTH, [case_facts.c.created_day.in_(dirty), *_filtered(case_facts, filters)])
    if not monthly:
        return sa.union_all(_summed(table, filters, [table.c.day.between(*span)], dirty), fresh).subquery("r")
    return sa.union_all(*_by_month(table, filters, dirty), fresh).subquery("r")


def _summed(
    table: sa.Table, filters: tuple[str, ...], where: list[Any], dirty: Any, join: Any = None
) -> sa.Select[Any]:
    """The clean days' summed rows of `table` (`case_daily` or its class roll-up) that `where` picks."""
    d = table.c
    code = d.matter_code if "matter_code" in d else d.matter_class.label("matter_code")
    picked = sa.select(
        d.day, d.district.label("area"), code, d.matter_class, d.source, *(d[name] for name in SUMS)
    )
    if join is not None:
        picked = picked.select_from(join)
    return picked.where(
        *where, d.day.not_in(dirty), d.district >= sa.bindparam("alo"), d.district < sa.bindparam("ahi"),
        *_filtered(table, filters),
    )  # fmt: skip


def stale_months() -> sa.Subquery:
    """The whole months of the period (mlo … mhi) the monthly roll-ups are behind on: with a
    dirty day, or marked since their days were summed (case_monthly_dirty)."""
    dirty_day = sa.select(sa.func.substr(case_daily_dirty.c.day, const(1), const(7)).label("m")).where(
        case_daily_dirty.c.day.between(sa.bindparam("mlo_day"), sa.bindparam("mhi_day"))
    )
    marked = sa.select(case_monthly_dirty.c.month.label("m")).where(
        case_monthly_dirty.c.month.between(sa.bindparam("mlo"), sa.bindparam("mhi"))
    )
    return sa.union(dirty_day, marked).subquery("dm")  # (UNION: each month once)


def _by_month(table: sa.Table, filters: tuple[str, ...], dirty: Any) -> list[sa.Select[Any]]:
    """Whole clean months from `case_monthly`; the days before and after them, and the clean
    days of whole months with a dirty day, from `table` (each a range of its key)."""
    d, m = table.c, case_monthly.c
    months = stale_months()
    whole = sa.select(
        m.month.label("day"), m.district.label("area"), m.matter_code, m.matter_class, m.source, *(m[n] for n in SUMS)
    ).where(
        m.month.between(sa.bindparam("mlo"), sa.bindparam("mhi")), m.month.not_in(sa.select(months.c.m)),
        m.district >= sa.bindparam("alo"), m.district < sa.bindparam("ahi"), *_filtered(case_monthly, filters),
    )  # fmt: skip
    in_month = sa.and_(d.day >= months.c.m.concat(const("-01")), d.day <= months.c.m.concat(const("-31")))
    return [
        whole,
        _summed(table, filters, [d.day.between(sa.bindparam("lo"), sa.bindparam("head_hi"))], dirty),
        _summed(table, filters, [d.day.between(sa.bindparam("tail_lo"), sa.bindparam("hi"))], dirty),
        _summed(table, filters, [], dirty, join=months.join(table, in_month)),
    ]


def _sums(r: sa.Subquery) -> list[sa.ColumnElement[Any]]:
    return [sa.func.coalesce(sa.func.sum(r.c[name]), const(0)).label(name) for name in SUMS]


@cache
def summary_sql(dialect: str, daily: bool, filters: tuple[str, ...]) -> str:
    r = rows(daily, filters, monthly=True)
    return compile_sql(sa.select(*_sums(r)), dialect)


@cache
def series_sql(dialect: str, daily: bool, filters: tuple[str, ...], by: str) -> str:
    """Cases per day and `by` (source, or matter class; from the facts the matter code: the
    caller maps codes to classes and buckets the days). The city or a district: the summed
    rows (rows()); a street or smaller: its facts (a street's year is a few thousand)."""
    if daily:
        r = rows(True, filters)
        key = r.c.source if by == "source" else r.c.matter_class
        statement = sa.select(r.c.day, key, sa.func.sum(r.c.cases)).group_by(r.c.day, key)
        return compile_sql(statement.order_by(r.c.day, key), dialect)
    f = case_facts.c
    key = f.source if by == "source" else f.matter_code
    where = [f.counted == const(1), f.created_day.between(sa.bindparam("lo"), sa.bindparam("hi")),
             f.grid_code >= sa.bindparam("alo"), f.grid_code < sa.bindparam("ahi"), *_filtered(case_facts, filters)]  # fmt: skip
    statement = sa.select(f.created_day, key, sa.func.count()).where(*where).group_by(f.created_day, key)
    return compile_sql(statement.order_by(f.created_day, key), dialect)


@cache
def areas_sql(dialect: str, daily: bool, filters: tuple[str, ...], digits: int) -> str:
    """The sums per child area: the first `digits` of the area codes."""
    r = rows(daily, filters, monthly=True)
    child = sa.func.substr(r.c.area, const(1), const(digits))
    return compile_sql(sa.select(child, *_sums(r)).group_by(child), dialect)


@cache
def street_areas_sql(dialect: str, filters: tuple[str, ...]) -> str:
    """The sums per street of the city or a district (no single matter asked for): whole
    clean months from `case_monthly_street`, every other day of the period from the facts."""
    m, f = case_monthly_street.c, case_facts.c
    months = stale_months()
    whole = sa.select(
        m.month.label("day"), m.street.label("area"), m.matter_class.label("matter_code"), m.matter_class, m.source,
        *(m[n] for n in SUMS),
    ).where(
        m.month.between(sa.bindparam("mlo"), sa.bindparam("mhi")), m.month.not_in(sa.select(months.c.m)),
        m.street >= sa.bindparam("alo"), m.street < sa.bindparam("ahi"), *_filtered(case_monthly_street, filters),
    )  # fmt: skip
    in_month = sa.and_(
        f.created_day >= months.c.m.concat(const("-01")), f.created_day <= months.c.m.concat(const("-31"))
    )
    span = [f.created_day.between(sa.bindparam("lo"), sa.bindparam("head_hi")),
            f.created_day.between(sa.bindparam("tail_lo"), sa.bindparam("hi"))]  # fmt: skip
    parts = sa.union_all(
        whole,
        *(_fact_rows(9, [days, *_filtered(case_facts, filters)]) for days in span),
        # the days of whole months with a dirty day
        _fact_rows(9, list(_filtered(case_facts, filters))).select_from(months.join(case_facts, in_month)),
    ).subquery("r")
    return compile_sql(sa.select(parts.c.area, *_sums(parts)).group_by(parts.c.area), dialect)


@cache
def matters_sql(dialect: str, daily: bool, filters: tuple[str, ...]) -> str:
    r = rows(daily, filters, matters=True, monthly=True)
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
