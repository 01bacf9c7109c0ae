"""0031 service marketplace and forum: providers, services, requests, notices, threads, moderation (issue 22).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here."""

from __future__ import annotations

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass

