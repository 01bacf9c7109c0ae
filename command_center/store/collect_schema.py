"""The terminal's collection forms sent once (api/basedata_collect.py), as a table on
store/schema.py's `metadata`; migration 0018 makes it (and the door-plate photo columns of
buildings and households, store/basedata_schema.py).

Like store/basedata_schema.py, kept out of schema.py and not imported by it: code that
needs the table imports this module.

One row per new record a form made with a client id: who sent it (the actor, so two workers'
ids never meet), the id, and the record it made. A resend whose first answer was lost finds
its row and gets that record back instead of a second one or a 409. The row is written in the
same transaction as the record: there is never a record without its row, nor the reverse.
Rows older than the forms can wait offline are pruned as new ones come (COLLECT_KEEP_DAYS).
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import metadata

collect_requests = sa.Table(
    "collect_requests",
    metadata,
    sa.Column("actor", sa.Text, primary_key=True),  # a worker's id, or a staff user's name
    sa.Column("client_id", sa.Text, primary_key=True),  # the form's own id, made on the phone
    sa.Column("kind", sa.Text, nullable=False),  # basedata.model.RecordKind
    sa.Column("record_key", sa.Text, nullable=False),  # the record it made
    sa.Column("at", sa.Text, nullable=False),  # ISO UTC: when, for the pruning
    sa.Index("collect_requests_at", "at"),
)
