"""0016 care: the special-group ledger (特殊群体台账): memberships with their care plan and
visit cycle, and the visits (store/care_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# As store/schema.py's COORDINATE: 8-byte floats on PostgreSQL too.
COORDINATE: sa.types.TypeEngine[float] = sa.REAL().with_variant(postgresql.DOUBLE_PRECISION(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "care_memberships",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("care_group", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("since", sa.Text, nullable=False),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("paired_with", sa.Text),
        sa.Column("visit_every_days", sa.Integer, nullable=False),
        sa.Column("last_visit_at", sa.Text),
        sa.Column("next_visit_due", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("escalated", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )
    op.create_index("care_memberships_grid", "care_memberships", ["grid_code", "next_visit_due"])
    op.create_index("care_memberships_person", "care_memberships", ["person_id"])
    op.create_index("care_memberships_paired", "care_memberships", ["paired_with"])
    op.create_table(
        "care_visits",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("membership_id", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("worker_id", sa.Text, nullable=False),
        sa.Column("at", sa.Text, nullable=False),
        sa.Column("lon", COORDINATE),
        sa.Column("lat", COORDINATE),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("photos", sa.Text, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("care_visits_membership", "care_visits", ["membership_id", "at"])
    op.create_index("care_visits_person", "care_visits", ["person_id"])
