"""Residents' chat with their grid worker (网格员客服窗口) as tables, on store/schema.py's
`metadata`; migration 0029 makes the same.

A conversation belongs to one resident and one grid; `worker_id` is whoever answers now (the
grid's on-duty worker), or NULL while it waits at the grid's service desk (no one on duty, or
outside office hours). A message's `seq` is the server's sequence: one counter for every
conversation, so "everything after the last one I saw" is one number per client, and the order
of a conversation is the order of its seqs. `read_at` is set once, when the other side reads it.
Like store/resident_schema.py, not imported by schema.py: the modules that use it import it.
Times are UTC ISO text (they order and compare as text).
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import metadata

# PostgreSQL: BIGSERIAL; SQLite: INTEGER PRIMARY KEY (the rowid, increasing: rows are never deleted)
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

chat_conversations = sa.Table(
    "chat_conversations",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),  # CV + 16 hex digits
    sa.Column("resident_id", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("worker_id", sa.Text),  # NULL: at the grid's service desk
    sa.Column("state", sa.Text, nullable=False),  # open, closed
    sa.Column("case_id", sa.Text),  # set when the conversation was turned into a case
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("last_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Index("chat_conversations_resident", "resident_id", "updated_at"),
    sa.Index("chat_conversations_grid", "grid_code", "updated_at"),
    sa.Index("chat_conversations_worker", "worker_id", "updated_at"),
)

chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("seq", SEQ, primary_key=True, autoincrement=True),
    sa.Column("conversation_id", sa.Text, nullable=False),
    sa.Column("sender_kind", sa.Text, nullable=False),  # resident, worker, staff, system
    sa.Column("sender_id", sa.Text, nullable=False),  # resident id, worker id, user name; "" for system
    sa.Column("kind", sa.Text, nullable=False),  # text, photo, location, system
    sa.Column("body", sa.Text, nullable=False),  # the text (a photo's or location's caption may be "")
    sa.Column("photo_id", sa.Text),
    sa.Column("lon", sa.Float),
    sa.Column("lat", sa.Float),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("read_at", sa.Text),
    # 0033: the server-made id it was delivered under before it was stored (chat_fast.py), and
    # the sender's own id for it (a re-send with the same ref is stored once); NULL before 0033
    sa.Column("msg_id", sa.Text),
    sa.Column("ref", sa.Text),
    # a conversation's history (paged by seq); a sender's recent messages (the flood limits)
    sa.Index("chat_messages_conversation", "conversation_id", "seq"),
    sa.Index("chat_messages_sender", "sender_id", "created_at"),
    sa.Index("chat_messages_ref", "conversation_id", "sender_id", "ref", unique=True),
)
