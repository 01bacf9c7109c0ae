"""0026 performance assessment: schemes, monthly frozen scores, appeals, honours (issue 21).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here (store/assessment_schema.py holds the same)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assessment_runs",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("scheme_version", sa.Text, nullable=False),
        sa.Column("scheme_label", sa.Text, nullable=False),
        sa.Column("scheme", sa.Text, nullable=False),
        sa.Column("cutoff_day", sa.Text, nullable=False),
        sa.Column("digest", sa.Text, nullable=False),
        sa.Column("subjects", sa.Integer, nullable=False),
        sa.Column("frozen_at", sa.Text, nullable=False),
        sa.Column("frozen_by", sa.Text, nullable=False),
        sa.Column("recomputed_at", sa.Text),
    )
    op.create_table(
        "assessment_scores",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("level", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("cases", sa.Integer, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
    )
    op.create_index("assessment_scores_rank", "assessment_scores", ["month", "level", "rank"])
    op.create_table(
        "assessment_honours",
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("level", sa.Text, primary_key=True),
        sa.Column("subject", sa.Text, primary_key=True),
        sa.Column("honour", sa.Text, primary_key=True),
    )
    op.create_table(
        "assessment_notices",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("month", sa.Text, nullable=False),
        sa.Column("worker_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("assessment_notices_worker", "assessment_notices", ["worker_id", "month"])
    op.create_table(
        "assessment_appeals",
        sa.Column("id", SEQ, primary_key=True, autoincrement=True),
        sa.Column("month", sa.Text, nullable=False),
        sa.Column("level", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("subject_key", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("filed_by", sa.Text, nullable=False),
        sa.Column("filed_at", sa.Text, nullable=False),
        sa.Column("decided_by", sa.Text),
        sa.Column("decided_at", sa.Text),
        sa.Column("note", sa.Text),
    )
    op.create_index("assessment_appeals_month", "assessment_appeals", ["month", "state"])
    op.create_index("assessment_appeals_case", "assessment_appeals", ["case_id", "month"])
