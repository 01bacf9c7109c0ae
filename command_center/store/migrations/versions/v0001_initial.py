"""0001 initial: the schema as it was before cases kept their location as columns.

IF NOT EXISTS throughout: a SQLite database made before migrations existed may have some
of these tables already (store/migrate.py's legacy baseline).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite: INTEGER PRIMARY KEY AUTOINCREMENT; PostgreSQL: BIGSERIAL PRIMARY KEY.
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incidents", sa.Column("id", sa.Text, primary_key=True), _text("ts"), _text("camera_id", True),
        _text("state"), _text("doc"), if_not_exists=True,
    )  # fmt: skip
    op.create_index("incidents_ts", "incidents", ["ts"], if_not_exists=True)
    op.create_table(
        "cases", sa.Column("id", sa.Text, primary_key=True), _text("state"),
        sa.Column("is_open", sa.Integer, nullable=False), _text("matter_code"), _text("grid_code"),
        _text("assignee", True), _text("created_at"), _text("deadline"),
        sa.Column("version", sa.Integer, nullable=False), _text("doc"), if_not_exists=True,
    )  # fmt: skip
    op.create_index("cases_open_matter", "cases", ["is_open", "matter_code", "created_at"], if_not_exists=True)
    op.create_index("cases_assignee", "cases", ["assignee", "is_open"], if_not_exists=True)
    op.create_table(
        "case_timeline", sa.Column("seq", SEQ, primary_key=True, autoincrement=True), _text("case_id"),
        _text("ts"), _text("action"), _text("actor"), _text("from_state"), _text("to_state"), _text("note"),
        if_not_exists=True, sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index("case_timeline_case", "case_timeline", ["case_id", "seq"], if_not_exists=True)
    op.create_table(
        "reports", sa.Column("id", sa.Text, primary_key=True), _text("created_at"), _text("case_id", True),
        _text("doc"), if_not_exists=True,
    )  # fmt: skip
    op.create_index("reports_created", "reports", ["created_at"], if_not_exists=True)
    op.create_table(
        "users", sa.Column("username", sa.Text, primary_key=True), _text("password_hash"), _text("role"),
        sa.Column("jurisdiction", sa.Text, nullable=False, server_default=sa.text("''")),
        _text("worker_id", True), _text("created_at"),
        sa.Column("disabled", sa.Integer, nullable=False, server_default=sa.text("0")), if_not_exists=True,
    )  # fmt: skip
    op.create_table(
        "audit", sa.Column("seq", SEQ, primary_key=True, autoincrement=True), _text("ts"), _text("actor"),
        _text("role"), _text("action"), _text("target"), _text("ip"), _text("detail", True),
        if_not_exists=True, sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index("audit_actor", "audit", ["actor", "seq"], if_not_exists=True)
