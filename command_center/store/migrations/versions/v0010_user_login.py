"""0010 user_login: when and from where each account last signed in, for the admin console's
user list (set on each successful sign-in, api/auth.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("last_login_at", sa.Text, nullable=True))
    op.add_column("users", sa.Column("last_login_ip", sa.Text, nullable=True))
