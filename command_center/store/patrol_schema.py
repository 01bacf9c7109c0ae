"""Patrols and attendance (basedata/patrol.py, basedata/attendance.py) as tables, on
store/schema.py's `metadata`; migration 0017 makes the same tables.

Like store/basedata_schema.py, kept out of schema.py and not imported by it: code that
needs these tables imports this module. Times are ISO text in local time with their
offset (YYYY-MM-DDTHH:MM:SS+08:00): the first ten characters are the local day, which is
what coverage and the monthly summary group by, on both databases alike. A checklist and
a check-in's answers are JSON text: read and written whole, never queried inside.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import COORDINATE, metadata

# 重点场所: a place a worker checks every `every_days`.
key_places = sa.Table(
    "key_places",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("lon", COORDINATE, nullable=False),
    sa.Column("lat", COORDINATE, nullable=False),
    sa.Column("radius_m", COORDINATE, nullable=False),
    sa.Column("checklist", sa.Text, nullable=False),  # JSON: [{id, text, matter}]
    sa.Column("every_days", sa.Integer, nullable=False),
    sa.Column("last_checked_at", sa.Text),
    sa.Column("next_due", sa.Text),  # NULL: never checked, so due
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    # a grid's places by due date: the route and the coverage read only this index
    sa.Index("key_places_grid", "grid_code", "next_due"),
)

# A worker's check-in at a place, with the answers to its checklist.
patrol_checkins = sa.Table(
    "patrol_checkins",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("place_id", sa.Text, nullable=False),
    sa.Column("worker_id", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("lon", COORDINATE, nullable=False),
    sa.Column("lat", COORDINATE, nullable=False),
    sa.Column("distance_m", COORDINATE, nullable=False),
    sa.Column("photo_id", sa.Text),
    sa.Column("answers", sa.Text, nullable=False),  # JSON: {item id: ok | hazard | na}
    sa.Column("hazard_note", sa.Text, nullable=False),
    sa.Column("case_id", sa.Text),
    sa.Index("patrol_checkins_place", "place_id", "at"),
    sa.Index("patrol_checkins_worker", "worker_id", "at"),
)

# One row per worker and local day: on duty from on_at, off at off_at (NULL: still on).
attendance_days = sa.Table(
    "attendance_days",
    metadata,
    sa.Column("worker_id", sa.Text, primary_key=True),
    sa.Column("day", sa.Text, primary_key=True),  # YYYY-MM-DD, local
    sa.Column("on_at", sa.Text, nullable=False),
    sa.Column("off_at", sa.Text),
    sa.Column("on_lon", COORDINATE, nullable=False),
    sa.Column("on_lat", COORDINATE, nullable=False),
    sa.Column("off_lon", COORDINATE),
    sa.Column("off_lat", COORDINATE),
    sa.Column("grid_code", sa.Text, nullable=False),  # the own grid the check-in fell in
    sa.Column("late", sa.Boolean, nullable=False),  # started after the shift's start and the grace
    sa.Column("duty_s", sa.Integer),  # seconds on duty, set at check-out: the month sums it
    # "is the worker on duty now?": their open day, found without a scan
    sa.Index("attendance_days_open", "worker_id", "off_at"),
)

# A worker's positions while on duty only; deleted after `attendance.track_days`.
attendance_track = sa.Table(
    "attendance_track",
    metadata,
    sa.Column("worker_id", sa.Text, primary_key=True),
    sa.Column("at", sa.Text, primary_key=True),  # UTC ISO: orders and compares as the retention cutoff
    sa.Column("lon", COORDINATE, nullable=False),
    sa.Column("lat", COORDINATE, nullable=False),
    sa.Index("attendance_track_at", "at"),  # the retention sweep's range
)
