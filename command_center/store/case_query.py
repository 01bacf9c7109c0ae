"""Which cases a listing asks for: the one type both the Store protocol and the
statements (store/queries.py) need, kept apart so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ORDERS = ("deadline", "created")


@dataclass(frozen=True, slots=True)
class CaseQuery:
    open_only: bool = False
    state: str | None = None
    states: tuple[str, ...] = ()  # any of these (the desk's comma list); with `state`, both must hold
    assignee: str | None = None
    assignees: tuple[str, ...] = ()  # any of these workers (at most queries.SHORT_LIST)
    grid_prefix: str | None = None  # a district/street/community code's significant digits
    created_since: datetime | None = None
    created_before: datetime | None = None  # exclusive: [created_since, created_before)
    # The case desk's search (api/case_desk.py): None (or False) is "any".
    id_prefix: str | None = None  # a case id, or its first or last characters
    matter_code: str | None = None
    source: str | None = None  # video, citizen, worker, emergency (in the document)
    urgency: str | None = None  # immediate, urgent, routine (in the document; older cases: routine)
    text: str | None = None  # words in the description or in a timeline note, any case
    # Registered with nobody assigned: cases the machine could not route, or that wait for
    # the hall's confirmation; the desk's queue.
    unrouted: bool = False
    order: str = "deadline"  # deadline: open first, soonest due; created: newest first
    limit: int = 100
    offset: int = 0
