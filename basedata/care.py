"""The special-group ledger (特殊群体台账): who belongs to a group that needs care, who is
paired with them (结对帮扶), how often they are visited (定期走访慰问), and the visits.

Pure domain, no I/O: the store (command_center/store/care_records.py), the overdue sweep
(command_center/care_overdue.py) and the API (command_center/api/care.py) build on it.

A membership is due on `next_visit_due`: a visit on that day or before is on time; from the
day after it is overdue, and the longer it stays so the higher it is raised, like an
overdue case (督办): the paired worker first, then the community's officer, then the street.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from basedata.model import GRID_CODE

CareGroup = Literal["dibao", "tekun", "elderly_alone", "child_in_need", "disabled", "mental_illness", "other"]
GROUP_NAMES: dict[str, str] = {
    "dibao": "低保",
    "tekun": "特困",
    "elderly_alone": "独居老人",
    "child_in_need": "困境儿童",
    "disabled": "残疾人",
    "mental_illness": "严重精神障碍患者",
    "other": "其他",
}
Outcome = Literal["ok", "needs_help", "not_home"]  # seen and well, seen and needing help, no one opened
# Escalation levels: 0 on time; 1 the paired worker is warned; 2 the community's officer; 3 the street.
Level = Literal[0, 1, 2, 3]
MAX_PHOTOS = 9
PHOTO_ID = r"^P[0-9a-f]{12}$"  # as command_center/photos.py names an uploaded photo
KEY = r"^[0-9A-Za-z_.:-]{1,80}$"
PhotoId = Annotated[str, Field(pattern=PHOTO_ID)]


def _visit_days() -> dict[CareGroup, int]:
    # Those living alone weekly and the severely mentally ill fortnightly (the usual 随访
    # rhythm); everyone else monthly. A deployment overrides any of them.
    return {"elderly_alone": 7, "mental_illness": 14, "dibao": 30, "tekun": 30,
            "child_in_need": 30, "disabled": 30, "other": 30}  # fmt: skip


class CarePolicy(BaseModel):
    """Visit frequency per group (the default of a new membership) and when an overdue visit
    goes up a level: the worker at once, the officer after `officer_after_days`, the
    street after `street_after_days` days overdue."""

    model_config = ConfigDict(extra="forbid")

    visit_days: dict[CareGroup, int] = Field(default_factory=_visit_days, description="days between visits per group")
    officer_after_days: int = Field(default=3, ge=1, le=366, description="days overdue before the officer is told")
    street_after_days: int = Field(default=7, ge=1, le=366, description="days overdue before the street is told")

    @model_validator(mode="after")
    def _ordered(self) -> CarePolicy:
        if self.street_after_days <= self.officer_after_days:
            raise ValueError("street_after_days must be more than officer_after_days (the street comes after the officer)")
        bad = {group: days for group, days in self.visit_days.items() if not 1 <= days <= 366}
        if bad:
            raise ValueError(f"visit_days must be 1..366 days: {bad}")
        return self

    def every(self, group: CareGroup) -> int:
        """The visit frequency of a group (30 days for one the configuration leaves out)."""
        return self.visit_days.get(group, 30)


class Membership(BaseModel):
    """One person in one group, with their care plan and where the visits stand."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=KEY)
    person_id: str = Field(min_length=1, max_length=80, description="basedata.model.Person.id")
    group: CareGroup
    grid_code: str = Field(pattern=GRID_CODE)
    since: date
    plan: str = Field(default="", max_length=500, description="the care plan (帮扶计划)")
    paired_with: str | None = Field(default=None, min_length=1, max_length=64, description="the worker paired (结对)")
    visit_every_days: int = Field(ge=1, le=366)
    last_visit_at: date | None = None
    next_visit_due: date
    active: bool = True
    version: int = Field(default=1, ge=1)


class Visit(BaseModel):
    """A visit (走访) as the worker records it on the terminal."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=KEY)
    membership_id: str = Field(pattern=KEY)
    person_id: str = Field(min_length=1, max_length=80)
    worker_id: str = Field(min_length=1, max_length=64, description="who visited (a worker id, or a staff user)")
    at: datetime
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    note: str = Field(default="", max_length=2000)
    photos: list[PhotoId] = Field(default_factory=list, max_length=MAX_PHOTOS, description="ids of uploaded photos")
    outcome: Outcome = "ok"

    @model_validator(mode="after")
    def _checked(self) -> Visit:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("lon and lat come together")
        return self


def new_membership(
    id: str, person_id: str, group: CareGroup, grid_code: str, since: date, policy: CarePolicy, **fields: object
) -> Membership:
    """A membership from its start date: its frequency the group's (unless given), its first
    visit due one period after `since`."""
    every = fields.pop("visit_every_days", None)
    if every is None:
        every = policy.every(group)
    # A bad frequency is left for the model to refuse, naming the field; the due date waits for a good one.
    fits = isinstance(every, int) and not isinstance(every, bool) and 1 <= every <= 366
    due = since + timedelta(days=every) if fits else since  # type: ignore[arg-type]
    return Membership.model_validate(
        {"id": id, "person_id": person_id, "group": group, "grid_code": grid_code, "since": since,
         "visit_every_days": every, "next_visit_due": due, **fields}
    )  # fmt: skip


def counts_as_visit(outcome: str) -> bool:
    """A door no one opened (not_home) is recorded, but the person was not seen: the visit
    is still owed, and its due date does not move."""
    return outcome != "not_home"


def next_due(membership: Membership, visited_on: date) -> date:
    """The next visit's due date after a visit on `visited_on` (one period later). A visit
    entered late for an earlier day never moves the due date back."""
    after = visited_on + timedelta(days=membership.visit_every_days)
    if membership.last_visit_at is not None and membership.last_visit_at > visited_on:
        after = max(after, membership.last_visit_at + timedelta(days=membership.visit_every_days))
    return after


def overdue(membership: Membership, today: date) -> int:
    """Days the visit is overdue on `today` (0: on time, or the membership has ended)."""
    if not membership.active:
        return 0
    return max(0, (today - membership.next_visit_due).days)


def escalation_level(days_overdue: int, policy: CarePolicy) -> Level:
    """0 on time; 1 overdue at all (the paired worker); 2 more than `officer_after_days`
    (the community's officer); 3 more than `street_after_days` (the street)."""
    if days_overdue > policy.street_after_days:
        return 3
    if days_overdue > policy.officer_after_days:
        return 2
    if days_overdue > 0:
        return 1
    return 0


def overdue_since(level: int, today: date, policy: CarePolicy) -> date:
    """The due dates that reach `level` on `today`: those before the returned day (the SQL
    side of escalation_level, so the database picks the memberships to raise)."""
    lag = {1: 0, 2: policy.officer_after_days, 3: policy.street_after_days}[level]
    return today - timedelta(days=lag)
