"""The SQL input of the care-demand forecast (basedata/forecast.py), per area (community by
default), computed by the database; Python only assembles the per-area sums it returns.

Three statements under a grid prefix (a range of codes, as grid_range):
- people: residents, aged 60 and 80 or more at the start of next quarter, turning 60 and 80
  in it (birth dates against those days 60 and 80 years back, as ISO text), and of those
  living alone (store/basedata_analysis.lives_alone): the elderly, those turning 60, and the
  elderly in no active 独居老人 membership (a correlated NOT EXISTS on the
  care_memberships_person index);
- ledger: active memberships per area and group, and their visits a month at each plan's
  own frequency (SUM of 1 ÷ visit_every_days);
- history: memberships per area, group and quarter of their `since` date (year and quarter
  read from the ISO text: CASE on the month, the same on both databases), over the
  complete quarters asked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa

from basedata.forecast import DAYS_PER_MONTH, CommunityInput, GroupLedger, Quarter, history_quarters
from basedata.sample import years_before
from command_center.store.basedata_analysis import lives_alone, present
from command_center.store.basedata_records import BaseDataRecords, grid_range
from command_center.store.basedata_schema import people
from command_center.store.care_schema import care_memberships as members
from command_center.store.queries import compile_sql, const

PEOPLE_FIGURES = ("residents", "elderly", "over_80", "turning_60", "turning_80",
                  "elderly_alone", "alone_unenrolled", "alone_turning_60")  # fmt: skip


def _area(column: Any, digits: int) -> Any:
    """The area a grid code lies in: its first `digits` digits (a grid: the code itself, so
    the grid index's order serves the GROUP BY)."""
    return column if digits >= 15 else sa.func.substr(column, const(1), const(digits))


def _flag(condition: Any) -> Any:
    return sa.case((condition, const(1)), else_=const(0))


def _in_range(table: Any) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.grid_code >= sa.bindparam("lo"), table.c.grid_code < sa.bindparam("hi"))


def _active() -> sa.ColumnElement[bool]:
    return members.c.active.is_(sa.true())


def _turning(birth: Any, age: int) -> Any:
    """Born after the day `age` years before next quarter, before the day `age` years before
    its end: the birthday of that age falls inside it."""
    return sa.and_(birth > sa.bindparam(f"from{age}"), birth < sa.bindparam(f"to{age}"))


def _people(digits: int, dialect: str) -> sa.Select[Any]:
    """One pass over the people under the range, the living-alone probe asked only of those
    old enough (basedata_analysis.lives_alone), the ledger only of those living alone."""
    p = people
    area = _area(p.c.grid_code, digits)
    elderly = p.c.birth_date <= sa.bindparam("from60")
    alone = sa.and_(p.c.birth_date < sa.bindparam("to60"), lives_alone(p))  # elderly, or turning 60 in it
    enrolled = sa.exists(
        sa.select(members.c.id).where(
            members.c.person_id == p.c.id, members.c.care_group == const("elderly_alone"), _active()
        )
    )
    sums = {
        "residents": sa.func.count(),
        "elderly": sa.func.sum(_flag(elderly)),
        "over_80": sa.func.sum(_flag(p.c.birth_date <= sa.bindparam("from80"))),
        "turning_60": sa.func.sum(_flag(_turning(p.c.birth_date, 60))),
        "turning_80": sa.func.sum(_flag(_turning(p.c.birth_date, 80))),
        "elderly_alone": sa.func.sum(_flag(sa.and_(alone, elderly))),
        "alone_unenrolled": sa.func.sum(_flag(sa.and_(alone, elderly, ~enrolled))),
        "alone_turning_60": sa.func.sum(_flag(sa.and_(alone, _turning(p.c.birth_date, 60)))),
    }
    columns = [sums[name].label(name) for name in PEOPLE_FIGURES]
    return sa.select(area.label("area"), *columns).where(_in_range(p), *present(p, dialect)).group_by(area)


@cache
def _sql(dialect: str, digits: int) -> dict[str, str]:
    area = _area(members.c.grid_code, digits)
    ledger = (
        sa.select(area, members.c.care_group, sa.func.count(),
                  sa.func.sum(sa.literal_column("1.0") / members.c.visit_every_days))
        .where(_in_range(members), _active())
        .group_by(area, members.c.care_group)
    )  # fmt: skip
    month = sa.func.substr(members.c.since, const(6), const(2))
    quarter = sa.case((month <= const("03"), const(1)), (month <= const("06"), const(2)),
                      (month <= const("09"), const(3)), else_=const(4))  # fmt: skip
    year = sa.func.substr(members.c.since, const(1), const(4))
    history = (
        sa.select(area, members.c.care_group, year, quarter, sa.func.count())
        .where(
            _in_range(members),
            members.c.since >= sa.bindparam("first"),
            members.c.since < sa.bindparam("until"),
        )
        .group_by(area, members.c.care_group, year, quarter)
    )
    statements = {"people": _people(digits, dialect), "ledger": ledger, "history": history}
    return {name: compile_sql(s, dialect) for name, s in statements.items()}


@dataclass(frozen=True, slots=True)
class DemandInput:
    """Every area's input, and the quarters its history covers (oldest first)."""

    areas: list[CommunityInput]
    quarters: list[Quarter]


def _params(prefix: str, coming: Quarter) -> dict[str, Any]:
    params: dict[str, Any] = dict(grid_range(prefix))
    for age in (60, 80):
        params[f"from{age}"] = years_before(coming.start, age).isoformat()
        params[f"to{age}"] = years_before(coming.end, age).isoformat()
    return params


def demand_input(
    records: BaseDataRecords, digits: int, prefix: str, coming: Quarter, history: int
) -> DemandInput:
    """The input for forecasting `coming` (next quarter): people as of its start, the ledger
    now, new members in each of the `history` complete quarters before the current one."""
    quarters = history_quarters(coming, history)
    params = _params(prefix, coming)
    span = (
        {"first": quarters[0].start.isoformat(), "until": coming.shift(-1).start.isoformat()}
        if quarters
        else {}
    )
    sql = _sql(records.dialect, digits)
    with records.store._reading() as db:
        people_rows = db.execute(sql["people"], params).fetchall()
        ledger_rows = db.execute(sql["ledger"], grid_range(prefix)).fetchall()
        history_rows = db.execute(sql["history"], grid_range(prefix) | span).fetchall() if quarters else []
    by_area: dict[str, dict[str, int]] = {str(r[0]): dict(zip(PEOPLE_FIGURES, (int(v or 0) for v in r[1:]), strict=True))
                                          for r in people_rows}  # fmt: skip
    active: dict[tuple[str, str], tuple[int, float]] = {
        (str(a), str(g)): (int(n), float(rate or 0) * DAYS_PER_MONTH) for a, g, n, rate in ledger_rows
    }
    new: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
    for a, g, year, q, n in history_rows:
        new[(str(a), str(g))][Quarter(int(year), int(q)).index] = int(n)
    groups: dict[str, set[str]] = defaultdict(set)
    for area, group in (*active, *new):
        groups[area].add(group)
    found = []
    for code in sorted({*by_area, *groups}):
        ledger = {
            g: GroupLedger(
                *active.get((code, g), (0, 0.0)),
                tuple(new.get((code, g), {}).get(q.index, 0) for q in quarters),
            )
            for g in sorted(groups[code])
        }
        found.append(CommunityInput(code.ljust(15, "0"), **by_area.get(code, {}), ledger=ledger))
    return DemandInput(found, quarters)
