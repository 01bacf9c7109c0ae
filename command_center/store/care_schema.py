"""The special-group ledger (basedata/care.py) as tables, on store/schema.py's `metadata`.

Like store/basedata_schema.py: kept out of schema.py, imported by the modules that use
these tables (store/care_records.py) and by the schema check; migration 0016 makes the
same tables. Dates are ISO text, as everywhere in the store (they order the same on both
databases); a visit's time is ISO text with its offset.

`escalated` is the sweep's memory (command_center/care_overdue.py): the highest level
already announced for the current due date, so each level is raised at most once; a
visit, or a change of the due date, sets it back to 0. It is not part of the versioned
record: raising a level must not make a worker's open form stale.
"""

from __future__ import annotations

import sqlalchemy as sa

from command_center.store.schema import COORDINATE, metadata

# 特殊群体: one row per person per group; `care_group` because GROUP is an SQL keyword.
care_memberships = sa.Table(
    "care_memberships",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("care_group", sa.Text, nullable=False),
    sa.Column("grid_code", sa.Text, nullable=False),
    sa.Column("since", sa.Text, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("paired_with", sa.Text),
    sa.Column("visit_every_days", sa.Integer, nullable=False),
    sa.Column("last_visit_at", sa.Text),
    sa.Column("next_visit_due", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("escalated", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Column("updated_at", sa.Text, nullable=False),
    sa.Column("updated_by", sa.Text, nullable=False),
    # a grid's due and overdue visits (lists, counts, the sweep), a person's groups, a worker's pairs
    sa.Index("care_memberships_grid", "grid_code", "next_visit_due"),
    sa.Index("care_memberships_person", "person_id"),
    sa.Index("care_memberships_paired", "paired_with"),
)

# 走访记录: photos are a JSON list of uploaded photos' ids.
care_visits = sa.Table(
    "care_visits",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("membership_id", sa.Text, nullable=False),
    sa.Column("person_id", sa.Text, nullable=False),
    sa.Column("worker_id", sa.Text, nullable=False),
    sa.Column("at", sa.Text, nullable=False),
    sa.Column("lon", COORDINATE),
    sa.Column("lat", COORDINATE),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("photos", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("created_at", sa.Text, nullable=False),
    sa.Index("care_visits_membership", "membership_id", "at"),
    sa.Index("care_visits_person", "person_id"),
)
