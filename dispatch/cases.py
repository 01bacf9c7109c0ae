"""The case and its state machine: the seven steps of 数字城管, as pure functions.

reported → registered → dispatched → accepted → in_progress → feedback → verified
→ closed → evaluated. A failed check returns the case to dispatched; escalation
(督办) raises the level without changing the step; a duplicate is merged into
another case. The hall's desk dispatches by hand what the machine could not route (or
what waits for confirmation), reassigns to another worker, reclassifies a case's matter,
and cancels (作废) a case opened by a false alarm. Branches: 缓办 (defer) puts an accepted case on hold until a date and
`resume` returns it to the step it left; 转办 (transfer) hands it to a department
(采办分离), which then runs the loop as its assignee.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class CaseState(StrEnum):
    REPORTED = "reported"
    REGISTERED = "registered"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    FEEDBACK = "feedback"
    VERIFIED = "verified"
    CLOSED = "closed"
    EVALUATED = "evaluated"
    MERGED = "merged"
    DEFERRED = "deferred"  # 缓办: on hold, the time limit stopped until `deferred_until`
    CANCELLED = "cancelled"  # 作废: opened by a false alarm (or in error) and recalled


S = CaseState
DONE_STATES = frozenset({S.CLOSED, S.EVALUATED, S.MERGED, S.CANCELLED})
OPEN_STATES = frozenset(set(S) - DONE_STATES)

# action → {from state: to state}. Escalation keeps the step and raises the level.
# Deferral and transfer start only once someone has looked at the task (accepted it):
# before that the officer, not the worker, decides where it goes (transfer from registered).
TRANSITIONS: dict[str, dict[CaseState, CaseState]] = {
    "register": {S.REPORTED: S.REGISTERED},
    "dispatch": {S.REGISTERED: S.DISPATCHED},
    "accept": {S.DISPATCHED: S.ACCEPTED},
    "start": {S.ACCEPTED: S.IN_PROGRESS},
    "feedback": {S.ACCEPTED: S.FEEDBACK, S.IN_PROGRESS: S.FEEDBACK},
    "verify": {S.FEEDBACK: S.VERIFIED},
    # 核查结案 is one step in practice: the checker may close straight from feedback.
    "close": {S.FEEDBACK: S.CLOSED, S.VERIFIED: S.CLOSED},
    "return": {S.FEEDBACK: S.DISPATCHED, S.VERIFIED: S.DISPATCHED},
    "evaluate": {S.CLOSED: S.EVALUATED},
    "escalate": {s: s for s in OPEN_STATES},
    "merge": {s: S.MERGED for s in OPEN_STATES},
    # Deferring a deferred case moves its hold date (a second approval), not a new step.
    "defer": {S.ACCEPTED: S.DEFERRED, S.IN_PROGRESS: S.DEFERRED, S.DEFERRED: S.DEFERRED},
    # The target is a placeholder: resume goes back to the step the case was deferred from.
    "resume": {S.DEFERRED: S.DEFERRED},
    "transfer": {S.REGISTERED: S.DISPATCHED, S.ACCEPTED: S.DISPATCHED, S.IN_PROGRESS: S.DISPATCHED},
    # Another worker takes over: the task goes back to be accepted by them.
    "reassign": {S.DISPATCHED: S.DISPATCHED, S.ACCEPTED: S.DISPATCHED, S.IN_PROGRESS: S.DISPATCHED},
    # Another matter: its time limit and standard apply from the case's creation.
    "reclassify": {s: s for s in OPEN_STATES},
    # A false alarm's case is recalled: at once while nobody has acted on it; once work
    # started, only when the officer chooses to (the endpoint asks).
    "cancel": {S.REGISTERED: S.CANCELLED, S.DISPATCHED: S.CANCELLED, S.ACCEPTED: S.CANCELLED,
               S.IN_PROGRESS: S.CANCELLED, S.DEFERRED: S.CANCELLED},
}
ACTIONS = tuple(TRANSITIONS)
# 核查 must be done by someone other than who reported the work done.
REVIEW_ACTIONS = frozenset({"verify", "close", "return"})
# Actions that end, return or move someone's work: the timeline must say why.
REASON_ACTIONS = frozenset({"return", "cancel", "reassign", "reclassify"})
# Before anyone acted on it: a case in these steps may be recalled without asking.
UNTOUCHED_STATES = frozenset({S.REGISTERED, S.DISPATCHED})
URGENCIES = ("immediate", "urgent", "routine")


def allowed_actions(state: CaseState | str) -> list[str]:
    state = CaseState(state)
    return [action for action, moves in TRANSITIONS.items() if state in moves]


class UnknownAction(ValueError):
    def __init__(self, action: str) -> None:
        super().__init__(f"unknown case action {action!r}; known: {', '.join(ACTIONS)}")
        self.action = action


class ActorNotAllowed(PermissionError):
    """The action is valid for the case's state, but not for this actor."""

    def __init__(self, action: str, actor: str, reason: str) -> None:
        self.action = action
        self.actor = actor
        self.reason = reason
        super().__init__(f"{actor} cannot {action} this case: {reason}")


