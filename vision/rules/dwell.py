"""An object staying inside a zone longer than N seconds.

With `stationary`, it must also stay roughly in place: walking through a zone is
not staying in it, while a parked vehicle, a stall or a pile of garbage is. This
one rule serves intrusion (0 s, moving allowed), loitering (moving allowed),
illegal parking, dumping and stalls (stationary, per label).
"""

from __future__ import annotations

from collections.abc import Sequence

from vision.rules.base import Hit, Once
from vision.rules.geometry import Area
from vision.track import Track


class DwellRule:
    def __init__(
        self,
        name: str,
        zone: str,
        polygon: Sequence[tuple[float, float]] | None,
        dwell_s: float,
        labels: frozenset[str] | None = None,
        cooldown_s: float = 60.0,
        stationary: bool = True,
        absent_s: float = 2.0,
    ) -> None:
        self.name = name
        self.zone = zone
        self.area = Area(polygon)
        self.dwell_s = dwell_s
        self.labels = labels
        self.stationary = stationary
        self.once = Once(cooldown_s)
        self._entered: dict[int, float] = {}
        self._anchor: dict[int, tuple[float, float]] = {}
        self._seen: dict[int, float] = {}  # track → when last seen in the zone
        self.absent_s = absent_s

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        hits: list[Hit] = []
        inside: set[int] = set()
        outside: set[int] = set()
        for track in tracks:
            if self.labels is not None and track.label not in self.labels:
                continue
            if not self.area.holds(track):
                outside.add(track.id)
                continue
            inside.add(track.id)
            self._seen[track.id] = ts
            entered = self._entered.setdefault(track.id, ts)
            if self.stationary and self._moved(track):
                entered = self._entered[track.id] = ts
            if ts - entered >= self.dwell_s and self.once.allow(track.id, ts):
                hits.append(Hit(self.name, self.zone, track))
        # Forget tracks that left the zone: re-entering restarts the clock. A track not seen in
        # this frame at all (a car drove over the manhole) keeps its clock for `absent_s`.
        for tid in set(self._entered) - inside:
            if tid in outside or ts - self._seen.get(tid, ts) > self.absent_s:
                del self._entered[tid]
                self._anchor.pop(tid, None)
                self._seen.pop(tid, None)
        self.once.forget(set(self._entered))
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
