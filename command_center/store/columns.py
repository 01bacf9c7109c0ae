"""What both stores write alike: the columns of each table they share, and a case's row.

Both stores spell their SQL for their own driver; the shapes of the rows stay here, in
one place, so that neither store imports the other.
"""

from __future__ import annotations

import json

from dispatch.cases import DONE_STATES, Case

USER_FIELDS = (
    "username", "password_hash", "role", "jurisdiction", "worker_id", "created_at", "disabled", "token_version"
)
# What add_users puts where a row leaves a field out.
USER_DEFAULTS: dict[str, object] = {"disabled": 0, "token_version": 0}
AUDIT_FIELDS = ("seq", "ts", "actor", "role", "action", "target", "ip", "detail")
AUDIT_LISTED = (*AUDIT_FIELDS, "hash")  # list_audit's rows: the fields and the row's chain hash
KEY_FIELDS = ("id", "name", "stream", "note", "secret_hash", "created_at", "created_by", "rotated_at", "revoked_at")
DONE = tuple(s.value for s in DONE_STATES)
# Cases kept parsed, by id: the dedupe check reads every open case of a matter on each
# intake, and parsing them (JSON, timeline query, dataclasses) was most of its cost.
# An entry is used only while its version equals the stored one, and every change to a
# case row bumps the version (save_transition's compare-and-set), so it is never stale.
CASE_CACHE = 20_000


def case_columns(case: Case) -> tuple:
    """The cases table's columns after the id, in insert order."""
    # The timeline table is the record; the doc holds the rest. Dropping the timeline
    # before to_dict spares asdict deep-copying it only to throw the copy away.
    doc = case.to_dict(timeline=False)
    return (
        case.state.value,
        int(case.state.value not in DONE),
        case.matter_code,
        case.grid_code,
        case.assignee,
        case.created_at.isoformat(),
        case.deadline.isoformat(),
        case.version,
        json.dumps(doc, ensure_ascii=False),
        case.lon,
        case.lat,
    )
