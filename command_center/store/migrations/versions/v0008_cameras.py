"""0008 cameras: the registry's cameras, overlaid by id on the configuration's, a deleted
one kept as a tombstone (command_center/registry/cameras.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cameras",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("deleted", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_index("cameras_grid", "cameras", ["grid_code"])
