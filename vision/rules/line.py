"""Line crossing with direction: the footprint (bottom centre) passes from one side of
the line a→b to the other. 'in' is right→left of a→b seen in image coordinates
(y down), 'out' the reverse."""

from __future__ import annotations

from vision.rules.base import Hit
from vision.track import Track

Point = tuple[float, float]
FORGET_S = 5.0


def _side(a: Point, b: Point, p: Point) -> float:
    return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])


def _within_segment(a: Point, b: Point, p: Point) -> bool:
    """Is p's projection on the line between a and b? (A crossing beyond the ends is not one.)"""
    dx, dy = b[0] - a[0], b[1] - a[1]
    t = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / max(dx * dx + dy * dy, 1e-9)
    return 0.0 <= t <= 1.0


class LineRule:
    def __init__(
        self,
        name: str,
        zone: str,
        line: tuple[Point, Point],
        direction: str = "any",
        labels: frozenset[str] | None = None,
    ) -> None:
        self.name = name
        self.zone = zone
        self.a, self.b = line
        self.direction = direction
        self.labels = labels
        self._last_side: dict[int, tuple[float, float]] = {}  # track → (side, when)
        self.counts = {"in": 0, "out": 0}

    def update(self, tracks: list[Track], ts: float) -> list[Hit]:
        hits = []
        for track in tracks:
            if self.labels is not None and track.label not in self.labels:
                continue
            foot = track.bottom_centre
            side = _side(self.a, self.b, foot)
            before = self._last_side.get(track.id, (None, ts))[0]
            if side != 0:
                self._last_side[track.id] = (side, ts)
            if before is None or side == 0 or (before > 0) == (side > 0) or not _within_segment(self.a, self.b, foot):
                continue
            way = "in" if before > 0 > side else "out"
            self.counts[way] += 1
            if self.direction in ("any", way):
                hits.append(Hit(self.name, self.zone, track))
        # A track missed for a frame or two keeps its side; one gone for long is forgotten.
        for tid in [t for t, (_, seen) in self._last_side.items() if ts - seen > FORGET_S]:
            del self._last_side[tid]
        return hits
