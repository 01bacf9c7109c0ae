"""The attribution of budget lines to matters (docs/COSTS.md), as SQLAlchemy Core compiled
once per dialect; store/cost_records.py runs it. Every sum is the database's.

One month M, one area X (its code prefix, the range alo <= code < ahi), and a scope S (the
widest area with a line that reaches X: X's own prefix, or an ancestor's):

- `units`: the work done in S in M, one row per piece: a case (case_facts: counted, created
  in M) with its handling minutes and source; a patrol check-in (patrol_checkins) and a care
  visit (care_visits, its membership's grid) with their standard minutes, as the matters
  `patrol` and `care`;
- `groups`: the units summed per grid and matter: minutes, cases, video and IoT cases;
- `lines`: M's lines that reach X (an ancestor's or X's own, or one inside X), each with its
  pool (lines.POOLS): `work` weighs a group by its minutes, `sensing` by its video + IoT
  cases, `video` and `iot` by that source's cases;
- `amounts` and `weights`: the lines summed per prefix, category and pool, and each (prefix,
  pool)'s weight over all the work under the prefix (which may be wider than X);
- `rates` = amount ÷ weight; a group's share = rate × its weight, for every prefix of its
  grid code that has lines; the shares inside X are summed per child area, matter and
  category. A line with no weight at all (no work in its area that month) stays
  unattributed, on its own area.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.costs.lines import POOLS
from command_center.store.basedata_counts import grid_counts
from command_center.store.care_schema import care_memberships, care_visits
from command_center.store.cost_schema import cost_budget_lines
from command_center.store.patrol_schema import patrol_checkins
from command_center.store.queries import compile_sql, const
from command_center.store.stats_schema import case_facts

# Work minutes (docs/COSTS.md). A case's own minutes are accept → close, capped at one
# working day (a case left accepted over a weekend was not worked all that time); a case
# without both (open, or closed without an accept) counts the default. A check-in and a
# visit record no duration: each counts its standard time.
CASE_DEFAULT_MIN = 30
CASE_MOST_MIN = 480
PATROL_MIN = 20
VISIT_MIN = 30
SENSED = ("video", "iot")  # found by the cameras and sensors before anyone reported it
WORKER_FOUND = ("worker", "patrol")  # found by a grid worker on their rounds
LEVEL_DIGITS = (4, 6, 9, 12, 15)  # dispatch.city.codes: city, district, street, community, grid


def _in(column: Any, lo: str, hi: str) -> sa.ColumnElement[bool]:
    return sa.and_(column >= sa.bindparam(lo), column < sa.bindparam(hi))


def _case_minutes() -> sa.ColumnElement[Any]:
    f = case_facts.c
    span = f.close_min - f.accept_min
    measured = sa.and_(
        f.closed == const(1), f.accept_min.is_not(None), f.close_min.is_not(None), span > const(0)
    )
    capped = sa.case((span > const(CASE_MOST_MIN), const(CASE_MOST_MIN)), else_=span)
    return sa.case((measured, capped), else_=const(CASE_DEFAULT_MIN))


def _units(by_day: bool) -> sa.CTE:
    f, p, v, m = case_facts.c, patrol_checkins.c, care_visits.c, care_memberships.c
    # A city's or a district's month is read by day (case_facts_day), a smaller area by its
    # grid codes (case_facts_grid); SQLite, without statistics, would take the grid range
    # for both: `grid_code || ''` is no indexed column, so it cannot.
    grid = f.grid_code.concat(const("")) if by_day else f.grid_code
    cases = sa.select(
        f.grid_code, f.matter_code, f.source, _case_minutes().label("minutes"), const(1).label("is_case")
    ).where(f.counted == const(1), _in(f.created_day, "dlo", "dhi"), _in(grid, "slo", "shi"))
    patrols = sa.select(p.grid_code, const("patrol"), const("patrol"), const(PATROL_MIN), const(0)).where(
        _in(p.at, "dlo", "dhi"), _in(p.grid_code, "slo", "shi")
    )
    visits = (
        sa.select(m.grid_code, const("care"), const("care"), const(VISIT_MIN), const(0))
        .join_from(care_visits, care_memberships, m.id == v.membership_id)
        .where(_in(v.at, "dlo", "dhi"), _in(m.grid_code, "slo", "shi"))
    )
    return sa.union_all(cases, patrols, visits).cte("units")


def _count(u: Any, sources: tuple[str, ...]) -> sa.ColumnElement[Any]:
    return sa.func.sum(sa.case((u.c.source.in_([const(s) for s in sources]), const(1)), else_=const(0)))


def _groups(units: sa.CTE) -> sa.CTE:
    u = units
    return (
        sa.select(
            u.c.grid_code, u.c.matter_code, sa.func.sum(u.c.minutes).label("minutes"),
            sa.func.sum(u.c.is_case).label("cases"), _count(u, ("video",)).label("video"),
            _count(u, ("iot",)).label("iot"),
        ).group_by(u.c.grid_code, u.c.matter_code).cte("work_groups")
    )  # fmt: skip


def _pool() -> sa.ColumnElement[Any]:
    b = cost_budget_lines.c
    return sa.case(*((b.category == const(c), const(pool)) for c, pool in POOLS.items()), else_=const("work"))


def _lines() -> sa.CTE:
    """M's lines reaching X: their prefix is a start of X's (X or above), or inside X's range."""
    b = cost_budget_lines.c
    above = (
        sa.func.substr(sa.cast(sa.bindparam("xprefix"), sa.Text), const(1), sa.func.length(b.prefix))
        == b.prefix
    )
    return (
        sa.select(b.id, b.area_code, b.prefix, b.category, b.amount_fen, _pool().label("pool"))
        .where(b.month == sa.bindparam("month"), sa.or_(above, _in(b.prefix, "alo", "ahi")))
        .cte("lines")
    )


