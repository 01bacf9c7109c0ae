"""0003 user_sessions: revocable sessions. A token carries its account's token_version when
issued, and is refused once the version moved on (password, role or jurisdiction changed,
disabled)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("token_version", sa.Integer, nullable=False, server_default=sa.text("0")))
