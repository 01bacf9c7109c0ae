"""0027 cost–benefit accounting: budget lines and attributed work time (issue 21).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here."""

from __future__ import annotations

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass

