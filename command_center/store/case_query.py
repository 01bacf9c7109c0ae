"""Which cases a listing asks for: the one type both the Store protocol and the
statements (store/queries.py) need, kept apart so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CaseQuery:
    open_only: bool = False
    state: str | None = None
    assignee: str | None = None
    grid_prefix: str | None = None  # a district/street/community code's significant digits
    created_since: datetime | None = None
    created_before: datetime | None = None  # exclusive: [created_since, created_before)
    limit: int = 100
    offset: int = 0
