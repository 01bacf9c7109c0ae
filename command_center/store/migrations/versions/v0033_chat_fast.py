"""0033 issue 22 — reserved for the chat's delivery path (a placeholder until its work lands: empty revisions keep the chain linear)."""

from __future__ import annotations

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
