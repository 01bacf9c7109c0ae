"""0029 residents' chat with their grid worker: conversations, messages, receipts (issue 22).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here."""

from __future__ import annotations

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass

