"""Something seen at all is the incident (fire, smoke): confirmed over a few frames,
because one frame's flicker is not a fire."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from vision.rules.base import Hit, Once
from vision.rules.geometry import Area
from vision.track import Track


class PresenceRule:
    def __init__(
        self,
        name: str,
        zone: str,
        polygon: Sequence[tuple[float, float]] | None,
        labels: frozenset[str],
        min_frames: int = 3,
        window: int = 5,
        cooldown_s: float = 60.0,
    ) -> None:
        self.name = name
        self.zone = zone
        self.area = Area(polygon)
        self.labels = labels
        self.min_frames = min_frames
        self.once = Once(cooldown_s)
        self._recent: deque[bool] = deque(maxlen=max(window, min_frames))

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        seen = [t for t in tracks if t.label in self.labels and self.area.holds(t)]
        self._recent.append(bool(seen))
        if sum(self._recent) < self.min_frames:
            return []
        best = max(seen, key=lambda t: t.score, default=None)
        if best is None or not self.once.allow(best.id, ts):
            return []
        return [Hit(self.name, self.zone, best)]
