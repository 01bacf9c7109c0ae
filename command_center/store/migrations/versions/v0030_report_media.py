"""0030 citizens' report media: photos, voice notes, video clips; follows of open cases (issue 22).

The tables of store/report_media_schema.py: `report_media` (a report's files, their kind and
MIME judged from the bytes) and `case_follows` (a resident following an open case nearby
instead of reporting it again)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_media",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("report_id", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("mime", sa.Text, nullable=False),
        sa.Column("file", sa.Text, nullable=False),
        sa.Column("bytes", sa.Integer, nullable=False),
        sa.Column("duration_s", sa.Float),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("report_media_report", "report_media", ["report_id"])
    op.create_index("report_media_case", "report_media", ["case_id"])
    op.create_table(
        "case_follows",
        sa.Column("case_id", sa.Text, primary_key=True),
        sa.Column("resident_id", sa.Text, primary_key=True),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("case_follows_resident", "case_follows", ["resident_id", "created_at"])
