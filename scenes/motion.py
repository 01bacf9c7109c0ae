"""Keyframed ground paths: where an actor is at any time, as a pure function of t."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Pose:
    x: float
    y: float
    vx: float
    vy: float
    dist: float  # metres travelled since the start (drives gait and pedalling)

    @property
    def speed(self) -> float:
        return math.hypot(self.vx, self.vy)


@dataclass(frozen=True, slots=True)
class Track:
    times: tuple[float, ...]
    points: tuple[tuple[float, float], ...]
    dists: tuple[float, ...]

    @property
    def t0(self) -> float:
        return self.times[0]

    @property
    def t1(self) -> float:
        return self.times[-1]

    def at(self, t: float) -> Pose:
        i = bisect.bisect_right(self.times, t) - 1
        if i < 0:
            x, y = self.points[0]
            return Pose(x, y, 0.0, 0.0, 0.0)
        if i >= len(self.times) - 1:
            x, y = self.points[-1]
            return Pose(x, y, 0.0, 0.0, self.dists[-1])
        ta, tb = self.times[i], self.times[i + 1]
        (xa, ya), (xb, yb) = self.points[i], self.points[i + 1]
        dt = tb - ta
        f = (t - ta) / dt if dt > 0 else 1.0
        vx, vy = ((xb - xa) / dt, (yb - ya) / dt) if dt > 0 else (0.0, 0.0)
        d = self.dists[i] + (self.dists[i + 1] - self.dists[i]) * f
        return Pose(xa + (xb - xa) * f, ya + (yb - ya) * f, vx, vy, d)


def keyframes(frames: Sequence[tuple[float, float, float]]) -> Track:
    """A track through (t, x, y) keyframes, straight lines between them."""
    times = tuple(f[0] for f in frames)
    points = tuple((f[1], f[2]) for f in frames)
    dists = [0.0]
    for (xa, ya), (xb, yb) in zip(points[:-1], points[1:], strict=True):
        dists.append(dists[-1] + math.hypot(xb - xa, yb - ya))
    return Track(times, points, tuple(dists))


def walk(
    t0: float, points: Sequence[tuple[float, float]], speed: float, waits: Sequence[float] = ()
) -> Track:
    """A path at constant speed through `points`, standing `waits[i]` seconds at point i."""
    frames = [(t0, points[0][0], points[0][1])]
    t = t0
    for i, (x, y) in enumerate(points):
        if i > 0:
            px, py = points[i - 1]
            t += math.hypot(x - px, y - py) / speed
            frames.append((t, x, y))
        if i < len(waits) and waits[i] > 0:
            t += waits[i]
            frames.append((t, x, y))
    return keyframes(frames)
