"""0026 performance assessment: schemes, monthly frozen scores, appeals, honours (issue 21).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here."""

from __future__ import annotations

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass

