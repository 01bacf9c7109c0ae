"""A fixed street or plaza camera: backdrop + ambient traffic + scheduled incidents, with
exact ground-truth boxes for everything visible in each frame."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from scenes.actors import Actor
from scenes.events import CLASSIC_KINDS, PROP_KINDS, EventPlanner
from scenes.fixtures import place_fixtures
from scenes.layout import Backdrop, Polygon
from scenes.lighting import Grade, Noise, finish, random_grade
from scenes.paint import Box, Label, clip_box
from scenes.plaza import build_plaza
from scenes.street import build_street
from scenes.traffic import Traffic

# Every name a rendered label carries (street, plaza and drone views). Plain strings: the
# renderer knows no model; vision/classes.py maps them to the detector's class ids.
# The standing problems are one label each, named as their event kinds (scenes/events.py).
LABELS = ("person", "vehicle", "bicycle", "fire", "smoke", "garbage", "stall", *PROP_KINDS)
SCENE_KINDS = ("street", "plaza")
MIN_SIDE_PX = 4.0
MAX_HIDDEN = 0.85  # drop a label when more than this share of its box is hidden
_GRID = np.linspace(0.04, 0.96, 12)


class SceneRenderer:
    def __init__(
        self,
        seed: int,
        width: int = 640,
        height: int = 360,
        kind: str = "street",
        event_every_s: float = 40.0,
        first_event_s: float = 8.0,
        randomize: bool = False,
        noise_sigma: float = 1.5,
        density: float = 1.0,
        kinds: Sequence[str] | None = None,
        standing_problems: int = 0,
        standing_garbage: int = 0,
    ) -> None:
        """`kinds` limits the scheduled event kinds (default: every kind the scene stages,
        scenes.events.STREET_KINDS or PLAZA_KINDS); `standing_problems` props of the
        governance kinds stand through the whole scene, outside any event, and `standing_garbage`
        dumped piles after them (training data)."""
        if kind not in SCENE_KINDS:
            raise ValueError(f"unknown scene kind {kind!r}; expected one of {', '.join(SCENE_KINDS)}")
        if width < 64 or height < 64:
            raise ValueError(f"frame size {width}x{height} is too small (at least 64x64)")
        self.seed = seed
        self.kind = kind
        self.width = width
        self.height = height
        self.randomize = randomize
        rnd = random.Random(f"{seed}/{kind}/{int(randomize)}")
        build = build_street if kind == "street" else build_plaza
        self.backdrop: Backdrop = build(width, height, rnd, randomize)
        self.traffic = Traffic(self.backdrop, seed, density)
        self.planner = EventPlanner(self.backdrop, self.traffic, seed, event_every_s, first_event_s, kinds)
        # Normal bins and closed manhole covers, so "overflowing" and "open" mean something.
        # Their own generator: the street, its traffic and its events stay as they were. A scene
        # of the classic events only is the street as the first renderer drew it, without them:
        # what a model of the first seven classes was trained on (it takes a bin for a stall).
        classic = kinds is not None and set(kinds) <= set(CLASSIC_KINDS)
        self._fixtures = [] if classic else place_fixtures(self.backdrop, random.Random(f"{seed}/{kind}/fixtures"))
        if standing_problems or standing_garbage:
            problems = random.Random(f"{seed}/{kind}/standing")
            self._fixtures += self.planner.standing_problems(standing_problems, problems, standing_garbage)
        lamps = [o.lamp for o in self.backdrop.occluders if o.lamp is not None]
        self.grade = random_grade(rnd, width, height, lamps) if randomize else Grade(noise_sigma=noise_sigma)
        self._noise = Noise(width, height, self.grade.noise_sigma, rnd.getrandbits(32))
        # Farthest first: the painter's order in which occluders are pasted back over actors.
        self._occluders = sorted(self.backdrop.occluders, key=lambda o: -o.depth)

    @property
    def zones(self) -> dict[str, Polygon]:
        """Named ground areas in pixels: street: no-parking, road, sidewalk, sidewalk-far;
        plaza: plaza, no-vending."""
        return {k: list(v) for k, v in self.backdrop.zones.items()}

    @property
    def no_parking_zone(self) -> Polygon:
        return list(self.backdrop.zones.get("no-parking", []))

    @property
    def events(self) -> list[dict[str, Any]]:
        """The first hour of the schedule (see `events_until` for later)."""
        return self.events_until(3600.0)

    def events_until(self, t: float) -> list[dict[str, Any]]:
        """Events that start before t, by start; "index" is the position in this list (final:
        no event added later starts earlier), the number `resolve` and `persist` take."""
        return [{**e.as_dict(), "index": i} for i, e in enumerate(self.planner.until(t))]

    def event_at(self, t: float) -> list[dict[str, Any]]:
        """Events whose condition holds at t (after any resolve or persist)."""
        return [e for e in self.events_until(t) if e["active_s"][0] <= t < e["active_s"][1]]

    def resolve(self, index: int, at_s: float) -> None:
        """Event `index` is handled at scene time `at_s`: from then on all its actors (the
        stall, the pile, the parked car, the fire, the prop, and whoever came with them) are
        gone. Frames stay a pure function of t; rebuilding a pruned event keeps the change."""
        self.planner.resolve(index, at_s)

    def persist(self, index: int) -> None:
        """Event `index` never ends: what holds its condition (the pile, the parked car, the
        fire, the crowd) stays as it is at the end of the natural active span, for ever."""
        self.planner.persist(index)

    def render(self, t: float) -> tuple[np.ndarray, list[tuple[str, Box]]]:
        staged = self.planner.active(t)  # first: staging an event may close a lane to traffic
        actors: list[Actor] = self.traffic.active(t) + staged + self._fixtures
        depths = [a.depth(t) for a in actors]
        order = sorted(range(len(actors)), key=lambda i: -depths[i])
        img = self.backdrop.image.copy()
        drawn: list[tuple[float, Label]] = []  # (depth, label) in drawing order
        occ = self._occluders
        j = 0
        for i in order:
            d = depths[i]
            while j < len(occ) and occ[j].depth >= d:
                self._paste_if_needed(img, j, drawn)
                j += 1
            for label in actors[i].draw(img, self.backdrop.cam, t):
                drawn.append((d, label))
        while j < len(occ):
            self._paste_if_needed(img, j, drawn)
            j += 1
        img = finish(img, self.grade, self._noise, t)
        return img, self._visible_labels(drawn)

    def _paste_if_needed(self, img: np.ndarray, j: int, drawn: list[tuple[float, Label]]) -> None:
        """Put a tree or post back over actors behind it; skipped when none overlaps it."""
        o = self._occluders[j]
        ob = o.box
        for _, (_, b) in drawn:
            if b[0] < ob[2] and b[2] > ob[0] and b[1] < ob[3] and b[3] > ob[1]:
                o.paste(img)
                return

    def _visible_labels(self, drawn: list[tuple[float, Label]]) -> list[tuple[str, Box]]:
        out: list[tuple[str, Box]] = []
        for k, (depth, (cls, box)) in enumerate(drawn):
            clipped = clip_box(box, self.width, self.height)
            w, h = clipped[2] - clipped[0], clipped[3] - clipped[1]
            if w < MIN_SIDE_PX or h < MIN_SIDE_PX:
                continue
            hidden = self._hidden_share(clipped, depth, drawn[k + 1 :])
            if hidden > MAX_HIDDEN:
                continue
            out.append(
                (
                    cls,
                    (round(clipped[0], 1), round(clipped[1], 1), round(clipped[2], 1), round(clipped[3], 1)),
                )
            )
        return out

    def _hidden_share(self, box: Box, depth: float, later: list[tuple[float, Label]]) -> float:
        w, h = box[2] - box[0], box[3] - box[1]
        by_static = sum(o.covered(box) for o in self._occluders if o.depth < depth) / (w * h)
        gx, gy = box[0] + _GRID * w, box[1] + _GRID * h
        hit = np.zeros((len(gy), len(gx)), dtype=bool)
        for d, (cls, c) in later:
            if d >= depth or cls == "smoke":
                continue  # smoke is see-through; same-depth parts belong to one actor
            # A figure fills only part of its box: count the middle of a person's box as solid.
            shrink = 0.2 if cls in ("person", "bicycle") else 0.05
            cw = (c[2] - c[0]) * shrink
            inx = (gx > c[0] + cw) & (gx < c[2] - cw)
            iny = (gy > c[1]) & (gy < c[3])
            if inx.any() and iny.any():
                hit |= iny[:, None] & inx[None, :]
        by_actors = float(hit.mean())
        return 1.0 - (1.0 - min(by_static, 1.0)) * (1.0 - by_actors)
