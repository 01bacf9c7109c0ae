"""Field photos (现场照片: a check-in's, a care visit's, a door plate's) as a table, on
store/schema.py's `metadata`; migration 0021 makes the same table.

Like store/patrol_schema.py, kept out of schema.py and not imported by it: the modules that
use the table import this one. The JPEG itself is a file under the data dir
(field_photos/<grid>/<id>.jpg, api/field_photos.py); the row says whose it is, in which grid,
and whether a record uses it yet: `used_at` NULL past the retention's window means the form
that took it was never sent, and the sweep deletes it (command_center/retention.py).
Times are UTC ISO text: they order and compare as the sweep's cutoff on both databases.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import metadata

field_photos = sa.Table(
    "field_photos",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # P + 12 hex digits (command_center/photos.PHOTO_ID)
    sa.Column("owner", sa.Text, nullable=False),  # who uploaded it: the worker id, or a staff user
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("used_by", sa.Text),  # the first record that referenced it: checkin:PC…, visit:V…
    sa.Column("used_at", sa.Text),
    # the sweep's question, "unused and older than the cutoff?", answered from this index
    sa.Index("field_photos_unused", "used_at", "created_at"),
)
