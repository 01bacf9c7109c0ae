"""0006 registry: the version of each part of the registry, that nodes poll to apply
changes live (command_center/registry/changes.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_versions",
        sa.Column("part", sa.Text, primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("changed_at", sa.Text, nullable=False),
    )
