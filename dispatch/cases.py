"""The case and its state machine: the seven steps of 数字城管, as pure functions.

reported → registered → dispatched → accepted → in_progress → feedback → verified
→ closed → evaluated. A failed check returns the case to dispatched; escalation
(督办) raises the level without changing the step; a duplicate is merged into
another case.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field, replace
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


S = CaseState
DONE_STATES = frozenset({S.CLOSED, S.EVALUATED, S.MERGED})
OPEN_STATES = frozenset(set(S) - DONE_STATES)

# action → {from state: to state}. Escalation keeps the step and raises the level.
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
}
ACTIONS = tuple(TRANSITIONS)


def allowed_actions(state: CaseState | str) -> list[str]:
    state = CaseState(state)
    return [action for action, moves in TRANSITIONS.items() if state in moves]


class UnknownAction(ValueError):
    def __init__(self, action: str) -> None:
        super().__init__(f"unknown case action {action!r}; known: {', '.join(ACTIONS)}")
        self.action = action


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
    return f"C{now:%Y%m%d}-{secrets.token_hex(4)}"


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
    snapshot_url: str | None = None
    level: int = 0  # supervision level: 0 none, 1 escalated one level up, ...
    returns: int = 0  # failed checks (返工)
    merged_into: str | None = None
    version: int = 0  # bumped on every transition: the store's compare-and-set key
    updated_at: datetime | None = None
    timeline: tuple[TimelineEntry, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw.update(
            state=self.state.value,
            created_at=self.created_at.isoformat(),
            deadline=self.deadline.isoformat(),
            updated_at=(self.updated_at or self.created_at).isoformat(),
            incident_ids=list(self.incident_ids),
            location={"lon": self.lon, "lat": self.lat},
            timeline=[entry.to_dict() for entry in self.timeline],
            allowed_actions=allowed_actions(self.state),
        )
        del raw["lon"], raw["lat"]
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
            level=raw.get("level", 0),
            returns=raw.get("returns", 0),
            merged_into=raw.get("merged_into"),
            version=raw.get("version", 0),
            updated_at=datetime.fromisoformat(raw["updated_at"]) if raw.get("updated_at") else None,
            timeline=timeline,
        )


def transition(
    case: Case,
    action: str,
    actor: str,
    note: str = "",
    now: datetime | None = None,
    **changes: Any,
) -> tuple[Case, TimelineEntry]:
    """Apply one action; returns the new case and the timeline entry to append."""
    if action not in TRANSITIONS:
        raise UnknownAction(action)
    moves = TRANSITIONS[action]
    if case.state not in moves:
        raise InvalidTransition(case.state, action)
    now = now or datetime.now(UTC)
    to_state = moves[case.state]
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
