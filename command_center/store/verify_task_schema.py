"""Verification tasks (basedata/verify_tasks.py) as a table, on store/schema.py's `metadata`.

Like store/care_schema.py: kept out of schema.py, imported by the module that uses it
(store/verify_task_records.py) and by the schema check; migration 0019 makes the same table.

A task names its record by kind and key (no foreign key: the record tables have none
either, and a task outlives a record re-keyed by an import). Days are ISO text
(YYYY-MM-DD), the city's local days; `opened_at` and `closed_at` are UTC ISO times. The
partial unique index is what makes the sweep idempotent on both databases: at most one
open task per record, whatever runs twice.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import SEQ, metadata

OPEN = sa.text("closed_at IS NULL")

verify_tasks = sa.Table(
    "verify_tasks",
    metadata,
    sa.Column("id", SEQ, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.Text, nullable=False),  # basedata.model.RecordKind
    sa.Column("record_key", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),  # the record's grid when the task opened
    sa.Column("worker_id", sa.Text),  # the grid's worker then; NULL: the grid had none (the hall sees it)
    sa.Column("due_on", sa.Text, nullable=False),  # the deadline: the record's next check
    sa.Column("opened_on", sa.Text, nullable=False),
    sa.Column("opened_at", sa.Text, nullable=False),  # the sweep that opened it (its announcement)
    sa.Column("closed_at", sa.Text),
    sa.Column("closed_on", sa.Text),
    sa.Column("closed_by", sa.Text),
    sa.Column("on_time", sa.Boolean),  # closed_on <= due_on, fixed when closed
    sa.Index(
        "verify_tasks_open", "kind", "record_key", unique=True, sqlite_where=OPEN, postgresql_where=OPEN
    ),
    # a worker's list and KPIs; an area's (grid-code ranges); the sweep's announcement
    sa.Index("verify_tasks_worker", "worker_id", "due_on"),
    sa.Index("verify_tasks_grid", "grid_code", "due_on"),
    sa.Index("verify_tasks_opened", "opened_at"),
    sqlite_autoincrement=True,
)
