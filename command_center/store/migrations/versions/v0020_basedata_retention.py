"""0020 basedata retention: the day a person was marked moved out (迁出, people.left_on), which
lists skip and the retention sweep deletes past `basedata.retention.moved_out_days`
(store/basedata_schema.py, command_center/basedata_retention.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: everyone stored lives there still (SQLite adds it in place).
    op.add_column("people", sa.Column("left_on", sa.Text))
    # Partial: only the few who left are in it. A full index would hold every resident under
    # NULL, and SQLite's planner then takes it for "left_on IS NULL" instead of the grid range.
    op.create_index(
        "people_left", "people", ["left_on"],
        sqlite_where=sa.text("left_on IS NOT NULL"), postgresql_where=sa.text("left_on IS NOT NULL"),
    )  # fmt: skip
