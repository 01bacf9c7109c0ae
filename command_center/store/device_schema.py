"""The device registry (registry/device_model.py) and devices' recent readings as tables, on
store/schema.py's `metadata`; migration 0023 makes the same tables.

Like store/patrol_schema.py, kept out of schema.py and not imported by it: code that needs
these tables imports this module. Times are UTC ISO text with milliseconds (one length:
text order is time order on both databases); `installed_at` is a date (YYYY-MM-DD).
`thresholds` is JSON text, read and written whole. A retired device keeps its row
(`retired_at`), out of every list and count, so its readings and cases still name it.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import COORDINATE, metadata

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("lon", COORDINATE, nullable=False),
    sa.Column("lat", COORDINATE, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("thresholds", sa.Text, nullable=False),  # JSON: {name: number | {name: number}}
    sa.Column("heartbeat_s", sa.Integer),  # NULL: the kind's window
    sa.Column("state", sa.Text, nullable=False),  # online | offline | alarm
    sa.Column("last_seen", sa.Text),
    sa.Column("battery", COORDINATE),
    sa.Column("signal", COORDINATE),
    sa.Column("installed_at", sa.Text),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    sa.Column("retired_at", sa.Text),
    # a scope's devices (a grid-code range) and the counts by state per area read only this index
    sa.Index("devices_grid", "grid_code", "state"),
)

# A bounded recent series per device and reading, for sparklines and an incident's series:
# the key is also the dedupe of a redelivered message (QoS 1) and the order of `recent`.
device_readings = sa.Table(
    "device_readings",
    metadata,
    sa.Column("device_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, primary_key=True),
    sa.Column("ts", sa.Text, primary_key=True),
    sa.Column("value", COORDINATE, nullable=False),  # a boolean reading is 1 or 0
    sa.Index("device_readings_ts", "ts"),  # the age sweep's range
)
