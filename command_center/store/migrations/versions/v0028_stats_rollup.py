"""0028 statistics roll-ups and forecasts: monthly table, hotspot cells, forecast runs (issue 21).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here."""

from __future__ import annotations

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass

