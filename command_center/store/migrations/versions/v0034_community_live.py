"""0034 issue 22 — a report's media swept with its files: `report_media.removed_at`.

The retention sweep (command_center/retention.py) deletes citizens' media files past
`retention.uploads_days`; their rows stay, marked with the time they were swept, so that a case
shows "已按规定删除" where the photo, voice note or clip was instead of a broken link."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("report_media", sa.Column("removed_at", sa.Text))
    op.create_index("report_media_created", "report_media", ["created_at"])


def downgrade() -> None:
    op.drop_index("report_media_created", "report_media")
    op.drop_column("report_media", "removed_at")
