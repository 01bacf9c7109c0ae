"""Time limits and supervision (督办): warn at 75% of the working time, escalate one
level up when overdue. Computed from stored times on every sweep, never from
sleeping timers, so a restart loses nothing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from dispatch.calendar import WorkCalendar
from dispatch.cases import Case, TimelineEntry, transition
from dispatch.catalog import Matter

SUPERVISION = "supervision"
LEVEL_NAMES = ("grid", "community", "street", "district", "city")


def deadline_for(calendar: WorkCalendar, matter: Matter, start: datetime) -> datetime:
    limit = matter.time_limit
    if limit.days is not None:
        return calendar.add_days(start, limit.days)
    return calendar.add_hours(start, limit.hours or 0.0)


def dispatched_at(case: Case) -> datetime:
    """The time limit runs from dispatch (DESIGN §4); the latest dispatch after a return counts."""
    times = [e.ts for e in case.timeline if e.action == "dispatch"]
    return times[0] if times else case.created_at


@dataclass(frozen=True, slots=True)
class Progress:
    used: float  # share of the working time used, 0..(>1 when overdue)
    remaining_h: float  # working hours left (negative: overdue by)

    @property
    def level(self) -> str:
        return "overdue" if self.used >= 1.0 else "warning" if self.used >= 0.75 else "ok"


def progress(case: Case, now: datetime, calendar: WorkCalendar) -> Progress:
    start = dispatched_at(case)
    total = calendar.hours_between(start, case.deadline)
    used = calendar.hours_between(start, now)
    if now >= case.deadline:
        return Progress(max(1.0, used / total if total else 1.0), -calendar.hours_between(case.deadline, now))
    return Progress(used / total if total else 0.0, total - used)


def escalation_target(case: Case) -> str:
    """The area one level further up than the case has reached: grid → community → street…"""
    code = case.grid_code
    keep = {1: 12, 2: 9, 3: 6, 4: 4}.get(case.level + 1, 4)  # significant digits of that level's code
    return code[:keep].ljust(15, "0")


@dataclass(frozen=True, slots=True)
class Supervision:
    case: Case  # with the entry appended and its version bumped: ready for save_transition
    entry: TimelineEntry
    kind: str  # warning, overdue
    target: str | None = None  # overdue: the area code that now supervises the case


def supervise(case: Case, now: datetime, calendar: WorkCalendar, warn_at: float = 0.75) -> Supervision | None:
    """What supervision does to one case now, if anything."""
    if not case.is_open:
        return None
    state = progress(case, now, calendar)
    if state.used >= 1.0 and not _has(case, "escalate", since=case.deadline):
        target = escalation_target(case)
        updated, entry = transition(case, "escalate", SUPERVISION, f"overdue: supervised by {target}", now)
        return Supervision(updated, entry, "overdue", target)
    if warn_at <= state.used < 1.0 and not _has(case, "warn", since=dispatched_at(case)):
        entry = TimelineEntry(now, "warn", SUPERVISION, case.state, case.state, f"{state.used:.0%} of the time limit used")
        updated = replace(case, version=case.version + 1, updated_at=now, timeline=(*case.timeline, entry))
        return Supervision(updated, entry, "warning")
    return None


def _has(case: Case, action: str, since: datetime) -> bool:
    return any(e.action == action and e.ts >= since for e in case.timeline)
