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
  moment; the stats job (command_center/stats_job.py) sums those days again and clears them.

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
