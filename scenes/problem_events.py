"""How the governance problems are staged: an overflowing bin, rubble, piled goods, a banner,
laundry, standing water, a fallen tree, a pothole, an open manhole, a car in the fire lane and
a pile-up of parked bicycles. Each builder is deterministic in its `random.Random`, like those
of `scenes.incidents.Stager`, whose placement it uses."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from scenes.actors import Actor, ParkedBike, Prop, Walker
from scenes.ground_marks import random_manhole, random_pothole, random_puddle
from scenes.motion import walk
from scenes.paint import BGR
from scenes.people import random_look
from scenes.problem_props import random_bin, random_fallen_tree, random_goods, random_rubble
from scenes.strung_props import random_banner, random_laundry

if TYPE_CHECKING:
    from scenes.incidents import SimEvent, Stager

BIKE_FRAMES: tuple[BGR, ...] = (
    (40, 40, 190),
    (200, 200, 60),
    (30, 30, 30),
    (60, 170, 240),
    (200, 120, 40),
    (230, 230, 230),
)


def _road_bands(st: Stager) -> list[tuple[float, float]]:
    """Where flat road damage may lie: the parking strip and the traffic lanes of a street,
    the square itself in a plaza (its road is too far to see a pothole)."""
    b = st.b
    if b.park_lane is None:
        return []
    bands = [(b.park_lane.y - b.park_lane.width / 2 + 0.3, b.park_lane.y + b.park_lane.width / 2 - 0.3)]
    bands += [(ln.y - ln.width / 2 + 0.4, ln.y + ln.width / 2 - 0.4) for ln in b.lanes[:2]]
    return bands


def _event(
    st: Stager,
    kind: str,
    start: float,
    x: float,
    y: float,
    zone: str,
    active: tuple[float, float],
    actors: list[Actor],
) -> SimEvent:
    from scenes.incidents import SimEvent

    return SimEvent(kind, start, active[1], active, (x, y), st._where(x, y), zone, actors)


def _brought(
    st: Stager, rnd: random.Random, x: float, y: float, start: float, busy_s: float, carry: BGR
) -> Walker:
    """Someone who walks up with the thing, sets it down at `start` (taking `busy_s`) and leaves."""
    d = rnd.choice((-1, 1))
    speed = rnd.uniform(1.0, 1.3)
    walk_y = y - 0.6
    x0 = st._edge(walk_y, d)
    t0 = start - abs(x - x0) / speed
    track = walk(t0, [(x0, walk_y), (x - 0.4 * d, walk_y), (x0, walk_y)], speed, waits=[0.0, busy_s])
    return Walker(track, random_look(rnd), carry_until=start + 0.5, carry=carry)


def _standing_prop(
    st: Stager,
    rnd: random.Random,
    start: float,
    kind: str,
    look: object,
    size: tuple[float, float],
    carry: BGR | None,
    busy_s: float = 2.0,
) -> SimEvent:
    """A prop on a walkway (or in a plaza's square), brought by someone when `carry` is set."""
    x, y, zone = st._spot(rnd, start, 3.0, 4.0, size=size, min_scale=0.03)
    end = start + 0.5 + rnd.uniform(40.0, 80.0)
    prop = Prop(x, y, start + 0.5, end, look, kind)  # type: ignore[arg-type]
    actors: list[Actor] = [prop]
    if carry is not None:
        actors.insert(0, _brought(st, rnd, x, y, start, busy_s, carry))
    return _event(st, kind, start, x, y, zone, (start + 0.5, end), actors)


def _flat_prop(
    st: Stager, rnd: random.Random, start: float, kind: str, look: object, road_share: float
) -> SimEvent:
    """A flat problem on the road (street) or a walkway; it is just there from `start`."""
    road = _road_bands(st) if rnd.random() < road_share else []
    x, y, zone = st._spot(rnd, start, 3.0, 4.0, size=(2.0, 0.3), min_scale=0.035, road=road or None)
    end = start + rnd.uniform(40.0, 80.0)
    prop = Prop(x, y, start, end, look, kind, flat=True)  # type: ignore[arg-type]
    return _event(st, kind, start, x, y, zone, (start, end), [prop])


def overflowing_bin(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    return _standing_prop(st, rnd, start, "overflowing_bin", random_bin(rnd, True), (1.6, 1.4), None)


def construction_waste(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    if rnd.random() < 0.3 and _road_bands(st):
        x, y, zone = st._spot(rnd, start, 3.0, 4.0, size=(3.0, 0.8), min_scale=0.03, road=_road_bands(st)[:1])
        end = start + rnd.uniform(40.0, 80.0)
        prop = Prop(x, y, start, end, random_rubble(rnd), "construction_waste")
        return _event(st, "construction_waste", start, x, y, zone, (start, end), [prop])
    return _standing_prop(st, rnd, start, "construction_waste", random_rubble(rnd), (3.0, 0.8), None)


def piled_goods(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    return _standing_prop(st, rnd, start, "piled_goods", random_goods(rnd), (2.5, 1.2), (80, 130, 180), 5.0)


def banner(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    return _standing_prop(st, rnd, start, "banner", random_banner(rnd), (3.0, 3.0), (40, 40, 200), 6.0)


def laundry(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    return _standing_prop(st, rnd, start, "laundry", random_laundry(rnd), (3.0, 2.2), (200, 200, 200), 6.0)


def waterlogging(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    return _flat_prop(st, rnd, start, "waterlogging", random_puddle(rnd), 0.5)


def pothole(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    return _flat_prop(st, rnd, start, "pothole", random_pothole(rnd), 0.75)


def open_manhole(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    return _flat_prop(st, rnd, start, "open_manhole", random_manhole(rnd, True), 0.5)


def fallen_tree(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    road = _road_bands(st)[:1] if rnd.random() < 0.4 else []
    x, y, zone = st._spot(rnd, start, 4.0, 6.0, size=(5.0, 1.5), min_scale=0.025, road=road or None)
    # Along the kerb or across the walkway, root either end.
    angle = rnd.uniform(-0.5, 0.5) if rnd.random() < 0.55 else math.pi / 2 + rnd.uniform(-0.5, 0.5)
    angle += rnd.choice((0.0, math.pi))
    end = start + rnd.uniform(40.0, 80.0)
    prop = Prop(x, y, start, end, random_fallen_tree(rnd, angle), "fallen_tree")
    return _event(st, "fallen_tree", start, x, y, zone, (start, end), [prop])


def fire_lane_parking(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    assert st.b.fire_lane is not None, "a fire lane is painted on streets only"
    return st.park_in(rnd, start, "fire_lane_parking", st.b.fire_lane, "fire-lane")


def bike_pileup(st: Stager, rnd: random.Random, start: float) -> SimEvent:
    n = rnd.randint(5, 12)
    gap = rnd.uniform(0.45, 0.65)
    x, y, zone = st._spot(rnd, start, 3.0, 5.0, size=(n * gap, 1.2), min_scale=0.035)
    # Never quite nose-on: a bike seen end-on from the pole is a sliver no one can label.
    base = math.pi / 2 + rnd.choice((-1, 1)) * rnd.uniform(0.45, 1.0)
    bikes: list[Actor] = []
    t = start
    end = start + rnd.uniform(45.0, 80.0)
    for i in range(n):
        bx = x + (i - (n - 1) / 2) * gap + rnd.uniform(-0.08, 0.08)
        by = y + rnd.uniform(-0.25, 0.25)
        heading = base + rnd.uniform(-0.15, 0.15) + rnd.choice((0.0, math.pi))
        bikes.append(ParkedBike(bx, by, t, end, heading, rnd.choice(BIKE_FRAMES), rnd.uniform(-0.15, 0.15)))
        t += rnd.uniform(0.3, 1.2)  # left one after another
    return _event(st, "bike_pileup", start, x, y, zone, (t, end), bikes)


BUILDERS: dict[str, Callable[[Stager, random.Random, float], SimEvent]] = {
    "overflowing_bin": overflowing_bin,
    "construction_waste": construction_waste,
    "piled_goods": piled_goods,
    "banner": banner,
    "laundry": laundry,
    "waterlogging": waterlogging,
    "fallen_tree": fallen_tree,
    "pothole": pothole,
    "open_manhole": open_manhole,
    "fire_lane_parking": fire_lane_parking,
    "bike_pileup": bike_pileup,
}


def _register() -> None:
    from scenes import incidents

    incidents.BUILDERS.update(BUILDERS)


_register()
