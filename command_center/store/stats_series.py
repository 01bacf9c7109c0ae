"""The statements behind the forecast and the early warning (command_center/stats_forecast.py,
api/stats_forecast.py): daily counts per child area and matter class, summed by the database
from the same rows as every other figure (stats_queries.rows: the roll-ups for the city and
a district, the facts below), and today's cases so far against the same weekdays before, up
to the same time of day, per child area and class and per ~100 m cell.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import sqlalchemy as sa

from command_center.store.access import Connection
from command_center.store.queries import compile_sql, const
from command_center.store.stats_queries import rows

PAST = 8  # the same weekday in each of the last 8 weeks
SPOT_LEAST = 3  # a cell is a candidate hotspot alert from this many cases today


@cache
def daily_sql(dialect: str, daily: bool, digits: int) -> str:
    """(day, child area, class, cases) per day in [lo, hi] under the area."""
    r = rows(daily, ())
    child = sa.func.substr(r.c.area, const(1), const(digits))
    statement = sa.select(r.c.day, child, r.c.matter_class, sa.func.sum(r.c.cases)).group_by(
        r.c.day, child, r.c.matter_class
    )
    return compile_sql(statement, dialect)


def _sql(text: str, dialect: str) -> str:
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", text) if dialect == "postgresql" else text


def _by_time(alias: str) -> str:
    """Each of the days d0 (today) … d8, up to its cut c0 … c8 (the same time of day)."""
    return (
        "("
        + " OR ".join(
            f"({alias}.created_day = :d{i} AND {alias}.created_at < :c{i})" for i in range(PAST + 1)
        )
        + ")"
    )


_AREAS = """SELECT created_day, substr(grid_code, 1, {digits}), matter_class, count(*) FROM case_facts AS f
WHERE counted = 1 AND grid_code >= :alo AND grid_code < :ahi AND {days}
GROUP BY created_day, substr(grid_code, 1, {digits}), matter_class"""
# Today's busy cells, then those cells' cases on the same weekdays before (the cell index).
_CELLS = f"""WITH t AS (
  SELECT cell_x, cell_y, count(*) AS n FROM case_facts AS f
  WHERE counted = 1 AND created_day = :d0 AND created_at < :c0 AND grid_code >= :alo AND grid_code < :ahi
  GROUP BY cell_x, cell_y HAVING count(*) >= {SPOT_LEAST}
)
SELECT t.cell_x, t.cell_y, p.created_day, count(p.id), max(t.n) FROM t
LEFT JOIN case_facts AS p ON p.cell_x = t.cell_x AND p.cell_y = t.cell_y AND p.counted = 1
  AND p.grid_code >= :alo AND p.grid_code < :ahi AND {{days}}
GROUP BY t.cell_x, t.cell_y, p.created_day"""


def same_time_counts(
    db: Connection, dialect: str, params: dict[str, Any], digits: int
) -> tuple[list[Any], list[Any]]:
    """(day, child, class, cases) for today and the same weekdays before up to the same time,
    and (cell_x, cell_y, day or None, cases, today's cases) for today's busy cells."""
    areas = db.execute(
        _sql(_AREAS.format(digits=int(digits), days=_by_time("f")), dialect), params
    ).fetchall()
    cells = db.execute(_sql(_CELLS.format(days=_by_time("p")), dialect), params).fetchall()
    return areas, cells
