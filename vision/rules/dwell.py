"""An object staying inside a zone longer than N seconds.

With `stationary`, it must also stay roughly in place: walking through a zone is
not staying in it, while a parked vehicle, a stall or a pile of garbage is. Fires
once per track, and at most once per zone within the cooldown, so a parked vehicle
whose blob splits into several tracks still alerts once.
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
        stationary: bool = True,
    ) -> None:
        self.name = name
        self.zone = zone
        self.polygon = polygon
        self._area = prep(Polygon(polygon))
        self.dwell_s = dwell_s
        self.labels = labels
        self.cooldown_s = cooldown_s
        self.stationary = stationary
        self._entered: dict[int, float] = {}
        self._anchor: dict[int, tuple[float, float]] = {}
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
            if self.stationary and self._moved(track):
                entered = self._entered[track.id] = ts
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
            self._anchor.pop(tid, None)
        self._fired &= set(self._entered) | inside
        return hits

    def _moved(self, track: Track) -> bool:
        """Has the track left the spot where its clock started? (Then restart the clock there.)"""
        x1, y1, x2, y2 = track.box
        centre = ((x1 + x2) / 2, (y1 + y2) / 2)
        anchor = self._anchor.setdefault(track.id, centre)
        reach = max(8.0, 0.5 * max(x2 - x1, y2 - y1))
        if abs(centre[0] - anchor[0]) > reach or abs(centre[1] - anchor[1]) > reach:
            self._anchor[track.id] = centre
            return True
        return False
