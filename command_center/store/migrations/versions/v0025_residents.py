"""0025 residents: residents signed in by phone and one-time code, their codes (hashed), which
reports are theirs, and their ratings of closed cases (store/resident_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "residents",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("phone_index", sa.Text, nullable=False, unique=True),
        sa.Column("phone_sealed", sa.Text, nullable=False),
        sa.Column("phone_masked", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("last_seen", sa.Text, nullable=False),
        sa.Column("blocked", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("token_version", sa.Integer, nullable=False, server_default=sa.text("0")),
    )
    op.create_table(
        "resident_codes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("phone_index", sa.Text, nullable=False),
        sa.Column("address_hash", sa.Text, nullable=False),
        sa.Column("code_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("expires_at", sa.Text, nullable=False),
        sa.Column("tries", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("used_at", sa.Text),
    )
    op.create_index("resident_codes_phone", "resident_codes", ["phone_index", "created_at"])
    op.create_index("resident_codes_address", "resident_codes", ["address_hash", "created_at"])
    op.create_index("resident_codes_created", "resident_codes", ["created_at"])
    op.create_table(
        "resident_reports",
        sa.Column("report_id", sa.Text, primary_key=True),
        sa.Column("resident_id", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
    )
    op.create_index("resident_reports_resident", "resident_reports", ["resident_id", "created_at"])
    op.create_table(
        "case_ratings",
        sa.Column("report_id", sa.Text, primary_key=True),
        sa.Column("case_id", sa.Text, nullable=False),
        sa.Column("resident_id", sa.Text, nullable=False),
        sa.Column("stars", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("rated_at", sa.Text, nullable=False),
    )
    op.create_index("case_ratings_case", "case_ratings", ["case_id"])