def _weight(pool: Any, minutes: Any, video: Any, iot: Any) -> sa.ColumnElement[Any]:
    """What a pool weighs work by (lines.POOLS): minutes, or cases of the sensing sources."""
    return sa.case(
        (pool == const("work"), minutes),
        (pool == const("sensing"), video + iot),
        (pool == const("video"), video),
        else_=iot,
    )


def _levels() -> sa.CTE:
    """The significant digits of each level: a line's prefix has one of these lengths."""
    return sa.union_all(*(sa.select(const(n).label("n")) for n in LEVEL_DIGITS)).cte("levels")


def _rates(groups: sa.CTE, lines: sa.CTE, levels: sa.CTE) -> tuple[sa.CTE, sa.CTE]:
    """(amounts, weights): the lines summed per prefix, category and pool, and each (prefix,
    pool)'s weight over the work under the prefix. The groups are joined to the lines' prefixes
    on equality (every group × the five levels probing the few prefixes), not by testing
    `substr(…, length(prefix))` of every line against every group (on a city's month of
    24,000 cases and 1,400 lines: 40 s that way)."""
    l, g = lines.c, groups.c  # noqa: E741
    amounts = (
        sa.select(l.prefix, l.category, l.pool, sa.func.sum(l.amount_fen).label("fen"))
        .group_by(l.prefix, l.category, l.pool)
        .cte("amounts")
    )
    wanted = sa.select(l.prefix, l.pool).distinct().cte("wanted")
    weight = _weight(wanted.c.pool, g.minutes, g.video, g.iot)
    weights = (
        sa.select(wanted.c.prefix, wanted.c.pool, sa.func.sum(weight).label("w"))
        .select_from(groups).join(levels, sa.true())
        .join(wanted, wanted.c.prefix == sa.func.substr(g.grid_code, const(1), levels.c.n))
        .group_by(wanted.c.prefix, wanted.c.pool)
        .cte("weights")
    )  # fmt: skip
    return amounts, weights


