"""Rules turn tracks into incidents. Each rule is configured per zone; most raise an
incident once per track (`Once`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vision.track import Track


@dataclass(frozen=True, slots=True)
class Hit:
    rule: str
    zone: str
    track: Track


class Rule(Protocol):
    name: str
    zone: str

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        """The hits of this frame. Called once per processed frame with the tracks seen in it."""
        ...


class Once:
    """One hit per track, and at most one per zone within the cooldown."""

    def __init__(self, cooldown_s: float) -> None:
        self.cooldown_s = cooldown_s
        self.fired: set[int] = set()
        self.last: float | None = None

    def allow(self, track_id: int, ts: float) -> bool:
        if track_id in self.fired:
            return False
        self.fired.add(track_id)
        if self.last is not None and ts - self.last < self.cooldown_s:
            return False
        self.last = ts
        return True

    def forget(self, keep: set[int]) -> None:
        self.fired &= keep
