"""0011 worker_photos: the public worker card's photos in the store, served by every node
(they were files under one node's data_dir)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_photos",
        sa.Column("worker_id", sa.Text, primary_key=True),
        sa.Column("jpeg", sa.LargeBinary, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )
