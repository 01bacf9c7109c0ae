"""0027 cost–benefit accounting: budget lines per area, month and category (issue 21;
store/cost_schema.py). What the lines cost per matter is computed from them with the case
facts, patrol check-ins and care visits when asked (docs/COSTS.md): no table of its own.

Reserved in advance so that work on several features chains one line of revisions."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cost_budget_lines",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("area_code", sa.Text, nullable=False),
        sa.Column("prefix", sa.Text, nullable=False),
        sa.Column("month", sa.Text, nullable=False),
        sa.Column("category", sa.Text, nullable=False),
        sa.Column("grade", sa.Text, nullable=False),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )
    op.create_index(
        "cost_budget_lines_key", "cost_budget_lines", ["month", "area_code", "category", "grade"], unique=True
    )
    op.create_index("cost_budget_lines_prefix", "cost_budget_lines", ["month", "prefix"])
    # a month's patrol check-ins and care visits, read by time (store/cost_queries.py)
    op.create_index("patrol_checkins_at", "patrol_checkins", ["at", "grid_code"])
    op.create_index("care_visits_at", "care_visits", ["at", "membership_id"])
