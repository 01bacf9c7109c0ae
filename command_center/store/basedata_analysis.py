"""Cross-analysis of the base data with the cases, per area, computed by the database.

Per grid, or rolled up to the community (12 digits of the code), street (9) or district
(6) by a prefix of the grid code, under a scope's grid prefix (a range of codes, as
store/basedata_records.grid_range: the (grid_code, …) indexes, not LIKE):

- residents (people), households and buildings;
- rental density: rental households (kind "rental") ÷ households, rental households per
  building, and buildings marked rental (出租屋);
- elderly: people aged 60 or more in the year of the day asked (born in or before that year
  − 60: precise to the year, as the kept sums below know birth years, not dates);
- elderly living alone: an elderly person with no other current person in their household
  (`lives_alone`). Defined from the base data, not from the 独居老人 care group: it counts
  everyone who lives so, not only those the ledger holds (store/care_demand.py compares
  the two), and the base data is what every role here may read;
- overdue re-checks: records of every kind whose next check is before the day, or never
  (the per-grid counts' meaning: store/basedata_records.py `_due`);
- cases created in a range of instants, merged and cancelled ones left out (a duplicate
  joined another case; a cancelled one was a false alarm), and events per 1,000 residents.

ONE statement per call, summed per area (UNION ALL … GROUP BY); only the per-area sums reach
Python, the ratios are divisions of those sums. `by_area` reads the sums the database keeps
per grid (store/basedata_sums.py, migration 0032; 0022's counts): a few rows per grid, not
the district's people. `grouped_by_area` computes the same by grouping the records (each
table grouped by area on its own): what the kept sums must equal, and the bench's "before".
The cases carry no kept sums: `by_area` counts them from the statistics' facts (case_facts,
store/stats_schema.py: written with each case, by the city's creation day, `counted` leaving
merged and cancelled out) on its (created_day, grid_code, …) index without touching the
cases; the grouping scans the cases themselves. `residents_in` counts the residents
of given areas (the hotspots' normalisation) from the kept counts: one range read per area.

People marked as gone (迁出: `left_on`, migration 0020) are not counted, nor households,
should they get the column: the condition is added where a table has it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.basedata_records import BaseDataRecords, grid_range
from command_center.store.basedata_schema import TABLES, buildings, households, people
from command_center.store.basedata_sums import kept_parts, residents_sql
from command_center.store.queries import compile_sql, const
from command_center.store.schema import cases
from command_center.store.stats_schema import case_facts
from dispatch.kpi import LEVEL_DIGITS

ELDERLY_AGE = 60
NOT_EVENTS = ("merged", "cancelled")  # case states that are not an event of their own
FIGURES = ("residents", "households", "rental_households", "buildings", "rental_buildings",
           "elderly", "elderly_alone", "overdue", "cases")  # fmt: skip


def ratio(part: int, whole: int, scale: float = 1.0, digits: int = 4) -> float | None:
    """part ÷ whole × scale, None where there is no whole (never a division by zero)."""
    return round(part * scale / whole, digits) if whole else None


@dataclass(frozen=True, slots=True)
class AreaFigures:
    """One area's sums; the ratios are read from them."""

    code: str  # the area's 15-digit code (its prefix padded with zeros, as the map names it)
    residents: int = 0
    households: int = 0
    rental_households: int = 0
    buildings: int = 0
    rental_buildings: int = 0
    elderly: int = 0
    elderly_alone: int = 0
    overdue: int = 0
    cases: int = 0

    def plus(self, other: AreaFigures) -> AreaFigures:
        """Two parts of one area summed (a worker's grids read one prefix at a time)."""
        return AreaFigures(self.code, *(getattr(self, n) + getattr(other, n) for n in FIGURES))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "rental_share": ratio(self.rental_households, self.households),
            "rental_per_building": ratio(self.rental_households, self.buildings, digits=2),
            "elderly_alone_share": ratio(self.elderly_alone, self.elderly),
            "per_1000": ratio(self.cases, self.residents, 1000, 2),
        }


def total(rows: Iterable[AreaFigures], code: str = "") -> AreaFigures:
    summed = AreaFigures(code)
    for row in rows:
        summed = summed.plus(row)
    return summed


def present(table: sa.FromClause, dialect: str = "postgresql") -> list[sa.ColumnElement[bool]]:
    """Rows still current: none marked gone (`left_on`), where the table has that column. On
    SQLite written so that no index serves it: as `left_on IS NULL` its planner (without
    statistics) took the (left_on) index, which holds every current person of the city, over
    the grid range; PostgreSQL plans by its statistics, and a COALESCE there would hide them
    (it then guessed 100 rows of 20,000 and sorted instead of hashing)."""
    if "left_on" not in table.c:
        return []
    if dialect == "sqlite":
        return [sa.func.coalesce(table.c.left_on, const("")) == const("")]
    return [table.c.left_on.is_(None)]


def _in_range(table: Any) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.grid_code >= sa.bindparam("lo"), table.c.grid_code < sa.bindparam("hi"))


def _area(column: Any, digits: int) -> Any:
    """The area a grid code lies in: its first `digits` digits (a grid: the code itself, so
    the grid index's order serves the GROUP BY)."""
    return column if digits >= 15 else sa.func.substr(column, const(1), const(digits))


def _flag(condition: Any) -> Any:
    return sa.case((condition, const(1)), else_=const(0))


def _due(table: sa.Table) -> Any:
    return sa.func.sum(
        _flag(sa.or_(table.c.next_check_at.is_(None), table.c.next_check_at < sa.bindparam("due")))
    )


