"""Time limits and supervision (督办): warn once a share of the working time is used
(dispatch.warn_at in the config: 75% unless set), escalate one level up when overdue.
Computed from stored times on every sweep, never from sleeping timers, so a restart
loses nothing.

A deferral (缓办) stops the clock: the deadline moves later by the working time on
hold, nothing is warned or escalated while the hold lasts, and a sweep after the
hold date resumes the case with the working time it had left.

A matter limited in minutes (a fire, a person down) runs by the clock instead of working
hours, in all of this: at 3 am on a Sunday its case is still warned and escalated on time
(`ROUND_THE_CLOCK`, chosen per case by Dispatcher.hours_of)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from dispatch.calendar import WorkCalendar
from dispatch.cases import Case, CaseState, TimelineEntry, transition
from dispatch.catalog import Matter

SUPERVISION = "supervision"
LEVEL_NAMES = ("grid", "community", "street", "district", "city")
WARN_AT = 0.75  # the default of dispatch.warn_at (DispatchConfig)
MAX_HOLD_DAYS = 250  # about a working year


class Hours(Protocol):
    """How time on a case's clock is counted: working hours (WorkCalendar) or every hour."""

    def add_hours(self, start: datetime, hours: float) -> datetime: ...

    def hours_between(self, a: datetime, b: datetime) -> float: ...


class RoundTheClock:
    """Every hour counts, nights, weekends and holidays too: the clock of a matter whose
    time limit is in minutes."""

    def add_hours(self, start: datetime, hours: float) -> datetime:
        return start + timedelta(hours=hours)

    def hours_between(self, a: datetime, b: datetime) -> float:
        """Hours from a to b (0 if b is before a), as WorkCalendar counts them."""
        return max(0.0, (b - a).total_seconds() / 3600)


ROUND_THE_CLOCK = RoundTheClock()


def deadline_for(calendar: WorkCalendar, matter: Matter, start: datetime) -> datetime:
    limit = matter.time_limit
    if limit.minutes is not None:  # by the clock: an immediate matter does not wait for Monday
        return start + timedelta(minutes=limit.minutes)
    if limit.days is not None:
        return calendar.add_days(start, limit.days)
    return calendar.add_hours(start, limit.hours or 0.0)


def dispatched_at(case: Case) -> datetime:
    """The time limit runs from the first dispatch (DESIGN §4): a failed check or a transfer
    does not restart it, or rework would be rewarded with more time."""
    times = [e.ts for e in case.timeline if e.action == "dispatch"]
    return times[0] if times else case.created_at


def remaining_hours(case: Case, now: datetime, calendar: Hours) -> float:
    """Working hours left on the clock; a deferred case's clock stopped when it was deferred,
    so what it had left is the span from the hold's end to its deadline."""
    if case.state == CaseState.DEFERRED and case.deferred_until is not None:
        return calendar.hours_between(case.deferred_until, case.deadline)
    return calendar.hours_between(now, case.deadline)


class BadHold(ValueError):
    """A deferral's end that cannot be: `detail` names what was given."""

    def __init__(self, reason: str, detail: object = None) -> None:
        super().__init__(reason)
        self.detail = detail


def hold_end(params: dict[str, Any], now: datetime, calendar: WorkCalendar, tz: tzinfo) -> datetime:
    """A deferral's end: a date (`until`; naive = the city's local time `tz`), or a span of
    working `hours` or `days` from now. Pops them from `params`; raises BadHold."""
    given = [k for k in ("until", "hours", "days") if params.get(k) is not None]
    if len(given) != 1:
        raise BadHold("a deferral needs exactly one of 'until', 'hours' or 'days'", given)
    key = given[0]
    value = params.pop(key)
    for other in ("until", "hours", "days"):
        params.pop(other, None)
    if key == "until":
        if not isinstance(value, datetime):
            raise BadHold("'until' must be a date and time", str(value))
        until = value if value.tzinfo else value.replace(tzinfo=tz)
    else:
        most = MAX_HOLD_DAYS * (calendar.hours_per_day if key == "hours" else 1)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= most:
            raise BadHold(f"'{key}' must be a number of working {key} within 0..{most:g}", value)
        until = (calendar.add_hours if key == "hours" else calendar.add_days)(now, value)
    # Bounded: a hold of years is a closed case in disguise, and calendar arithmetic
    # that far out is where a bad holiday list would fail.
    if until > now + timedelta(days=2 * MAX_HOLD_DAYS):
        raise BadHold(f"a deferral may last at most {MAX_HOLD_DAYS} working days", until.isoformat())
    return until


