"""How each kind of incident is staged: where it happens, who walks or drives up, what
stays, and for how long. One `Stager` per scene; every builder is deterministic in its
`random.Random`, so an event's actors can be rebuilt at any time from its number alone."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from scenes.actors import Actor, Car, Fire, Rubbish, Stall, Walker
from scenes.holds import FOREVER
from scenes.layout import Backdrop, Rect
from scenes.motion import keyframes, walk
from scenes.people import random_look
from scenes.props import random_pile, random_stall
from scenes.traffic import Traffic
from scenes.vehicles import random_vehicle


@dataclass(slots=True)
class SimEvent:
    kind: str
    start_s: float
    end_s: float
    active_s: tuple[float, float]
    ground: tuple[float, float]
    where: tuple[float, float]
    zone: str | None
    actors: list[Actor] = field(default_factory=list)
    span: tuple[float, float] = (0.0, 0.0)  # first actor in, last actor out (as staged)
    index: int = 0  # the build number: seeds its actors
    # ("resolved", at_s): handled then, everything gone; ("persisted", 0): never ends.
    outcome: tuple[str, float] | None = None

    def _cut(self, span: tuple[float, float]) -> tuple[float, float]:
        if self.outcome is None:
            return span
        how, at_s = self.outcome
        if how == "persisted":
            return span[0], FOREVER
        return span[0], max(span[0], min(span[1], at_s))

    @property
    def shown_span(self) -> tuple[float, float]:
        """When the event's actors may be on stage, after any resolve or persist."""
        return self._cut(self.span)

    @property
    def shown_active(self) -> tuple[float, float]:
        """When the condition holds, after any resolve (cut short) or persist (for ever)."""
        return self._cut(self.active_s)

    def as_dict(self) -> dict[str, Any]:
        active = self.shown_active
        end = self._cut((self.start_s, self.end_s))[1]
        return {
            "kind": self.kind,
            "start_s": round(self.start_s, 3),
            "end_s": round(end, 3),
            "active_s": (round(active[0], 3), round(active[1], 3)),
            "where": (round(self.where[0], 1), round(self.where[1], 1)),
            "ground": (round(self.ground[0], 2), round(self.ground[1], 2)),
            "zone": self.zone,
            "outcome": None if self.outcome is None else self.outcome[0],
            "resolved_s": self.outcome[1] if self.outcome is not None and self.outcome[0] == "resolved" else None,
        }


# Builders of more kinds, registered by the modules that define them (scenes/problem_events.py,
# imported by scenes/events.py): they build on Stager's placement without this module
# importing them back.
BUILDERS: dict[str, Any] = {}