def lives_alone(person: Any) -> sa.ColumnElement[bool]:
    """No other (current) person in `person`'s household: one probe of the people_household
    index (the left_on condition in the form no index serves, on both databases: without
    statistics PostgreSQL took the (left_on) index for each probe, 1.3 s a call at 20,000). Put after an age condition in an AND, it is only asked of those old enough: on
    SQLite half the time of a second pass grouping every person by household (26 against
    48 ms at 20,000 people), on PostgreSQL about the same (76 against 70 ms); a busy machine."""
    other = people.alias("other")
    return ~sa.exists(
        sa.select(other.c.id).where(
            other.c.household_id == person.c.household_id,
            other.c.id != person.c.id,
            *present(other, "sqlite"),
        )
    )


def _parts(digits: int, dialect: str) -> list[sa.Select[Any]]:
    """Each table's sums per area, every part with all the figures (zeros where not its own)."""

    def part(table: Any, where: list[Any], **sums: Any) -> sa.Select[Any]:
        columns = [sums.get(name, const(0)).label(name) for name in FIGURES]
        area = _area(table.c.grid_code, digits)
        return sa.select(area.label("area"), *columns).where(*where).group_by(area)

    p, h, b = people, households, buildings
    elderly = p.c.birth_date <= sa.bindparam("elder")
    return [
        part(p, [_in_range(p), *present(p, dialect)], residents=sa.func.count(), elderly=sa.func.sum(_flag(elderly)),
             elderly_alone=sa.func.sum(_flag(sa.and_(elderly, lives_alone(p)))), overdue=_due(p)),
        part(h, [_in_range(h), *present(h, dialect)], households=sa.func.count(),
             rental_households=sa.func.sum(_flag(h.c.kind == const("rental"))), overdue=_due(h)),
        part(b, [_in_range(b)], buildings=sa.func.count(), rental_buildings=sa.func.sum(_flag(b.c.rental)),
             overdue=_due(b)),
        *(part(TABLES[k], [_in_range(TABLES[k])], overdue=_due(TABLES[k])) for k in ("address", "organisation")),
        _cases_part(digits),
    ]  # fmt: skip


def _cases_part(digits: int) -> sa.Select[Any]:
    """Cases created in [since, before) per area, merged and cancelled ones left out."""
    area = _area(cases.c.grid_code, digits)
    columns = [(sa.func.count() if name == "cases" else const(0)).label(name) for name in FIGURES]
    events = [_in_range(cases), cases.c.created_at >= sa.bindparam("since"), cases.c.created_at < sa.bindparam("before"),
              cases.c.state.not_in([const(s) for s in NOT_EVENTS])]  # fmt: skip
    return sa.select(area.label("area"), *columns).where(*events).group_by(area)


def _facts_part(digits: int) -> sa.Select[Any]:
    """The same cases from their facts: created on the city's days [since_day, before_day)."""
    f = case_facts
    area = _area(f.c.grid_code, digits)
    columns = [(sa.func.count() if name == "cases" else const(0)).label(name) for name in FIGURES]
    events = [f.c.created_day >= sa.bindparam("since_day"), f.c.created_day < sa.bindparam("before_day"),
              _in_range(f), f.c.counted == const(1)]  # fmt: skip
    return sa.select(area.label("area"), *columns).where(*events).group_by(area)


@cache
def _sql(dialect: str, digits: int, kept: bool = True) -> str:
    parts = kept_parts(digits, FIGURES, _facts_part(digits)) if kept else _parts(digits, dialect)
    every = sa.union_all(*parts).subquery("per_table")
    sums = [sa.func.sum(every.c[name]).label(name) for name in FIGURES]
    statement = sa.select(every.c.area, *sums).group_by(every.c.area).order_by(every.c.area)
    return compile_sql(statement, dialect)


def by_area(
    records: BaseDataRecords, level: str, prefix: str, on: date, since: datetime, before: datetime, kept: bool = True
) -> list[AreaFigures]:
    """Every area at `level` under the grid prefix holding any record or case, by code: the
    elderly in `on`'s year, overdue checks before `on`, cases created in [since, before)
    (aware instants; stored case times are UTC ISO text, store/case_statements.py). From the
    kept sums; `kept=False` groups the records instead (grouped_by_area). `since` and `before`
    are midnights in the city's zone (as the API makes them): the facts count by its days."""
    digits = LEVEL_DIGITS[level]
    params = grid_range(prefix) | {
        "elder": f"{on.year - ELDERLY_AGE:04d}-12-31",  # born on or before the last day of that year
        "elder_year": on.year - ELDERLY_AGE,
        "due": on.isoformat(),
        "since": _utc(since),
        "since_day": since.date().isoformat(),
        "before_day": before.date().isoformat(),
        "before": _utc(before),
    }
    with records.store._reading() as db:
        rows = db.execute(_sql(records.dialect, digits, kept), params).fetchall()
    return [AreaFigures(str(area).ljust(15, "0"), *(int(v or 0) for v in values)) for area, *values in rows]


def grouped_by_area(
    records: BaseDataRecords, level: str, prefix: str, on: date, since: datetime, before: datetime
) -> list[AreaFigures]:
    """by_area grouped over the records themselves: what the kept sums must equal."""
    return by_area(records, level, prefix, on, since, before, kept=False)


def residents_in(records: BaseDataRecords, codes: Iterable[str], digits: int) -> dict[str, int]:
    """Residents of each area (its code's first `digits` digits as the prefix): one range
    count each on the people's grid index, in one connection."""
    found: dict[str, int] = {}
    sql = residents_sql(records.dialect)
    with records.store._reading() as db:
        for code in dict.fromkeys(codes):
            if not (code.isascii() and code.isdigit()):
                continue  # not a grid code: no residents are filed under it
            row = db.execute(sql, grid_range(code[:digits])).fetchone()
            found[code] = int(row[0]) if row else 0
    return found


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
