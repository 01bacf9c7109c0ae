"""Rules turn tracks into incidents. Each rule is configured per zone."""

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
