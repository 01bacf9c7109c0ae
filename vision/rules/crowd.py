"""Crowding: at least N people in a zone for T seconds; once per gathering."""

from __future__ import annotations

from collections.abc import Sequence

from vision.rules.base import Hit
from vision.rules.geometry import Area
from vision.track import Track


class CrowdRule:
    def __init__(
        self,
        name: str,
        zone: str,
        polygon: Sequence[tuple[float, float]] | None,
        min_count: int,
        hold_s: float,
        labels: frozenset[str] = frozenset({"person"}),
        cooldown_s: float = 60.0,
    ) -> None:
        self.name = name
        self.zone = zone
        self.area = Area(polygon)
        self.min_count = min_count
        self.hold_s = hold_s
        self.labels = labels
        self.cooldown_s = cooldown_s
        self._since: float | None = None
        self._last_fire: float | None = None
        self._fired = False  # this gathering has alerted; it re-arms when the crowd disperses

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        crowd = [t for t in tracks if t.label in self.labels and self.area.holds(t)]
        if len(crowd) < self.min_count:
            self._since = None
            self._fired = False
            return []
        if self._since is None:
            self._since = ts
        cooling = self._last_fire is not None and ts - self._last_fire < self.cooldown_s
        if ts - self._since < self.hold_s or cooling or self._fired:
            return []
        self._last_fire = ts
        self._fired = True
        return [Hit(self.name, self.zone, _crowd_track(crowd, ts))]


def _crowd_track(members: list[Track], ts: float) -> Track:
    """The crowd as one object: the union of its members' boxes, for the snapshot."""
    box = (
        min(t.box[0] for t in members),
        min(t.box[1] for t in members),
        max(t.box[2] for t in members),
        max(t.box[3] for t in members),
    )
    score = sum(t.score for t in members) / len(members)
    return Track(id=-min(t.id for t in members), label="crowd", score=score, box=box, first_seen=ts, last_seen=ts)
