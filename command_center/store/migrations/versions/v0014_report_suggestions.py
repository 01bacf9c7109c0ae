"""0014 report_suggestions: the classes suggested for reports and what people chose, kept
to retrain the report classifier (dispatch/suggest.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_suggestions",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("has_photo", sa.Boolean, nullable=False),
        sa.Column("suggested", sa.Text, nullable=False),
        sa.Column("chosen_code", sa.Text),
        sa.Column("chosen_by", sa.Text),
        sa.Column("chosen_at", sa.Text),
        sa.Column("case_id", sa.Text),
    )
    op.create_index("report_suggestions_chosen", "report_suggestions", ["chosen_at"])
