"""0004 publish_keys: per-device publish keys (command_center.auth.publish_keys).

A drone or a fixed WHIP camera publishes video and posts telemetry for one stream with
one of these. Only the secret's SHA-256 is kept; a revoked key keeps its row (revoked_at
set) so the audit log still names it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publish_keys",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("stream", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("secret_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("rotated_at", sa.Text),
        sa.Column("revoked_at", sa.Text),
        if_not_exists=True,
    )
    op.create_index("publish_keys_stream", "publish_keys", ["stream"], if_not_exists=True)
