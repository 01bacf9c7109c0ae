"""0009 matters: the matter catalogue's versions per district, the working calendar's
stored days, and settings changed in the console (command_center/registry/matters.py,
work_calendar.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "matter_versions",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        _text("code"), _text("district"), sa.Column("version", sa.Integer, nullable=False),
        _text("status"), _text("change"), _text("doc"), _text("effective_from"),
        _text("proposed_by"), _text("proposed_at"), _text("reason"),
        _text("decided_by", True), _text("decided_at", True), _text("decision_note", True),
        sa.UniqueConstraint("code", "district", "version", name="matter_versions_version"),
        sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index("matter_versions_status", "matter_versions", ["status", "district"])
    op.create_table(
        "holidays",
        sa.Column("day", sa.Text, primary_key=True),
        _text("kind"), _text("name"), _text("updated_by"), _text("updated_at"),
    )  # fmt: skip
    op.create_table(
        "settings",
        sa.Column("key", sa.Text, primary_key=True),
        _text("doc"), _text("updated_by"), _text("updated_at"),
    )  # fmt: skip
