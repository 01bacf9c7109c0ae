"""`case_daily` summed from `case_facts`: one day at a time (the stats job, for the days
case writes marked dirty), or all of them (migration 0024, the generator).

Refreshing a day is one transaction: its dirty marks are deleted FIRST, then its rows
replaced by a GROUP BY over that day's facts. A case write marks its day with an upsert
that changes the mark's row (store/stats_facts.py), so on PostgreSQL the DELETE waits for
any writer holding a mark of that day and then sees its facts; a writer whose new mark
the DELETE did not see leaves the day dirty, and reads take a dirty day from the facts
(store/stats_queries.py), so no read is ever behind. On SQLite writers are serial anyway.
"""

from __future__ import annotations

from typing import Any

from command_center.store.access import Connection

DAILY_COLUMNS = ("day", "district", "matter_code", "source", "matter_class", "cases", "closed", "closed_on_time",
                 "deferred", "reworked", "sum_close_min", "n_close")  # fmt: skip
# Only counted cases (not merged or cancelled) reach the daily rows.
_SUMS = """SELECT created_day, substr(grid_code, 1, 6), matter_code, source, min(matter_class),
  count(*), sum(closed), sum(CASE WHEN on_time = 1 THEN 1 ELSE 0 END), sum(deferred), sum(reworked),
  coalesce(sum(close_min), 0), sum(closed)
FROM case_facts WHERE counted = 1{where}
GROUP BY created_day, substr(grid_code, 1, 6), matter_code, source"""
_INSERT = f"INSERT INTO case_daily ({', '.join(DAILY_COLUMNS)}) "


def _param(name: str, dialect: str) -> str:
    return f"%({name})s" if dialect == "postgresql" else f":{name}"


def rebuild_all(db: Connection) -> None:
    """Every day's rows from the facts, and no day dirty (the caller's transaction)."""
    db.execute("DELETE FROM case_daily_dirty", {})
    db.execute("DELETE FROM case_daily", {})
    db.execute(_INSERT + _SUMS.format(where=""), {})


def refresh_day(db: Connection, dialect: str, day: str) -> None:
    """One day's rows from its facts, its dirty marks cleared (the caller's transaction)."""
    p = _param("day", dialect)
    params: dict[str, Any] = {"day": day}
    db.execute(f"DELETE FROM case_daily_dirty WHERE day = {p}", params)
    db.execute(f"DELETE FROM case_daily WHERE day = {p}", params)
    db.execute(_INSERT + _SUMS.format(where=f" AND created_day = {p}"), params)


def dirty_days(db: Connection, most: int) -> list[str]:
    return [
        r[0]
        for r in db.execute(
            f"SELECT DISTINCT day FROM case_daily_dirty ORDER BY day LIMIT {int(most)}", {}
        ).fetchall()
    ]
