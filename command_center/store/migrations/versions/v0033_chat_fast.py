"""0033 issue 22 — the chat's delivery at the hub's speed: a message's server-made id and the
client's ref (store/chat_schema.py).

A message is now delivered before it is stored (chat_fast.py), under an id the server makes
(`msg_id`); `ref`, the sender's own id for it, is unique per conversation and sender, so a
sender that never got its acknowledgement sends again without storing it twice. Rows stored
before have neither (NULL: unique indexes let NULLs repeat on SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chat_messages", sa.Column("msg_id", sa.Text))
    op.add_column("chat_messages", sa.Column("ref", sa.Text))
    op.create_index("chat_messages_ref", "chat_messages", ["conversation_id", "sender_id", "ref"], unique=True)


def downgrade() -> None:
    op.drop_index("chat_messages_ref", "chat_messages")
    with op.batch_alter_table("chat_messages") as batch:
        batch.drop_column("ref")
        batch.drop_column("msg_id")
