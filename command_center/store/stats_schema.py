"""The statistics tables (docs/STATS.md), on store/schema.py's `metadata`; migration 0024
makes the same tables.

- `case_facts`: one row per case, what the statistics read of it as plain columns (no JSON,
  no timeline): written by the stores in the same transaction as the case row
  (store/stats_facts.py);
- `case_daily`: the facts summed per creation day, district, matter and source: what the
  city's and a district's figures over whole days read instead of the facts (at 1,000,000
  cases a year, 359,000 rows; per street it would be 822,000, barely fewer than the facts);
- `case_daily_dirty`: the (day, case) pairs written since their day's `case_daily` rows
  were last summed. A read takes a dirty day from the facts, so figures are exact at any
  moment; the stats job (command_center/stats_job.py) sums those days again and clears them;
- `case_daily_class` (migration 0028): `case_daily` summed again over the matters, per day,
  district, source and matter class (~70,000 rows for 1,000,000 cases a year): what the
  city's and a district's series, summary and areas read when no single matter is asked for;
- `case_monthly` (0028): `case_daily` summed per month (~25,000 rows for 1,000,000 cases a
  year): the whole months of a period for the summary, the areas and the matters;
- `case_monthly_street` (0028): the facts summed per month, street, source and class (46,000
  rows for 1,000,000 cases): a district's streets over its whole months (from the facts a
  district's year took 0.9 s);
- `case_cells_monthly` (0028): per month, district and ~100 m cell, the cases of the cells
  with at least CELL_FLOOR in that month: upper bounds that let the hotspots count exactly
  only a few candidate cells (store/stats_hotspots.py) instead of grouping a year of facts.
  Both are summed with `case_daily` (the same dirty marks, the same job and transaction).

A case counts on its creation day, in the city's time zone (as dispatch/kpi.py counts it).
Like the other *_schema modules, not imported by schema.py: code that needs these tables
imports this module.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import COORDINATE, metadata

case_facts = sa.Table(
    "case_facts",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("created_day", sa.Text, nullable=False),  # YYYY-MM-DD, the city's
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("matter_code", sa.Text, nullable=False),
    sa.Column("matter_class", sa.Text, nullable=False),  # 01 … 05, 99: the code's first two digits
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("is_open", sa.Integer, nullable=False),
    sa.Column("counted", sa.Integer, nullable=False),  # 0: merged or cancelled (not work that was due)
    sa.Column("closed", sa.Integer, nullable=False),  # closed or evaluated, with a close
    sa.Column("closed_at", sa.Text),
    sa.Column("closed_day", sa.Text),
    sa.Column("on_time", sa.Integer),  # closed by the deadline: 1/0; NULL while not closed
    sa.Column("reworked", sa.Integer, nullable=False),  # returned at least once
    sa.Column("deferred", sa.Integer, nullable=False),  # deferred at least once
    sa.Column("accept_min", COORDINATE),  # first dispatch (or creation) → last accept
    sa.Column("close_min", COORDINATE),  # first dispatch (or creation) → last close
    sa.Column("cell_x", sa.Integer, nullable=False),  # round(lon × 1000): hotspot cells of ~100 m
    sa.Column("cell_y", sa.Integer, nullable=False),
    sa.Column("lon", COORDINATE),
    sa.Column("lat", COORDINATE),
    # A period's rows in creation order, with what an area filter, the counts and the hotspot
    # cells read (covering: a city's year is counted without touching the table).
    sa.Index(
        "case_facts_day", "created_day", "grid_code", "matter_code", "source", "counted", "cell_x", "cell_y"
    ),
    # An area's rows (a grid-code range), then its days.
    sa.Index("case_facts_grid", "grid_code", "created_day"),
    # A hotspot candidate's cases in the period (migration 0028; covering what they filter on).
    sa.Index(
        "case_facts_cell", "cell_x", "cell_y", "created_day", "counted", "grid_code", "matter_code", "source"
    ),
)

case_daily = sa.Table(
    "case_daily",
    metadata,
    sa.Column("day", sa.Text, primary_key=True),
    sa.Column("district", sa.Text, primary_key=True),  # the grid code's first 6 digits
    sa.Column("matter_code", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("matter_class", sa.Text, nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("closed", sa.Integer, nullable=False),
    sa.Column("closed_on_time", sa.Integer, nullable=False),
    sa.Column("deferred", sa.Integer, nullable=False),
    sa.Column("reworked", sa.Integer, nullable=False),
    sa.Column("sum_close_min", COORDINATE, nullable=False),
    sa.Column("n_close", sa.Integer, nullable=False),
    # SQLite: the rows stored in key order (no rowid), so a period's rows are read in one
    # sweep with their sums, not looked up one by one from an index.
    sqlite_with_rowid=False,
)

case_daily_dirty = sa.Table(
    "case_daily_dirty",
    metadata,
    sa.Column("day", sa.Text, primary_key=True),
    sa.Column("case_id", sa.Text, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)

DAILY_SUMS = ("cases", "closed", "closed_on_time", "deferred", "reworked", "sum_close_min", "n_close")

case_daily_class = sa.Table(
    "case_daily_class",
    metadata,
    sa.Column("day", sa.Text, primary_key=True),
    sa.Column("district", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("matter_class", sa.Text, primary_key=True),
    *(sa.Column(n, sa.Integer, nullable=False) for n in DAILY_SUMS if n != "sum_close_min"),
    sa.Column("sum_close_min", COORDINATE, nullable=False),
    sqlite_with_rowid=False,  # (as case_daily: a period's rows in one sweep)
)

case_monthly = sa.Table(
    "case_monthly",
    metadata,
    sa.Column("month", sa.Text, primary_key=True),  # YYYY-MM
    sa.Column("district", sa.Text, primary_key=True),
    sa.Column("matter_code", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("matter_class", sa.Text, nullable=False),
    *(sa.Column(n, sa.Integer, nullable=False) for n in DAILY_SUMS if n != "sum_close_min"),
    sa.Column("sum_close_min", COORDINATE, nullable=False),
    sqlite_with_rowid=False,
)

case_monthly_street = sa.Table(
    "case_monthly_street",
    metadata,
    sa.Column("month", sa.Text, primary_key=True),
    sa.Column("street", sa.Text, primary_key=True),  # the grid code's first 9 digits
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("matter_class", sa.Text, primary_key=True),
    *(sa.Column(n, sa.Integer, nullable=False) for n in DAILY_SUMS if n != "sum_close_min"),
    sa.Column("sum_close_min", COORDINATE, nullable=False),
    sqlite_with_rowid=False,
)

# The months whose monthly roll-ups are behind their daily rows (days summed since): read
# from the daily rows (and the facts) until the stats job sums them again.
case_monthly_dirty = sa.Table("case_monthly_dirty", metadata, sa.Column("month", sa.Text, primary_key=True))

CELL_FLOOR = 3  # a month's cell with fewer cases is left out: it had at most CELL_FLOOR - 1
case_cells_monthly = sa.Table(
    "case_cells_monthly",
    metadata,
    sa.Column("month", sa.Text, primary_key=True),  # YYYY-MM
    sa.Column("district", sa.Text, primary_key=True),
    sa.Column("cell_x", sa.Integer, primary_key=True),
    sa.Column("cell_y", sa.Integer, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sqlite_with_rowid=False,
)