class InvalidTransition(ValueError):
    def __init__(self, state: CaseState, action: str) -> None:
        self.state = state
        self.action = action
        self.allowed = allowed_actions(state)
        super().__init__(f"cannot {action} a case that is {state.value}; allowed: {', '.join(self.allowed) or 'none'}")


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    ts: datetime
    action: str
    actor: str
    from_state: CaseState
    to_state: CaseState
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts.isoformat(),
            "action": self.action,
            "actor": self.actor,
            "from_state": self.from_state.value,
            "to_state": self.to_state.value,
            "note": self.note,
        }


def new_case_id(now: datetime) -> str:
    # 64 random bits: with 32, two of a day's 10,000 cases shared an id about once in a
    # hundred days (n²/2³³), and the later one was refused by the store.
    return f"C{now:%Y%m%d}-{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    state: CaseState
    matter_code: str
    grid_code: str
    source: str  # video, citizen, worker, emergency
    created_at: datetime
    deadline: datetime
    lon: float
    lat: float
    assignee: str | None = None
    incident_ids: tuple[str, ...] = ()
    description: str = ""
    snapshot_url: str | None = None  # always ours (an incident's snapshot, an uploaded photo)
    # A reporter's own link to a picture elsewhere: shown as a link, never loaded as our snapshot.
    external_media_url: str | None = None
    level: int = 0  # supervision level: 0 none, 1 escalated one level up, ...
    returns: int = 0  # failed checks (返工)
    merged_into: str | None = None
    deferred_until: datetime | None = None  # set while deferred: when the hold ends
    department: str | None = None  # set once transferred: the department that handles it
    photos: tuple[str, ...] = ()  # URLs of photos attached by feedback and checks
    urgency: str = "routine"  # its matter's on the day it opened: immediate, urgent or routine
    # Confirm-first matters: the case waits (registered, no assignee) for the hall until then;
    # afterwards the triage sweep dispatches it, or holds it in the unrouted queue (policy).
    confirm_by: datetime | None = None
    version: int = 0  # bumped on every transition: the store's compare-and-set key
    updated_at: datetime | None = None
    timeline: tuple[TimelineEntry, ...] = field(default=())
    # The IoT device that raised it (iot_incidents.iot_intake): the terminal and the desk name it.
    device_id: str | None = None
    device_name: str | None = None
    device_kind: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_dict(self, timeline: bool = True) -> dict[str, Any]:
        """The case as JSON-ready data. Built field by field: `asdict` deep-copies every
        nested value and was the largest cost of storing a case. `timeline=False` leaves
        out the timeline (and what is derived from it), for a store that keeps it apart."""
        raw: dict[str, Any] = {
            "id": self.id,
            "state": self.state.value,
            "matter_code": self.matter_code,
            "grid_code": self.grid_code,
            "source": self.source,
            "created_at": self.created_at.isoformat(),
            "deadline": self.deadline.isoformat(),
            "location": {"lon": self.lon, "lat": self.lat},
            "assignee": self.assignee,
            "incident_ids": list(self.incident_ids),
            "description": self.description,
            "snapshot_url": self.snapshot_url,
            "external_media_url": self.external_media_url,
            "level": self.level,
            "returns": self.returns,
            "merged_into": self.merged_into,
            "deferred_until": self.deferred_until.isoformat() if self.deferred_until else None,
            "department": self.department,
            "photos": list(self.photos),
            "urgency": self.urgency,
            "confirm_by": self.confirm_by.isoformat() if self.confirm_by else None,
            "version": self.version,
            "updated_at": (self.updated_at or self.created_at).isoformat(),
            "allowed_actions": allowed_actions(self.state),
        }
        if self.device_id is not None:  # only an IoT case's: other cases' documents stay as they were
            raw |= {"device_id": self.device_id, "device_name": self.device_name, "device_kind": self.device_kind}
        if timeline:
            raw["timeline"] = [entry.to_dict() for entry in self.timeline]
            # Who gave the feedback may not check it: lets a terminal hide verify/close for them.
            raw["handled_by"] = handler_of(self)
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Case:
        timeline = tuple(
            TimelineEntry(
                ts=datetime.fromisoformat(e["ts"]),
                action=e["action"],
                actor=e["actor"],
                from_state=CaseState(e["from_state"]),
                to_state=CaseState(e["to_state"]),
                note=e.get("note", ""),
            )
            for e in raw.get("timeline", ())
        )
        return cls(
            id=raw["id"],
            state=CaseState(raw["state"]),
            matter_code=raw["matter_code"],
            grid_code=raw["grid_code"],
            source=raw["source"],
            created_at=datetime.fromisoformat(raw["created_at"]),
            deadline=datetime.fromisoformat(raw["deadline"]),
            lon=raw["location"]["lon"],
            lat=raw["location"]["lat"],
            assignee=raw.get("assignee"),
            incident_ids=tuple(raw.get("incident_ids", ())),
            description=raw.get("description", ""),
            snapshot_url=raw.get("snapshot_url"),
            external_media_url=raw.get("external_media_url"),
            level=raw.get("level", 0),
            returns=raw.get("returns", 0),
            merged_into=raw.get("merged_into"),
            deferred_until=datetime.fromisoformat(raw["deferred_until"]) if raw.get("deferred_until") else None,
            department=raw.get("department"),
            photos=tuple(raw.get("photos", ())),
            urgency=raw.get("urgency", "routine"),
            confirm_by=datetime.fromisoformat(raw["confirm_by"]) if raw.get("confirm_by") else None,
            version=raw.get("version", 0),
            updated_at=datetime.fromisoformat(raw["updated_at"]) if raw.get("updated_at") else None,
            timeline=timeline,
            device_id=raw.get("device_id"),
            device_name=raw.get("device_name"),
            device_kind=raw.get("device_kind"),
        )


