"""A fallen person: a person whose box turned from upright to lying, and stays down.

Both halves matter: a person lying on a bench from the start is not a fall, and a
box that is wide for one frame (arms out, a partial detection) is not either."""

from __future__ import annotations

from collections.abc import Sequence

from vision.rules.base import Hit, Once
from vision.rules.geometry import Area
from vision.track import Track

LYING = 1.2  # width ÷ height above this is lying
UPRIGHT = 1.0  # width ÷ height below this is standing
MEMORY_S = 120.0  # how long a track's having stood is remembered


class FallenRule:
    def __init__(
        self,
        name: str,
        zone: str,
        polygon: Sequence[tuple[float, float]] | None,
        down_s: float,
        labels: frozenset[str] = frozenset({"person"}),
        cooldown_s: float = 60.0,
        require_upright_first: bool = True,
    ) -> None:
        self.name = name
        self.zone = zone
        self.area = Area(polygon)
        self.down_s = down_s
        self.labels = labels
        self.require_upright_first = require_upright_first
        self.once = Once(cooldown_s)
        self._upright_at: dict[int, float] = {}  # track → last time seen standing
        self._down_since: dict[int, float] = {}

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        hits = []
        live = set()
        for track in tracks:
            if track.label not in self.labels or not self.area.holds(track):
                continue
            live.add(track.id)
            x1, y1, x2, y2 = track.box
            ratio = (x2 - x1) / max(y2 - y1, 1e-6)
            if ratio < UPRIGHT:
                self._upright_at[track.id] = ts
                self._down_since.pop(track.id, None)
                continue
            if ratio < LYING or (self.require_upright_first and track.id not in self._upright_at):
                continue
            since = self._down_since.setdefault(track.id, ts)
            if ts - since >= self.down_s and self.once.allow(track.id, ts):
                hits.append(Hit(self.name, self.zone, track))
        for tid in [t for t, seen in self._upright_at.items() if ts - seen > MEMORY_S and t not in live]:
            del self._upright_at[tid]
        for tid in set(self._down_since) - live:
            del self._down_since[tid]
        return hits
