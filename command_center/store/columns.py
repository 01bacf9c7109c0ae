"""What both stores write alike: a case's row, its timeline rows, a user's defaults.

The statements are in store/queries.py; the shapes of the rows they take stay here, in
one place, so that neither store imports the other.
"""

from __future__ import annotations

import json
from typing import Any

from command_center.store.queries import CASE_FIELDS
from dispatch.cases import DONE_STATES, Case, TimelineEntry

# What add_users puts where a row leaves a field out.
USER_DEFAULTS: dict[str, object] = {"disabled": 0, "token_version": 0}
DONE = tuple(s.value for s in DONE_STATES)
# Cases kept parsed, by id: the dedupe check reads every open case of a matter on each
# intake, and parsing them (JSON, timeline query, dataclasses) was most of its cost.
# An entry is used only while its version equals the stored one, and every change to a
# case row bumps the version (save_transition's compare-and-set), so it is never stale.
CASE_CACHE = 20_000


def case_columns(case: Case) -> tuple[Any, ...]:
    """The cases table's columns after the id, in queries.CASE_FIELDS order."""
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


def case_params(case: Case) -> dict[str, Any]:
    """The parameters of queries' insert_case (and update_case, less `prior`)."""
    params = dict(zip(CASE_FIELDS, case_columns(case), strict=True))
    params["id"] = case.id
    return params


def timeline_params(case_id: str, entries: tuple[TimelineEntry, ...]) -> list[dict[str, Any]]:
    return [
        {
            "case_id": case_id,
            "ts": e.ts.isoformat(),
            "action": e.action,
            "actor": e.actor,
            "from_state": e.from_state.value,
            "to_state": e.to_state.value,
            "note": e.note,
        }
        for e in entries
    ]
