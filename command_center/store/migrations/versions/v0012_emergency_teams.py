"""0012 emergency_teams: the streets' emergency teams and their members, and the response
plans as admins changed them (command_center/emergency/teams.py, emergency/plans.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "emergency_teams",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("street_code", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
    )
    op.create_index("emergency_teams_street", "emergency_teams", ["street_code"])
    op.create_table(
        "emergency_team_members",
        sa.Column("team_id", sa.Text, primary_key=True),
        sa.Column("worker_id", sa.Text, primary_key=True),
        sa.Column("role", sa.Text, nullable=False),
    )
    op.create_index("emergency_team_members_worker", "emergency_team_members", ["worker_id"])
    op.create_table(
        "emergency_plans",
        sa.Column("emergency_class", sa.Text, primary_key=True),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("updated_by", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
    )