def defer_changes(case: Case, now: datetime, calendar: Hours, until: datetime) -> dict[str, datetime]:
    """Fields for deferring until `until`: the time left restarts from there."""
    if until <= now:
        raise ValueError(f"a deferral must end in the future, not {until.isoformat()}")
    left = remaining_hours(case, now, calendar)
    return {"deferred_until": until, "deadline": calendar.add_hours(until, left)}


def resume_changes(case: Case, now: datetime, calendar: Hours) -> dict[str, datetime | None]:
    """Fields for ending a deferral: early, the unused hold comes off the deadline."""
    if case.deferred_until is not None and now < case.deferred_until:
        return {"deferred_until": None, "deadline": calendar.add_hours(now, remaining_hours(case, now, calendar))}
    return {"deferred_until": None}


@dataclass(frozen=True, slots=True)
class Progress:
    used: float  # share of the working time used, 0..(>1 when overdue)
    remaining_h: float  # working hours left (negative: overdue by)
    warn_at: float = WARN_AT  # the share from which supervision warns (dispatch.warn_at)

    @property
    def level(self) -> str:
        return "overdue" if self.used >= 1.0 else "warning" if self.used >= self.warn_at else "ok"


def held_hours(case: Case, now: datetime, calendar: Hours) -> float:
    """Working hours spent on hold: a deferral moved the deadline by as much, so the share of
    the time limit used must leave them out on both sides."""
    held, since = 0.0, None
    for entry in case.timeline:
        if entry.action == "defer" and entry.from_state != CaseState.DEFERRED:
            since = entry.ts
        elif entry.action == "resume" and since is not None:
            held += calendar.hours_between(since, entry.ts)
            since = None
    return held + (calendar.hours_between(since, now) if since is not None else 0.0)


def progress(case: Case, now: datetime, calendar: Hours, warn_at: float = WARN_AT) -> Progress:
    start = dispatched_at(case)
    held = held_hours(case, now, calendar)
    total = max(0.0, calendar.hours_between(start, case.deadline) - held)
    used = max(0.0, calendar.hours_between(start, now) - held)
    if now >= case.deadline:
        return Progress(max(1.0, used / total if total else 1.0), -calendar.hours_between(case.deadline, now), warn_at)
    return Progress(used / total if total else 0.0, total - used, warn_at)


def escalation_target(case: Case) -> str:
    """The area one level further up than the case has reached: grid → community → street…"""
    code = case.grid_code
    keep = {1: 12, 2: 9, 3: 6, 4: 4}.get(case.level + 1, 4)  # significant digits of that level's code
    return code[:keep].ljust(15, "0")


@dataclass(frozen=True, slots=True)
class Supervision:
    case: Case  # with the entry appended and its version bumped: ready for save_transition
    entry: TimelineEntry
    kind: str  # warning, overdue, resumed
    target: str | None = None  # overdue: the area code that now supervises the case


def supervise(case: Case, now: datetime, calendar: Hours, warn_at: float = WARN_AT) -> Supervision | None:
    """What supervision does to one case now, if anything."""
    if not case.is_open:
        return None
    if case.state == CaseState.DEFERRED:
        if case.deferred_until is None or now < case.deferred_until:
            return None  # on hold: the clock is stopped
        changes = resume_changes(case, now, calendar)
        updated, entry = transition(case, "resume", SUPERVISION, "the deferral ended", now, **changes)
        return Supervision(updated, entry, "resumed")
    state = progress(case, now, calendar, warn_at)
    if state.used >= 1.0 and not _has(case, "escalate", since=case.deadline):
        target = escalation_target(case)
        updated, entry = transition(case, "escalate", SUPERVISION, f"overdue: supervised by {target}", now)
        return Supervision(updated, entry, "overdue", target)
    if warn_at <= state.used < 1.0 and not _has(case, "warn", since=_clock_restarted(case)):
        entry = TimelineEntry(now, "warn", SUPERVISION, case.state, case.state, f"{state.used:.0%} of the time limit used")
        updated = replace(case, version=case.version + 1, updated_at=now, timeline=(*case.timeline, entry))
        return Supervision(updated, entry, "warning")
    return None


def _clock_restarted(case: Case) -> datetime:
    """A case resumed after a deferral may be warned again about its new deadline."""
    resumed = [e.ts for e in case.timeline if e.action == "resume"]
    return max([dispatched_at(case), *resumed])


def _has(case: Case, action: str, since: datetime) -> bool:
    return any(e.action == action and e.ts >= since for e in case.timeline)
