"""Zone geometry shared by rules: a polygon judged at a box's bottom centre, like Frigate."""

from __future__ import annotations

from collections.abc import Sequence

from shapely import Point, Polygon
from shapely.prepared import prep

from vision.track import Track


class Area:
    def __init__(self, polygon: Sequence[tuple[float, float]] | None) -> None:
        self._area = prep(Polygon(polygon)) if polygon else None

    def holds(self, track: Track) -> bool:
        """Is the track's footprint (bottom centre) inside? No polygon means the whole view."""
        return self._area is None or self._area.contains(Point(track.bottom_centre))


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
