"""An object staying inside a zone longer than N seconds.

Fires once per track, and at most once per zone within the cooldown, so a parked
vehicle whose blob splits into several tracks still alerts once.
"""

from __future__ import annotations

from shapely import Point, Polygon
from shapely.prepared import prep

from vision.rules.base import Hit
from vision.track import Track


class DwellRule:
    def __init__(
        self,
        name: str,
        zone: str,
        polygon: list[tuple[float, float]],
        dwell_s: float,
        labels: frozenset[str] | None = None,
        cooldown_s: float = 60.0,
    ) -> None:
        self.name = name
        self.zone = zone
        self.polygon = polygon
        self._area = prep(Polygon(polygon))
        self.dwell_s = dwell_s
        self.labels = labels
        self.cooldown_s = cooldown_s
        self._entered: dict[int, float] = {}
        self._fired: set[int] = set()
        self._last_fire: float | None = None

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        hits: list[Hit] = []
        inside: set[int] = set()
        for track in tracks:
            if self.labels is not None and track.label not in self.labels:
                continue
            if not self._area.contains(Point(track.bottom_centre)):
                continue
            inside.add(track.id)
            entered = self._entered.setdefault(track.id, ts)
            if ts - entered < self.dwell_s or track.id in self._fired:
                continue
            self._fired.add(track.id)
            if self._last_fire is not None and ts - self._last_fire < self.cooldown_s:
                continue
            self._last_fire = ts
            hits.append(Hit(self.name, self.zone, track))
        # Forget tracks that left the zone: re-entering restarts the clock.
        for tid in set(self._entered) - inside:
            del self._entered[tid]
        self._fired &= set(self._entered) | inside
        return hits