@cache
def attribution_sql(dialect: str, by_day: bool) -> str:
    """('share', child prefix, matter, category, fen): the lines' shares of the work inside X;
    ('lost', line's prefix, '', category, fen): lines inside X that found no work to weigh."""
    groups, lines, levels = _groups(_units(by_day)), _lines(), _levels()
    amounts, weights = _rates(groups, lines, levels)
    a, w = amounts.c, weights.c
    rates = (
        sa.select(a.prefix, a.category, a.pool, (a.fen * sa.literal_column("1.0") / w.w).label("rate"))
        .join_from(amounts, weights, sa.and_(w.prefix == a.prefix, w.pool == a.pool))
        .where(w.w > const(0))
        .cte("rates")
    )
    g, rt = groups.c, rates.c
    child = sa.func.substr(g.grid_code, const(1), sa.bindparam("digits"))
    shares = (
        sa.select(const("share").label("kind"), child.label("place"), g.matter_code, rt.category,
                  sa.func.sum(rt.rate * _weight(rt.pool, g.minutes, g.video, g.iot)).label("fen"))
        .select_from(groups).join(levels, sa.true())
        .join(rates, rt.prefix == sa.func.substr(g.grid_code, const(1), levels.c.n))
        .where(_in(g.grid_code, "alo", "ahi"))
        .group_by(child, g.matter_code, rt.category)
    )  # fmt: skip
    lost = (
        sa.select(const("lost"), a.prefix, const(""), a.category, sa.func.sum(a.fen))
        .join_from(amounts, weights, sa.and_(w.prefix == a.prefix, w.pool == a.pool), isouter=True)
        .where(_in(a.prefix, "alo", "ahi"), sa.or_(w.w.is_(None), w.w <= const(0)))
        .group_by(a.prefix, a.category)
    )  # fmt: skip
    return compile_sql(sa.union_all(shares, lost), dialect)


@cache
def budget_sql(dialect: str) -> str:
    """(line's area code, category, fen): the lines of M at X or inside it, as budgeted."""
    b = cost_budget_lines.c
    statement = (
        sa.select(b.area_code, b.category, sa.func.sum(b.amount_fen))
        .where(b.month == sa.bindparam("month"), _in(b.prefix, "alo", "ahi"))
        .group_by(b.area_code, b.category)
    )
    return compile_sql(statement, dialect)


@cache
def cases_sql(dialect: str) -> str:
    """(child prefix, matter, cases, sensed, worker-found, citizen) of M inside X."""
    f = case_facts.c
    child = sa.func.substr(f.grid_code, const(1), sa.bindparam("digits"))
    statement = (
        sa.select(
            child.label("child"), f.matter_code, sa.func.count(), _count(case_facts, SENSED),
            _count(case_facts, WORKER_FOUND), _count(case_facts, ("citizen",)),
        ).where(f.counted == const(1), _in(f.created_day, "dlo", "dhi"), _in(f.grid_code, "alo", "ahi"))
        .group_by(child, f.matter_code)
    )  # fmt: skip
    return compile_sql(statement, dialect)


@cache
def rounds_sql(dialect: str) -> str:
    """(child prefix, check-ins, visits) of M inside X: the work that is no case."""
    p, v, m = patrol_checkins.c, care_visits.c, care_memberships.c
    patrols = sa.select(
        p.grid_code.label("grid"), const(1).label("checkins"), const(0).label("visits")
    ).where(_in(p.at, "dlo", "dhi"), _in(p.grid_code, "alo", "ahi"))
    visits = (
        sa.select(m.grid_code, const(0), const(1))
        .join_from(care_visits, care_memberships, m.id == v.membership_id)
        .where(_in(v.at, "dlo", "dhi"), _in(m.grid_code, "alo", "ahi"))
    )
    r = sa.union_all(patrols, visits).subquery("r")
    child = sa.func.substr(r.c.grid, const(1), sa.bindparam("digits"))
    statement = sa.select(child, sa.func.sum(r.c.checkins), sa.func.sum(r.c.visits)).group_by(child)
    return compile_sql(statement, dialect)


@cache
def residents_sql(dialect: str) -> str:
    """(child prefix, residents) inside X, from the kept per-grid counts (basedata_counts)."""
    c = grid_counts.c
    child = sa.func.substr(c.grid_code, const(1), sa.bindparam("digits"))
    statement = sa.select(child, sa.func.sum(c.people)).where(_in(c.grid_code, "alo", "ahi")).group_by(child)
    return compile_sql(statement, dialect)
