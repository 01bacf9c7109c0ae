"""0023 devices: the IoT device registry and the devices' recent readings
(store/device_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

# As store/schema.py's COORDINATE: 8-byte floats on PostgreSQL too.
COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("lon", COORDINATE, nullable=False),
        sa.Column("lat", COORDINATE, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("address", sa.Text, nullable=False),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("heartbeat_s", sa.Integer),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("last_seen", sa.Text),
        sa.Column("battery", COORDINATE),
        sa.Column("signal", COORDINATE),
        sa.Column("installed_at", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("retired_at", sa.Text),
    )
    op.create_index("devices_grid", "devices", ["grid_code", "state"])
    op.create_table(
        "device_readings",
        sa.Column("device_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("ts", sa.Text, primary_key=True),
        sa.Column("value", COORDINATE, nullable=False),
    )
    op.create_index("device_readings_ts", "device_readings", ["ts"])
