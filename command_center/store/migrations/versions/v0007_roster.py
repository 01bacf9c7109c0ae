"""0007 roster: workers, their grids over time (worker_grids: history, valid_to NULL =
current), leave, and the grid map every node loads (city_maps; registry/roster.py,
registry/grids.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _text(name: str, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workers",
        sa.Column("id", sa.Text, primary_key=True),
        _text("code"), _text("name"), _text("phone"), _text("kind"), _text("level"),
        sa.Column("active", sa.Integer, nullable=False, server_default=sa.text("1")),
        _text("photo", nullable=True), _text("updated_at"), _text("updated_by"),
    )  # fmt: skip
    op.create_index("workers_code", "workers", ["code"])
    op.create_table(
        "worker_grids",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        _text("worker_id"), _text("grid_code"), _text("shift"), _text("valid_from"),
        _text("valid_to", nullable=True), _text("source"),
        sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index("worker_grids_grid", "worker_grids", ["grid_code", "valid_to"])
    op.create_index("worker_grids_worker", "worker_grids", ["worker_id", "valid_to"])
    op.create_table(
        "worker_leave",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        _text("worker_id"), _text("starts"), _text("ends"),
        sa.Column("note", sa.Text, nullable=False, server_default=sa.text("''")),
        _text("created_by"), _text("created_at"),
        sqlite_autoincrement=True,
    )  # fmt: skip
    op.create_index("worker_leave_worker", "worker_leave", ["worker_id", "ends"])
    op.create_table(
        "city_maps",
        sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
        _text("saved_at"), _text("saved_by"), _text("source"), _text("doc"),
        sqlite_autoincrement=True,
    )  # fmt: skip
