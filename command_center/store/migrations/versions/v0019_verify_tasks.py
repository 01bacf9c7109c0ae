"""0019 verify tasks: base-data re-check tasks opened by the sweep, one open per record
(store/verify_task_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# As store/schema.py's SEQ: 8-byte ids on PostgreSQL, SQLite's INTEGER rowid alias.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN = sa.text("closed_at IS NULL")


def upgrade() -> None:
    op.create_table(
        "verify_tasks",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("record_key", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("worker_id", sa.Text),
        sa.Column("due_on", sa.Text, nullable=False),
        sa.Column("opened_on", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Text, nullable=False),
        sa.Column("closed_at", sa.Text),
        sa.Column("closed_on", sa.Text),
        sa.Column("closed_by", sa.Text),
        sa.Column("on_time", sa.Boolean),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "verify_tasks_open",
        "verify_tasks",
        ["kind", "record_key"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_index("verify_tasks_worker", "verify_tasks", ["worker_id", "due_on"])
    op.create_index("verify_tasks_grid", "verify_tasks", ["grid_code", "due_on"])
    op.create_index("verify_tasks_opened", "verify_tasks", ["opened_at"])
