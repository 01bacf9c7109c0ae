"""0034 issue 22 — reserved for the marketplace, forum and media (a placeholder until its work lands: empty revisions keep the chain linear)."""

from __future__ import annotations

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
