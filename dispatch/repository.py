"""What dispatch needs from storage; the store backends in command_center implement it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from dispatch.cases import Case, TimelineEntry


class CaseIdTaken(Exception):
    """insert_case: a case with this id is stored already (the dispatcher draws another)."""


class CaseRepository(Protocol):
    def insert_case(self, case: Case) -> None:
        """Store a new case with its timeline; CaseIdTaken when its id is taken (where the
        store can tell at once: PostgreSQL's group commit finds it at the commit instead,
        and fails the batch, which is taken in again)."""
        ...

    def get_case(self, case_id: str) -> Case | None: ...

    def save_transition(self, case: Case, entry: TimelineEntry) -> bool:
        """Store `case` (whose version was bumped by one) and append `entry`, atomically,
        only if the stored version is still `case.version - 1`. False when someone else won."""
        ...

    def open_cases_of_matter(
        self, matter_code: str, since: datetime, near: tuple[float, float, float] | None = None
    ) -> list[Case]:
        """Open cases of a matter created since `since`; with `near` = (lon, lat, metres), at
        least those within that distance (a bounding box: the caller measures exactly)."""
        ...

    def prefetch_open_cases(self, wanted: list[tuple[str, datetime, tuple[float, float, float]]]) -> None:
        """A hint: the open_cases_of_matter(matter, since, near) reads about to come, named
        together so that a store whose every read is a round trip can answer them in one.
        A store whose reads are cheap may ignore it."""
        ...

    def open_counts(self, worker_ids: Iterable[str]) -> dict[str, int]: ...
