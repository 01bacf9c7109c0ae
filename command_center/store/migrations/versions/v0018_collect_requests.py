"""0018 collect requests: the terminal's collection forms sent once (store/collect_schema.py),
and a door-plate photo (门牌照片) on buildings and households (store/basedata_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "collect_requests",
        sa.Column("actor", sa.Text, primary_key=True),
        sa.Column("client_id", sa.Text, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("record_key", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
    )
    op.create_index("collect_requests_at", "collect_requests", ["at"])
    # Nullable, no default: existing rows need nothing written (SQLite adds it in place).
    op.add_column("buildings", sa.Column("plate_photo_id", sa.Text))
    op.add_column("households", sa.Column("plate_photo_id", sa.Text))
