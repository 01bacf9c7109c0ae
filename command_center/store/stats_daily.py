"""`case_daily` summed from `case_facts`, with its roll-ups (store/stats_schema.py):
`case_daily_class` (the day's rows summed over the matters), `case_monthly` (the month's
rows), `case_monthly_street` (the month's per street) and `case_cells_monthly` (the month's
busy cells). One month's dirty days at a time (the stats job), or everything
(migrations 0024 and 0028, the generator).

Refreshing the days is one transaction per month: the days' dirty marks are deleted FIRST,
then their rows replaced by a GROUP BY over those days' facts, and their month marked in
`case_monthly_dirty`; the monthly roll-ups of a marked month are summed again later, less
often (a month's facts cost ~1 s on SQLite), its mark deleted first in that transaction.
Reads take a marked month from the daily rows (and, for the hotspots, from its facts). A case write marks its day with an upsert that changes the mark's row
(store/stats_facts.py), so on PostgreSQL the DELETE waits for any writer holding a mark of
those days and then sees its facts; a writer whose new mark the DELETE did not see leaves
its day dirty, and reads take a dirty day (and, for the cells, its month) from the facts
(store/stats_queries.py, stats_hotspots.py), so no read is ever behind. On SQLite writers
are serial anyway.
"""

from __future__ import annotations

from typing import Any

from command_center.store.access import Connection
from command_center.store.stats_schema import CELL_FLOOR

DAILY_COLUMNS = ("day", "district", "matter_code", "source", "matter_class", "cases", "closed", "closed_on_time",
                 "deferred", "reworked", "sum_close_min", "n_close")  # fmt: skip
CLASS_SUMS = ("cases", "closed", "closed_on_time", "deferred", "reworked", "sum_close_min", "n_close")
# Only counted cases (not merged or cancelled) reach the daily rows.
_SUMS = """SELECT created_day, substr(grid_code, 1, 6), matter_code, source, min(matter_class),
  count(*), sum(closed), sum(CASE WHEN on_time = 1 THEN 1 ELSE 0 END), sum(deferred), sum(reworked),
  coalesce(sum(close_min), 0), sum(closed)
FROM case_facts WHERE counted = 1{where}
GROUP BY created_day, substr(grid_code, 1, 6), matter_code, source"""
_INSERT = f"INSERT INTO case_daily ({', '.join(DAILY_COLUMNS)}) "
# The class roll-up from the day's daily rows (a few hundred per day, not its facts).
_CLASS = (
    f"INSERT INTO case_daily_class (day, district, source, matter_class, {', '.join(CLASS_SUMS)}) "
    f"SELECT day, district, source, matter_class, {', '.join(f'sum({n})' for n in CLASS_SUMS)} "
    "FROM case_daily{where} GROUP BY day, district, source, matter_class"
)
# A cell is listed for a month (in each of its districts) when it has CELL_FLOOR cases or
# more in the month in all, so an unlisted cell had at most CELL_FLOOR - 1 that month.
_MONTHLY = (
    "INSERT INTO case_monthly (month, district, matter_code, source, matter_class, "
    f"{', '.join(CLASS_SUMS)}) SELECT substr(day, 1, 7), district, matter_code, source, min(matter_class), "
    f"{', '.join(f'sum({n})' for n in CLASS_SUMS)} FROM case_daily{{where}} "
    "GROUP BY substr(day, 1, 7), district, matter_code, source"
)
# An upsert that changes the row: it locks it, so refresh_rollups' DELETE waits for it.
_MONTH_MARK = "INSERT INTO case_monthly_dirty (month) VALUES ({p}) ON CONFLICT (month) DO UPDATE SET month = excluded.month"
_STREETS = (
    "INSERT INTO case_monthly_street (month, street, source, matter_class, cases, closed, closed_on_time, deferred, "
    "reworked, sum_close_min, n_close) SELECT substr(created_day, 1, 7), substr(grid_code, 1, 9), source, "
    "matter_class, count(*), sum(closed), sum(CASE WHEN on_time = 1 THEN 1 ELSE 0 END), sum(deferred), "
    "sum(reworked), coalesce(sum(close_min), 0), sum(closed) FROM case_facts WHERE counted = 1{where} "
    "GROUP BY substr(created_day, 1, 7), substr(grid_code, 1, 9), source, matter_class"
)
_CELLS = (
    "INSERT INTO case_cells_monthly (month, district, cell_x, cell_y, n) SELECT month, district, cell_x, cell_y, n "
    "FROM (SELECT substr(created_day, 1, 7) AS month, substr(grid_code, 1, 6) AS district, cell_x, cell_y, "
    "count(*) AS n, sum(count(*)) OVER (PARTITION BY substr(created_day, 1, 7), cell_x, cell_y) AS total "
    "FROM case_facts WHERE counted = 1{where} "
    "GROUP BY substr(created_day, 1, 7), substr(grid_code, 1, 6), cell_x, cell_y) AS c "
    f"WHERE total >= {CELL_FLOOR}"
)


