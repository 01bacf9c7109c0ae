"""0021 field photos: photos a worker takes on the rounds (check-ins, care visits, door
plates), whose and in which grid, and which record uses them (store/field_photo_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "field_photos",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("used_by", sa.Text),
        sa.Column("used_at", sa.Text),
    )
    op.create_index("field_photos_unused", "field_photos", ["used_at", "created_at"])
