"""0017 patrols: key places and patrol check-ins, attendance days and on-duty tracks
(store/patrol_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# As store/schema.py's COORDINATE: 8-byte floats on PostgreSQL too.
COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "key_places",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
        sa.Column("radius_m", COORDINATE, nullable=False),
        sa.Column("checklist", sa.Text, nullable=False),
        sa.Column("every_days", sa.Integer, nullable=False),
        sa.Column("last_checked_at", sa.Text),
        sa.Column("next_due", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )
    op.create_index("key_places_grid", "key_places", ["grid_code", "next_due"])
    op.create_table(
        "patrol_checkins",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("place_id", sa.Text, nullable=False),
        sa.Column("worker_id", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
        sa.Column("distance_m", COORDINATE, nullable=False),
        sa.Column("photo_id", sa.Text),
        sa.Column("answers", sa.Text, nullable=False),
        sa.Column("hazard_note", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text),
    )
    op.create_index("patrol_checkins_place", "patrol_checkins", ["place_id", "at"])
    op.create_index("patrol_checkins_worker", "patrol_checkins", ["worker_id", "at"])
    op.create_table(
        "attendance_days",
        sa.Column("worker_id", sa.Text, primary_key=True),
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("on_at", sa.Text, nullable=False),
        sa.Column("off_at", sa.Text),
        sa.Column("on_lon", COORDINATE, nullable=False),
        sa.Column("on_lat", COORDINATE, nullable=False),
        sa.Column("off_lon", COORDINATE),
        sa.Column("off_lat", COORDINATE),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("duty_s", sa.Integer),
    )
    op.create_index("attendance_days_open", "attendance_days", ["worker_id", "off_at"])
    op.create_table(
        "attendance_track",
        sa.Column("worker_id", sa.Text, primary_key=True),
        sa.Column("at", sa.Text, primary_key=True),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
    )
    op.create_index("attendance_track_at", "attendance_track", ["at"])