def _param(name: str, dialect: str) -> str:
    return f"%({name})s" if dialect == "postgresql" else f":{name}"


def rebuild_all(db: Connection, rollups: bool = True) -> None:
    """Every day's rows and every month's cells from the facts, and no day dirty (the
    caller's transaction). `rollups=False`: `case_daily` alone (migration 0024, before 0028
    made the roll-ups' tables)."""
    tables = (
        "case_daily_dirty",
        "case_daily",
        *(("case_daily_class", "case_cells_monthly") if rollups else ()),
    )
    for table in tables:
        db.execute(f"DELETE FROM {table}", {})
    db.execute(_INSERT + _SUMS.format(where=""), {})
    if rollups:
        db.execute(_CLASS.format(where=""), {})
        db.execute(_MONTHLY.format(where=""), {})
        db.execute(_STREETS.format(where=""), {})
        db.execute(_CELLS.format(where=""), {})


def refresh_days(db: Connection, dialect: str, days: list[str]) -> None:
    """These days (all of one month) summed again from their facts, their dirty marks cleared,
    and their month marked for the monthly roll-ups (the caller's transaction). Cheap: a
    GROUP BY of each day's facts; the month's roll-ups are summed later (refresh_rollups)."""
    p = _param("day", dialect)
    for day in days:
        params: dict[str, Any] = {"day": day}
        db.execute(f"DELETE FROM case_daily_dirty WHERE day = {p}", params)
        db.execute(f"DELETE FROM case_daily WHERE day = {p}", params)
        db.execute(f"DELETE FROM case_daily_class WHERE day = {p}", params)
        db.execute(_INSERT + _SUMS.format(where=f" AND created_day = {p}"), params)
        db.execute(_CLASS.format(where=f" WHERE day = {p}"), params)
    db.execute(_MONTH_MARK.format(p=_param("month", dialect)), {"month": days[0][:7]})


def refresh_rollups(db: Connection, dialect: str, month: str) -> None:
    """The month's monthly rows, streets and cells summed again, its mark cleared FIRST (the
    caller's transaction; a day refreshed meanwhile marks the month again)."""
    lo, hi, m = _param("lo", dialect), _param("hi", dialect), _param("month", dialect)
    span = {"month": month, "lo": f"{month}-01", "hi": f"{month}-31"}
    db.execute(f"DELETE FROM case_monthly_dirty WHERE month = {m}", span)
    db.execute(f"DELETE FROM case_monthly WHERE month = {m}", span)
    db.execute(_MONTHLY.format(where=f" WHERE day >= {lo} AND day <= {hi}"), span)
    db.execute(f"DELETE FROM case_monthly_street WHERE month = {m}", span)
    db.execute(_STREETS.format(where=f" AND created_day >= {lo} AND created_day <= {hi}"), span)
    db.execute(f"DELETE FROM case_cells_monthly WHERE month = {m}", span)
    db.execute(_CELLS.format(where=f" AND created_day >= {lo} AND created_day <= {hi}"), span)


def stale_months(db: Connection) -> list[str]:
    return [r[0] for r in db.execute("SELECT month FROM case_monthly_dirty ORDER BY month", {}).fetchall()]


def dirty_days(db: Connection, most: int) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT day FROM case_daily_dirty ORDER BY day LIMIT {int(most)}", {}
        ).fetchall()
    ]
