"""Ambient passers-by, cars and cyclists.

Time is cut into windows; each window's arrivals come from a generator seeded by
(scene seed, stream, window), so what is on screen at t is a pure function of t no matter
in which order or how sparsely frames are asked for.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from scenes.actors import Actor, Car, Rider, Walker
from scenes.layout import Backdrop, Lane
from scenes.motion import keyframes, walk
from scenes.people import random_look
from scenes.vehicles import PAINTS, random_vehicle

WINDOW_S = 20.0
# A stream: given its window's generator and [start, end), the actors that arrive then.
Spawner = Callable[[random.Random, float, float], list[Actor]]


class Traffic:
    def __init__(self, backdrop: Backdrop, seed: int, density: float = 1.0) -> None:
        self.b = backdrop
        self.seed = seed
        self._blocks: list[tuple[float, float, float]] = []  # (lane y, from, until)
        self._cache: dict[tuple[int, int], list[Actor]] = {}
        self._streams: list[Spawner] = []
        longest = 10.0
        if density <= 0:
            backdrop = _empty(backdrop)
        if backdrop.open_ground is not None:
            self._streams.append(self._plaza_walkers(4.5 * density))
            self._streams.append(self._plaza_riders(0.5 * density))
            g = backdrop.open_ground
            longest = max(longest, 2 * (g.x1 - g.x0 + g.y1 - g.y0))
        for i, (y0, y1) in enumerate(backdrop.walkways):
            target = (2.0 if i == 0 else 3.0) * density
            self._streams.append(self._band_walkers(y0, y1, target))
            lo, hi = backdrop.cam.visible_x(y1, pad_px=100)
            longest = max(longest, (hi - lo) / 0.9)
        share = 1.8 * density / max(1, len(backdrop.lanes))
        for lane in backdrop.lanes:
            self._streams.append(self._lane_cars(lane, share))
        for lane in backdrop.bike_lanes:
            self._streams.append(self._lane_riders(lane, 0.4 * density))
        self._lookback = math.ceil(longest / WINDOW_S) + 1

    def block_lane(self, lane_y: float, t_from: float, t_until: float) -> None:
        """Keep ambient cars out of a lane while an event's car uses it (none drives through it)."""
        block = (lane_y, t_from, t_until)
        if block not in self._blocks:  # a rebuilt event closes the same lane again
            self._blocks.append(block)

    def active(self, t: float) -> list[Actor]:
        w = int(t // WINDOW_S)
        out: list[Actor] = []
        for k in range(len(self._streams)):
            for wi in range(max(0, w - self._lookback), w + 1):
                for a in self._window(k, wi):
                    if a.t0 <= t < a.t1:
                        out.append(a)
        if len(self._cache) > 4 * len(self._streams) * (self._lookback + 2):
            for key in [key for key in self._cache if key[1] < w - self._lookback - 1]:
                del self._cache[key]
            # Closures long past matter no more (their events re-close lanes if rebuilt).
            self._blocks = [b for b in self._blocks if b[2] > t - 900.0]
        return [a for a in out if not self._blocked(a)]

    def _blocked(self, a: Actor) -> bool:
        if not isinstance(a, Car) or not self._blocks:
            return False
        y = a.track.points[0][1]
        return any(abs(ly - y) < 0.5 and a.t0 < until and a.t1 > since for ly, since, until in self._blocks)

    def _window(self, k: int, w: int) -> list[Actor]:
        key = (k, w)
        got = self._cache.get(key)
        if got is None:
            rnd = random.Random(f"{self.seed}/{k}/{w}")
            got = self._streams[k](rnd, w * WINDOW_S, (w + 1) * WINDOW_S)
            self._cache[key] = got
        return got

    # Each stream below returns the actors that arrive in [start, end).

    def _band_walkers(self, y0: float, y1: float, target: float) -> Spawner:
        cam = self.b.cam
        lo, hi = cam.visible_x((y0 + y1) / 2, pad_px=60)
        rate = target * 1.3 / max(hi - lo, 1.0)

        def spawn(rnd: random.Random, start: float, end: float) -> list[Actor]:
            out: list[Actor] = []
            t = start + rnd.expovariate(rate)
            while t < end:
                y = rnd.uniform(y0, y1)
                a, b = cam.visible_x(y, pad_px=60)
                d = rnd.choice((-1, 1))
                xs = (a - 1.0, b + 1.0) if d > 0 else (b + 1.0, a - 1.0)
                path = [(xs[0], y), (xs[1], min(y1, max(y0, y + rnd.uniform(-0.6, 0.6))))]
                out.append(Walker(walk(t, path, rnd.uniform(0.9, 1.6)), random_look(rnd)))
                t += rnd.expovariate(rate)
            return out

        return spawn

    def _lane_cars(self, lane: Lane, target: float) -> Spawner:
        cam = self.b.cam
        lo, hi = cam.visible_x(lane.y, pad_px=250)
        crossing = (hi - lo + 12.0) / lane.speed
        gap = crossing / max(target, 0.05)
        headway = 2.5 + 6.0 / lane.speed  # time gap that keeps the longest bus clear of the next car

        def spawn(rnd: random.Random, start: float, end: float) -> list[Actor]:
            out: list[Actor] = []
            t = start + headway / 2 + rnd.expovariate(1.0 / gap)
            while t < end - headway / 2:
                model = random_vehicle(rnd)
                a, b = lo - model.length, hi + model.length
                xs = (a, b) if lane.direction > 0 else (b, a)
                track = keyframes([(t, xs[0], lane.y), (t + (b - a) / lane.speed, xs[1], lane.y)])
                out.append(Car(track, model, lane.direction))
                t += headway + rnd.expovariate(1.0 / gap)
            return out

        return spawn

    def _lane_riders(self, lane: Lane, target: float) -> Spawner:
        cam = self.b.cam
        lo, hi = cam.visible_x(lane.y, pad_px=80)
        rate = target * lane.speed / max(hi - lo, 1.0)

        def spawn(rnd: random.Random, start: float, end: float) -> list[Actor]:
            out: list[Actor] = []
            t = start + rnd.expovariate(rate)
            while t < end:
                xs = (lo - 2, hi + 2) if lane.direction > 0 else (hi + 2, lo - 2)
                track = keyframes([(t, xs[0], lane.y), (t + (hi - lo + 4) / lane.speed, xs[1], lane.y)])
                out.append(Rider(track, random_look(rnd), rnd.choice(PAINTS), lane.direction))
                t += max(rnd.expovariate(rate), 3.0)  # riders in one lane never overlap
            return out

        return spawn

    def _plaza_walkers(self, target: float) -> Spawner:
        g = self.b.open_ground
        assert g is not None
        cam = self.b.cam

        def edge_point(rnd: random.Random, side: int) -> tuple[float, float]:
            if side in (0, 1):  # left / right edge of what the camera sees
                y = rnd.uniform(g.y0, g.y1)
                a, b = cam.visible_x(y, pad_px=50)
                return (a - 1.0 if side == 0 else b + 1.0), y
            y = g.y0 if side == 2 else g.y1
            a, b = cam.visible_x(y, pad_px=50)
            return rnd.uniform(max(a, g.x0), min(b, g.x1)), y - 1.5 if side == 2 else y

        mean_path = (g.x1 - g.x0) * 0.8
        rate = target * 1.25 / max(mean_path, 1.0)

        def spawn(rnd: random.Random, start: float, end: float) -> list[Actor]:
            out: list[Actor] = []
            t = start + rnd.expovariate(rate)
            while t < end:
                s0 = rnd.randrange(4)
                s1 = rnd.choice([s for s in range(4) if s != s0])
                path = [edge_point(rnd, s0), edge_point(rnd, s1)]
                out.append(Walker(walk(t, path, rnd.uniform(0.9, 1.5)), random_look(rnd)))
                t += rnd.expovariate(rate)
            return out

        return spawn

    def _plaza_riders(self, target: float) -> Spawner:
        g = self.b.open_ground
        assert g is not None
        cam = self.b.cam

        def spawn(rnd: random.Random, start: float, end: float) -> list[Actor]:
            out: list[Actor] = []
            t = start + rnd.expovariate(target * 4.0 / max(g.x1 - g.x0, 1.0))
            while t < end:
                y = rnd.uniform(g.y0 + 2, g.y1 - 2)
                lo, hi = cam.visible_x(y, pad_px=80)
                d = rnd.choice((-1, 1))
                xs = (lo - 2, hi + 2) if d > 0 else (hi + 2, lo - 2)
                speed = rnd.uniform(3.0, 5.0)
                track = keyframes([(t, xs[0], y), (t + (hi - lo + 4) / speed, xs[1], y)])
                out.append(Rider(track, random_look(rnd), rnd.choice(PAINTS), d))
                t += rnd.expovariate(target * 4.0 / max(g.x1 - g.x0, 1.0))
            return out

        return spawn


def _empty(b: Backdrop) -> Backdrop:
    """The same backdrop with nowhere to walk or drive: a scene with events only."""
    from dataclasses import replace

    return replace(b, walkways=[], open_ground=None, lanes=[], bike_lanes=[])
