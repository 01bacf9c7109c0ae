"""A condition of the place holds at a spot (a banner, standing water, an open manhole).

Such a problem is a place, not an object: it never moves, and a detector sees it in most
frames but not all (a pedestrian walks in front of the manhole, the water's shine changes
with the light). A track-based dwell (vision/rules/dwell.py) restarts its clock whenever a
gap outlasts the tracker's buffer and a new track id appears, so a condition seen in 70 %
of the frames could stay unreported for ever. Here the evidence is kept per spot instead:
every detection of the labels in the zone votes for the spot its box overlaps (or opens a
new one), and the rule fires when a spot has been watched for `hold_s` and was seen in at
least `coverage` of the frames of that last stretch, and is seen now (a problem glimpsed
for a while and then gone is not reported). One hit per spot; the zone's cooldown as every
rule has it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from vision.rules.base import Hit, Once
from vision.rules.geometry import Area
from vision.track import Box, Track

MATCH_IOU = 0.3  # a detection this much over a spot's box is the same spot


@dataclass
class Spot:
    id: int
    box: Box
    first_seen: float
    last_seen: float
    track: Track  # the latest detection here: what the hit reports
    frames: deque[tuple[float, bool]] = field(default_factory=deque)  # (time, seen) of each frame


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class StandingRule:
    def __init__(
        self,
        name: str,
        zone: str,
        polygon: Sequence[tuple[float, float]] | None,
        hold_s: float,
        labels: frozenset[str],
        cooldown_s: float = 60.0,
        coverage: float = 0.5,
    ) -> None:
        self.name = name
        self.zone = zone
        self.area = Area(polygon)
        self.hold_s = hold_s
        self.labels = labels
        self.coverage = coverage
        self.once = Once(cooldown_s)
        self._spots: list[Spot] = []
        self._next_id = 1

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        seen: set[int] = set()
        for track in tracks:
            if track.label in self.labels and self.area.holds(track):
                seen.add(self._vote(track, ts).id)
        hits: list[Hit] = []
        for spot in self._spots:
            spot.frames.append((ts, spot.id in seen))
            while spot.frames and ts - spot.frames[0][0] > self.hold_s:
                spot.frames.popleft()
            if spot.id in seen and self._holds(spot, ts) and self.once.allow(spot.id, ts):
                hits.append(Hit(self.name, self.zone, spot.track))
        # A spot unseen for a whole hold is gone (the water drained, the banner taken down).
        self._spots = [s for s in self._spots if ts - s.last_seen <= self.hold_s]
        self.once.forget({s.id for s in self._spots})
        return hits

    def _vote(self, track: Track, ts: float) -> Spot:
        best = max(self._spots, key=lambda s: iou(s.box, track.box), default=None)
        if best is None or iou(best.box, track.box) < MATCH_IOU:
            best = Spot(self._next_id, track.box, ts, ts, track)
            self._next_id += 1
            self._spots.append(best)
        # The box follows the detections slowly: one odd box does not move the spot.
        best.box = tuple(0.8 * a + 0.2 * b for a, b in zip(best.box, track.box, strict=True))  # type: ignore[assignment]
        best.last_seen, best.track = ts, track
        return best

    def _holds(self, spot: Spot, ts: float) -> bool:
        if ts - spot.first_seen < self.hold_s or not spot.frames:
            return False
        return sum(1 for _, seen in spot.frames if seen) >= self.coverage * len(spot.frames)
