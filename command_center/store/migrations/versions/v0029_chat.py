"""0029 residents' chat with their grid worker: conversations, messages, receipts (issue 22).

Reserved in advance so that work on several features chains one line of revisions; the
feature's tables are created here (store/chat_schema.py)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("resident_id", sa.Text, nullable=False),
        sa.Column("grid_code", sa.Text, nullable=False),
        sa.Column("worker_id", sa.Text),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("case_id", sa.Text),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("updated_at", sa.Text, nullable=False),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    )
    op.create_index("chat_conversations_resident", "chat_conversations", ["resident_id", "updated_at"])
    op.create_index("chat_conversations_grid", "chat_conversations", ["grid_code", "updated_at"])
    op.create_index("chat_conversations_worker", "chat_conversations", ["worker_id", "updated_at"])
    op.create_table(
        "chat_messages",
        sa.Column(
            "seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("conversation_id", sa.Text, nullable=False),
        sa.Column("sender_kind", sa.Text, nullable=False),
        sa.Column("sender_id", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("photo_id", sa.Text),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("created_at", sa.Text, nullable=False),
        sa.Column("read_at", sa.Text),
    )
    op.create_index("chat_messages_conversation", "chat_messages", ["conversation_id", "seq"])
    op.create_index("chat_messages_sender", "chat_messages", ["sender_id", "created_at"])
