"""0028 statistics roll-ups and forecasts: monthly table, hotspot cells, forecast runs (issue 21).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here (store/stats_schema.py, docs/STATS.md):

- `case_daily_class`: `case_daily` summed over the matters (day, district, source, class);
- `case_monthly`: `case_daily` summed per month (month, district, matter, source);
- `case_monthly_street`: the facts summed per month, street, source and class;
- `case_cells_monthly`: per month, district and cell, the cases of the cells with at least
  CELL_FLOOR in the month (the hotspots' upper bounds);
- `case_monthly_dirty`: the months whose monthly roll-ups are behind their daily rows;
- index `case_facts_cell`: a candidate cell's cases in a period.

Both tables are back-filled from the stored facts by the same statements the stats job sums
them with (store/stats_daily.py), and any dirty day is summed with them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")


def _sums() -> list[sa.Column[Any]]:
    """The counted figures each roll-up keeps (as case_daily does)."""
    counts = ("cases", "closed", "closed_on_time", "deferred", "reworked", "n_close")
    return [*(sa.Column(name, sa.Integer, nullable=False) for name in counts),
            sa.Column("sum_close_min", COORDINATE, nullable=False)]  # fmt: skip


def upgrade() -> None:
    op.create_table(
        "case_daily_class",
        sa.Column("day", sa.Text, primary_key=True),
        sa.Column("district", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("matter_class", sa.Text, primary_key=True),
        *_sums(),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_monthly",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("district", sa.Text, primary_key=True),
        sa.Column("matter_code", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("matter_class", sa.Text, nullable=False),
        *_sums(),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_monthly_street",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("street", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("matter_class", sa.Text, primary_key=True),
        *_sums(),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_cells_monthly",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("district", sa.Text, primary_key=True),
        sa.Column("cell_x", sa.Integer, primary_key=True),
        sa.Column("cell_y", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_table("case_monthly_dirty", sa.Column("month", sa.Text, primary_key=True))
    op.create_index(
        "case_facts_cell",
        "case_facts",
        ["cell_x", "cell_y", "created_day", "counted", "grid_code", "matter_code", "source"],
    )
    from command_center.store.migrations.versions.v0024_case_stats import _Driver
    from command_center.store.stats_daily import rebuild_all

    rebuild_all(_Driver(op.get_bind()))