class Stager:
    def __init__(self, backdrop: Backdrop, traffic: Traffic) -> None:
        self.b = backdrop
        self.traffic = traffic

    def stage(self, kind: str, rnd: random.Random, start: float, busy: list[tuple[float, float]]) -> SimEvent:
        """Build event `kind` starting at `start`, kept `busy` ground spots clear."""
        self._busy = busy
        ev: SimEvent = BUILDERS[kind](self, rnd, start) if kind in BUILDERS else getattr(self, "_" + kind)(rnd, start)
        ev.span = (min(a.t0 for a in ev.actors), max(a.t1 for a in ev.actors))
        return ev

    # Placement

    def _spot(
        self,
        rnd: random.Random,
        start: float,
        margin: float,
        room: float,
        size: tuple[float, float] = (2.0, 2.0),
        min_scale: float = 0.02,
        within: Rect | None = None,
        road: list[tuple[float, float]] | None = None,
    ) -> tuple[float, float, str]:
        """A ground spot for an event: on a walkway (or inside `within`, or on the `road`
        bands), in view, at least `room` metres from other running events, big enough on
        screen (`min_scale` × image width pixels per metre) and not hidden behind a tree or
        post (`size`: w, h metres)."""
        b = self.b
        bands = road or b.event_bands or b.walkways
        busy = self._busy
        best: tuple[float, float, float, str] | None = None
        for _ in range(60):
            if within is not None:
                x, y, zone = (
                    rnd.uniform(within.x0, within.x1),
                    rnd.uniform(within.y0, within.y1),
                    "no-vending",
                )
            else:
                i = rnd.randrange(len(bands))
                y = rnd.uniform(*bands[i])
                lo, hi = b.visible_x(y, margin)
                if hi <= lo:
                    continue
                x = rnd.uniform(lo, hi)
                if road:
                    zone = "road"
                else:
                    zone = ("sidewalk" if i == 0 else "sidewalk-far") if b.kind == "street" else "plaza"
            hidden = self._hidden(x, y, *size)
            small = b.cam.scale(x, y) < min_scale * b.cam.width
            crowded = not all(math.dist((x, y), g) > room for g in busy)
            blocked = not b.clear_of_obstacles(x, y, 1.2)
            score = hidden + small + 0.5 * crowded + 0.5 * blocked
            if best is None or score < best[0]:
                best = (score, x, y, zone)
            if score < 0.15:
                break
        assert best is not None, "no walkway in view"
        return best[1], best[2], best[3]

    def _hidden(self, x: float, y: float, w: float, h: float) -> float:
        """Share of a w×h metre upright box at (x, y) that nearer trees and posts cover."""
        cam = self.b.cam
        u, v, _ = cam.point(x, y)
        top = cam.point(x, y, h)[1]
        half = w / 2 * cam.scale(x, y)
        box = (u - half, top, u + half, v)
        area = max((box[2] - box[0]) * (box[3] - box[1]), 1.0)
        inside = (min(box[2], cam.width) - max(box[0], 0)) * (min(box[3], cam.height) - max(box[1], 0))
        covered = sum(o.covered(box) for o in self.b.occluders if o.depth < y)
        return min(1.0, covered / area + (1.0 - max(inside, 0.0) / area))

    def _where(self, x: float, y: float) -> tuple[float, float]:
        u, v, _ = self.b.cam.point(x, y)
        return u, v

    def _edge(self, y: float, direction: int) -> float:
        """The x just off screen that someone heading `direction` comes from."""
        lo, hi = self.b.cam.visible_x(y, pad_px=60)
        return lo - 1.0 if direction > 0 else hi + 1.0

    # One builder per kind

    def _fire(self, rnd: random.Random, start: float) -> SimEvent:
        x, y, zone = self._spot(rnd, start, 3.0, 6.0, size=(1.5, 1.5))
        end = start + rnd.uniform(40.0, 80.0)
        fire = Fire(
            x,
            y,
            start,
            end,
            rnd.uniform(0.8, 1.6),
            rnd.uniform(-0.6, 0.6),
            self._smoke_grey(rnd, x, y),
            rnd.randrange(1000),
        )
        return SimEvent("fire", start, end, (start + 3.0, end - 3.0), (x, y), self._where(x, y), zone, [fire])

    def _smoke_grey(self, rnd: random.Random, x: float, y: float) -> int:
        """Dark smoke over light ground and walls, pale smoke over asphalt: it must stand out."""
        img, cam = self.b.image, self.b.cam
        h, w = img.shape[:2]
        # Where the plume will hang: 4 to 9 metres up (above shop fronts), a bit either side.
        u0, v0, _ = cam.point(x - 2.0, y, 9.0)
        u1, v1, _ = cam.point(x + 2.0, y, 4.0)
        r0, r1 = int(min(max(v0, 0), h - 1)), int(min(max(v1, 1), h))
        c0, c1 = int(min(max(u0, 0), w - 1)), int(min(max(u1, 1), w))
        patch = img[r0 : max(r1, r0 + 1), c0 : max(c1, c0 + 1)]
        dark, pale = rnd.randint(40, 75), rnd.randint(170, 220)
        if not patch.size:
            return pale
        grey = patch.mean(axis=2)
        # Against a mixed background (dark shop windows under pale walls) judge pixel by pixel.
        return dark if abs(grey - dark).mean() > abs(grey - pale).mean() else pale

    def _fallen_person(self, rnd: random.Random, start: float) -> SimEvent:
        x, y, zone = self._spot(rnd, start, 2.0, 4.0, size=(1.8, 0.6), min_scale=0.035)
        d = rnd.choice((-1, 1))
        speed = rnd.uniform(1.0, 1.4)
        lie = rnd.uniform(35.0, 60.0)
        x0 = self._edge(y, d)
        t0 = start - abs(x - x0) / speed  # the fall happens at `start`
        track = walk(t0, [(x0, y), (x, y), (self._edge(y, -d), y)], speed, waits=[0.0, lie])
        angle = (0.0 if d > 0 else math.pi) + rnd.uniform(-0.5, 0.5)
        person = Walker(track, random_look(rnd), lying=(start, start + lie, angle))
        return SimEvent(
            "fallen_person",
            start,
            start + lie,
            (start, start + lie),
            (x, y),
            self._where(x, y),
            zone,
            [person],
        )

    def _crowd(self, rnd: random.Random, start: float) -> SimEvent:
        x, y, zone = self._spot(rnd, start, 3.5, 9.0, size=(6.0, 1.8), min_scale=0.03)
        n = rnd.randint(8, 20)
        radius = 0.55 * math.sqrt(n)
        band = next(
            ((a, c) for a, c in (self.b.event_bands or self.b.walkways) if a - 0.1 <= y <= c + 0.1),
            (y - 2, y + 2),
        )
        spots: list[tuple[float, float]] = []
        while len(spots) < n:
            r, a = radius * math.sqrt(rnd.random()), rnd.uniform(0, 2 * math.pi)
            p = (x + 1.6 * r * math.cos(a), min(max(y + 0.6 * r * math.sin(a), band[0] - 0.8), band[1] + 0.8))
            if all(math.dist(p, q) > 0.55 for q in spots) or rnd.random() < 0.02:
                spots.append(p)
        hold = rnd.uniform(25.0, 45.0)
        gathered = start + 14.0
        people: list[Actor] = []
        for sx, sy in spots:
            speed = rnd.uniform(1.1, 1.6)
            come, go = self._approach(rnd, sx, sy), self._approach(rnd, sx, sy)
            arrive = gathered - rnd.uniform(0.0, 10.0)
            t0 = arrive - math.dist(come, (sx, sy)) / speed
            leave = gathered + hold + rnd.uniform(0.0, 4.0)
            track = walk(t0, [come, (sx, sy), go], speed, [0.0, leave - arrive])
            people.append(Walker(track, random_look(rnd), facing=rnd.choice((-1, 1))))
        return SimEvent(
            "crowd",
            start,
            gathered + hold,
            (gathered, gathered + hold),
            (x, y),
            self._where(x, y),
            zone,
            people,
        )

    def _approach(self, rnd: random.Random, x: float, y: float) -> tuple[float, float]:
        """Where someone walking to (x, y) comes from: along the sidewalk, or across the square."""
        g = self.b.open_ground
        if g is None:
            return self._edge(y, rnd.choice((-1, 1))), y
        a, r = rnd.uniform(0, 2 * math.pi), rnd.uniform(12.0, 25.0)
        return x + r * math.cos(a), min(max(y + 0.6 * r * math.sin(a), g.y0 - 2.0), g.y1)

    def _illegal_parking(self, rnd: random.Random, start: float) -> SimEvent:
        assert self.b.no_parking is not None
        return self.park_in(rnd, start, "illegal_parking", self.b.no_parking, "no-parking")

    def park_in(self, rnd: random.Random, start: float, kind: str, zone: Rect, zone_name: str) -> SimEvent:
        """A car pulls out of the near lane into the marked `zone` and stays a while."""
        b = self.b
        lane, park = b.lanes[0], b.park_lane
        assert park is not None
        model = random_vehicle(rnd)
        while model.kind == "bus":
            model = random_vehicle(rnd)
        d = lane.direction
        slack = max(0.0, (zone.x1 - zone.x0 - model.length) / 2 - 0.3)
        xs = zone.centre[0] + rnd.uniform(-slack, slack)
        ys = min(max(park.y + 0.1, zone.y0 + model.width / 2 + 0.1), zone.y1 - model.width / 2 - 0.1)
        lo, hi = b.cam.visible_x(lane.y, pad_px=250)
        x_in, x_out = (
            (lo - model.length, hi + model.length) if d > 0 else (hi + model.length, lo - model.length)
        )
        v = lane.speed * 0.8
        t_stop = start + 8.0
        hold = rnd.uniform(42.0, 70.0)
        frames = [
            (t_stop - 8.0 - abs((xs - d * 14) - x_in) / v, x_in, lane.y),
            (t_stop - 8.0, xs - d * 14, lane.y),
            (t_stop - 3.0, xs - d * 3.5, ys),
            (t_stop, xs, ys),
            (t_stop + hold, xs, ys),
            (t_stop + hold + 3.5, xs + d * 7, lane.y),
            (t_stop + hold + 3.5 + abs(x_out - (xs + d * 7)) / v, x_out, lane.y),
        ]
        car = Car(keyframes(frames), model, d)
        self.traffic.block_lane(lane.y, frames[0][0] - 2.0, t_stop - 2.0)
        self.traffic.block_lane(lane.y, t_stop + hold - 1.0, frames[-1][0] + 1.0)
        u, _ = self._where(xs, ys)
        _, vb = self._where(xs, ys - model.width / 2)
        return SimEvent(kind, start, t_stop + hold, (t_stop, t_stop + hold), (xs, ys), (u, vb), zone_name, [car])

    def _garbage(self, rnd: random.Random, start: float) -> SimEvent:
        r = self.b.vending
        inner = Rect(r.x0 + 1, r.x1 - 1, r.y0 + 1, r.y1 - 1) if r is not None and rnd.random() < 0.7 else None
        x, y, zone = self._spot(rnd, start, 2.5, 4.0, size=(1.5, 0.8), min_scale=0.03, within=inner)
        pile = random_pile(rnd)
        d = rnd.choice((-1, 1))
        speed = rnd.uniform(1.0, 1.3)
        x0 = self._edge(y - 0.5, d)
        t0 = start - abs(x - x0) / speed
        track = walk(t0, [(x0, y - 0.5), (x - 0.3 * d, y - 0.5), (x0, y - 0.5)], speed, waits=[0.0, 2.0])
        bag = next((it[4] for it in pile.items if it[2] == "bag"), (30, 30, 30))
        dumper = Walker(track, random_look(rnd), carry_until=start + 0.5, carry=bag)
        end = start + rnd.uniform(40.0, 80.0)
        heap = Rubbish(x, y, start + 0.5, end, pile)
        return SimEvent(
            "garbage", start, end, (start + 0.5, end), (x, y), self._where(x, y), zone, [dumper, heap]
        )

    def _stall(self, rnd: random.Random, start: float) -> SimEvent:
        r = self.b.vending
        inner = Rect(r.x0 + 1.5, r.x1 - 1.5, r.y0 + 1, r.y1 - 1) if r is not None else None
        x, y, zone = self._spot(rnd, start, 3.0, 5.0, size=(2.0, 2.5), within=inner)
        d = rnd.choice((-1, 1))
        speed = 0.9
        x0, x1 = self._edge(y, d) - d * 1.0, self._edge(y, -d) + d * 2.5
        arrive = start
        t0 = arrive - abs(x - x0) / speed
        opened, packed = arrive + 3.0, arrive + 3.0 + rnd.uniform(40.0, 70.0)
        cart = keyframes(
            [(t0, x0, y), (arrive, x, y), (packed + 2.0, x, y), (packed + 2.0 + abs(x1 - x) / speed, x1, y)]
        )
        gap = 1.3
        stand = (x + rnd.uniform(-0.5, 0.5), y + 0.75)
        vendor = keyframes(
            [
                (t0, x0 - d * gap, y),
                (arrive, x - d * gap, y),
                (arrive + 1.5, *stand),
                (packed, *stand),
                (packed + 2.0, x - d * gap, y),
                (cart.t1, x1 - d * gap, y),
            ]
        )
        actors: list[Actor] = [
            Stall(cart, random_stall(rnd), opened, packed),
            Walker(vendor, random_look(rnd)),
        ]
        return SimEvent("stall", start, packed, (opened, packed), (x, y), self._where(x, y), zone, actors)
