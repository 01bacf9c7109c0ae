"""The hotspots (the busiest ~100 m cells of a period) of the city or a district, exact,
without grouping a year of facts per cell (1.8 s at 1,000,000 cases a year).

`case_cells_monthly` holds per month, district and cell the cases of every cell with at
least CELL_FLOOR of them that month, so a cell's cases in the months around the period are
at most its listed counts plus CELL_FLOOR - 1 for each month it is not listed in: an upper
bound. (A month lists a cell in every district it has cases in when its total there is at
least CELL_FLOOR, so a cell on a district boundary is bounded right for the city too.) Cases
written since the stats job last counted a month have their days marked dirty: their cells'
cases on those days are added to the bound (_BOUNDS). The candidates are taken in order
of their bound and counted exactly from the facts (the period, the area, the filters: the
index case_facts_cell), a batch at a time, until the `most`-th exact count is above every
bound not yet counted (the next candidate's, and the floor of cells never listed). If that
takes too many batches (filters that make the bounds loose), or the counts are so small
that the floor is not beaten, the caller counts the facts the plain way: the answer is
always the one the plain GROUP BY gives (tests/test_stats.py checks it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from command_center.store.access import Connection
from command_center.store.stats_schema import CELL_FLOOR

BATCHES = 5  # then the plain count is no slower than going on
FILTER_SQL = {"source": "f.source = :source", "matter_class": "f.matter_class = :matter_class",
              "matter": "f.matter_code = :matter"}  # fmt: skip
# (cell_x, cell_y, bound), highest bound first. A month's listed count is its cell's cases when
# the month was last counted; any case written since marked its day dirty, so the cell's
# cases now are at most that count plus its cases on the dirty days (read from the facts).
# A month marked in case_monthly_dirty (days summed since its cells were) is counted from its
# facts instead (its cells left out, and no slack for it).
_STALE = "SELECT month FROM case_monthly_dirty WHERE month >= :mlo AND month <= :mhi"
_BOUNDS = f"""WITH m AS (
  SELECT cell_x, cell_y, n, month AS listed FROM case_cells_monthly
  WHERE month >= :mlo AND month <= :mhi AND district >= :alo AND district < :ahi AND month NOT IN ({_STALE})
  UNION ALL
  SELECT cell_x, cell_y, count(*), NULL FROM case_facts
  WHERE created_day IN (SELECT DISTINCT day FROM case_daily_dirty WHERE day >= :lo AND day <= :hi)
    AND counted = 1 AND grid_code >= :alo AND grid_code < :ahi
  GROUP BY cell_x, cell_y
  UNION ALL
  SELECT f.cell_x, f.cell_y, count(*), NULL FROM ({_STALE}) AS s JOIN case_facts AS f
    ON f.created_day >= s.month || '-01' AND f.created_day <= s.month || '-31'
  WHERE f.created_day >= :lo AND f.created_day <= :hi AND f.counted = 1 AND f.grid_code >= :alo AND f.grid_code < :ahi
  GROUP BY f.cell_x, f.cell_y
)
SELECT cell_x, cell_y, sum(n) + (:months - (SELECT count(*) FROM ({_STALE}) AS c) - count(DISTINCT listed))
  * {CELL_FLOOR - 1} AS bound
FROM m GROUP BY cell_x, cell_y ORDER BY 3 DESC, 1, 2 LIMIT :most"""
# The candidates as a VALUES list joined to the facts (columns column1, column2 in both
# databases): each probes the cell index. (A row-value IN over VALUES: SQLite scanned the days.)
_EXACT = """SELECT f.cell_x, f.cell_y, f.matter_code, count(*) FROM (VALUES {cells}) AS c
CROSS JOIN case_facts AS f
WHERE f.cell_x = c.column1 AND f.cell_y = c.column2 AND f.created_day >= :lo AND f.created_day <= :hi
  AND f.counted = 1 AND f.grid_code >= :alo AND f.grid_code < :ahi{filters}
GROUP BY f.cell_x, f.cell_y, f.matter_code"""

Spot = tuple[int, int, int, str]  # cell_x, cell_y, cases, top matter


def _sql(text: str, dialect: str) -> str:
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", text) if dialect == "postgresql" else text


def _months(start: date, end: date) -> tuple[str, str, int]:
    return f"{start:%Y-%m}", f"{end:%Y-%m}", (end.year - start.year) * 12 + end.month - start.month + 1


def _exact(db: Connection, dialect: str, cells: Sequence[tuple[int, int]], params: dict[str, Any],
           filters: tuple[str, ...]) -> dict[tuple[int, int], dict[str, int]]:  # fmt: skip
    values = ", ".join(f"({int(x)}, {int(y)})" for x, y in cells)  # integers read from the table
    where = "".join(f" AND {FILTER_SQL[f]}" for f in filters)
    found: dict[tuple[int, int], dict[str, int]] = {}
    for x, y, matter, n in db.execute(
        _sql(_EXACT.format(cells=values, filters=where), dialect), params
    ).fetchall():
        found.setdefault((int(x), int(y)), {})[matter] = int(n)
    return found


def _ranked(counted: dict[tuple[int, int], dict[str, int]]) -> list[Spot]:
    spots = []
    for (x, y), matters in counted.items():
        top = min(matters.items(), key=lambda kv: (-kv[1], kv[0]))[0]  # most cases, ties by code
        spots.append((x, y, sum(matters.values()), top))
    return sorted(spots, key=lambda s: (-s[2], s[0], s[1]))


def bounded_hotspots(db: Connection, dialect: str, params: dict[str, Any], filters: tuple[str, ...],
                     start: date, end: date, most: int) -> list[Spot] | None:  # fmt: skip
    """The `most` busiest cells, or None when the bounds do not settle it (count plainly)."""
    mlo, mhi, months = _months(start, end)
    batch = max(2 * most, 40)
    span = {"mlo": mlo, "mhi": mhi, "months": months, "most": batch * BATCHES}
    bounds = db.execute(_sql(_BOUNDS, dialect), params | span).fetchall()
    floor = months * (CELL_FLOOR - 1)  # a cell listed nowhere and with no case on a dirty day
    counted: dict[tuple[int, int], dict[str, int]] = {}
    for first in range(0, len(bounds), batch):
        chunk = bounds[first : first + batch]
        counted |= _exact(db, dialect, [(int(r[0]), int(r[1])) for r in chunk], params, filters)
        ranked = [s for s in _ranked(counted) if s[2] > 0]
        rest = bounds[first + batch][2] if first + batch < len(bounds) else None
        if rest is None and len(bounds) == batch * BATCHES:
            return None  # candidates left that were not even listed: count plainly
        beaten = max(floor, int(rest or 0))
        if len(ranked) >= most and ranked[most - 1][2] > beaten:
            return ranked[:most]
        if rest is None and floor == 0:  # every cell with a case was listed and counted
            return ranked[:most]
    return None
