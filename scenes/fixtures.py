"""Ordinary street fixtures that look like a governance problem's healthy twin: litter bins
that are not overflowing, manhole covers that are closed. Never labelled: a detector must
learn that a bin is not an overflowing bin, a cover not an open manhole."""

from __future__ import annotations

import random

from scenes.actors import Actor, Prop
from scenes.ground_marks import random_manhole
from scenes.holds import FOREVER
from scenes.layout import Backdrop
from scenes.problem_props import random_bin


def _spot(
    b: Backdrop, rnd: random.Random, bands: list[tuple[float, float]], gap: float
) -> tuple[float, float] | None:
    for _ in range(20):
        y = rnd.uniform(*rnd.choice(bands))
        lo, hi = b.visible_x(y, 1.0)
        if hi <= lo:
            continue
        x = rnd.uniform(lo, hi)
        if b.clear_of_obstacles(x, y, gap):
            return x, y
    return None


def place_fixtures(b: Backdrop, rnd: random.Random) -> list[Actor]:
    """Bake closed manhole covers into the backdrop; return normal bins as (unlabelled) actors,
    which people walk in front of and behind. Both become obstacles events keep clear of."""
    walk = b.event_bands or b.walkways
    ground = list(walk)
    if b.park_lane is not None:
        ground += [(ln.y - 1.0, ln.y + 1.0) for ln in b.lanes[:2]]
    if rnd.random() < 0.7:
        for _ in range(rnd.randint(1, 3)):
            spot = _spot(b, rnd, ground, 0.8)
            if spot is not None:
                random_manhole(rnd, False).draw(b.image, b.cam, spot[0], spot[1], 0.0)
                b.obstacles.append((spot[0], spot[1], 0.5))
    bins: list[Actor] = []
    if rnd.random() < 0.7:
        for _ in range(rnd.randint(1, 2)):
            spot = _spot(b, rnd, walk, 1.0)
            if spot is not None:
                bins.append(Prop(spot[0], spot[1], -FOREVER, FOREVER, random_bin(rnd, False), None))
                b.obstacles.append((spot[0], spot[1], 0.6))
    return bins
