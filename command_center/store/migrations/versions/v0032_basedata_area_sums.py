"""0032 issue 19 — reserved for the base data's kept per-area sums (a placeholder until its work lands: empty revisions keep the chain linear)."""

from __future__ import annotations

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