def check_transition(case: Case, action: str) -> None:
    """Raise unless `action` may be applied to the case in its current state."""
    if action not in TRANSITIONS:
        raise UnknownAction(action)
    if case.state not in TRANSITIONS[action]:
        raise InvalidTransition(case.state, action)


def transition(
    case: Case,
    action: str,
    actor: str,
    note: str = "",
    now: datetime | None = None,
    **changes: Any,
) -> tuple[Case, TimelineEntry]:
    """Apply one action; returns the new case and the timeline entry to append."""
    check_transition(case, action)
    now = now or datetime.now(UTC)
    to_state = resumed_state(case) if action == "resume" else TRANSITIONS[action][case.state]
    entry = TimelineEntry(now, action, actor, case.state, to_state, note)
    if action == "escalate":
        changes.setdefault("level", case.level + 1)
    if action == "return":
        changes.setdefault("returns", case.returns + 1)
    updated = replace(
        case,
        state=to_state,
        version=case.version + 1,
        updated_at=now,
        timeline=(*case.timeline, entry),
        **changes,
    )
    return updated, entry


def resumed_state(case: Case) -> CaseState:
    """The step a deferred case left: the last deferral that started from a working step."""
    for entry in reversed(case.timeline):
        if entry.action == "defer" and entry.from_state != S.DEFERRED:
            return entry.from_state
    return S.ACCEPTED  # only deferrals from accepted or in_progress exist


def handler_of(case: Case) -> str | None:
    """Who reported the work done last (the feedback's actor), if anyone."""
    return next((e.actor for e in reversed(case.timeline) if e.action == "feedback"), None)


def check_actor(case: Case, action: str, actor: str) -> None:
    """Separation of duties: whoever reported the work done may not check it (核查)."""
    if action in REVIEW_ACTIONS and actor == handler_of(case):
        raise ActorNotAllowed(action, actor, "the check must be made by someone other than who gave the feedback")
