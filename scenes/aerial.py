"""What a drone's downward camera sees: an endless seeded grid city, drawn heading-up.

Blocks, traffic and pedestrians are pure functions of (seed, position, t): cars and walkers
move along periodic queues on every road, so the view is the same whichever way or however
often the drone passes.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache, partial
from typing import TYPE_CHECKING

import numpy as np

from scenes.citymap import TopView, make_block, oriented, rect, unit
from scenes.lighting import Noise
from scenes.paint import BGR, Box, Label, clip_box, disc, fill, fill_many
from scenes.props import blend_puffs

if TYPE_CHECKING:
    from scenes.drone import DroneFlight

CARS: tuple[BGR, ...] = (
    (235, 235, 235),
    (30, 30, 32),
    (190, 190, 195),
    (40, 40, 190),
    (160, 90, 30),
    (60, 150, 60),
)
SHIRTS: tuple[BGR, ...] = (
    (40, 40, 200),
    (200, 120, 40),
    (230, 230, 230),
    (30, 30, 30),
    (60, 160, 60),
    (40, 180, 220),
)
MIN_SIDE_PX = 4.0


class AerialRenderer:
    def __init__(
        self,
        seed: int,
        width: int = 640,
        height: int = 360,
        flight: DroneFlight | None = None,
        hfov_deg: float = 50.0,
        noise_sigma: float = 1.5,
    ) -> None:
        self.seed = seed
        self.width = width
        self.height = height
        self.flight = flight
        self.hfov_deg = hfov_deg
        rnd = random.Random(f"{seed}/aerial")
        self.pitch = rnd.uniform(90.0, 130.0)  # block size, metres
        self.road = rnd.uniform(12.0, 18.0)
        self.walk = 3.0
        self.ground: BGR = (95, 110, 105)
        self.sun = (rnd.uniform(-0.3, 0.3), rnd.uniform(-0.3, -0.15))  # shadow offset per metre of height
        self.wind = (rnd.uniform(-3.0, 3.0), rnd.uniform(-3.0, 3.0))
        self._noise = Noise(width, height, noise_sigma, rnd.getrandbits(32))
        self._block = lru_cache(maxsize=256)(
            partial(make_block, seed, self.pitch, self.road, self.walk, self.sun)
        )

    def render(
        self, t: float, heading: float, center: tuple[float, float] | None = None, alt_m: float | None = None
    ) -> tuple[np.ndarray, list[tuple[str, Box]]]:
        """The view at t with the drone's heading pointing up.

        Position (metres east, north of the flight's first waypoint) comes from `center`, else
        the flight; with neither, the view drifts along the heading at 12 m/s.
        """
        if center is None:
            if self.flight is not None:
                e, n, _ = self.flight.position_m(t)
                center = (e, n)
            else:
                h = math.radians(heading)
                center = (12.0 * t * math.sin(h), 12.0 * t * math.cos(h))
        alt = alt_m if alt_m is not None else (self.flight.alt_m if self.flight is not None else 120.0)
        k = self.width / (2.0 * max(alt, 5.0) * math.tan(math.radians(self.hfov_deg) / 2))
        view = TopView(center, heading, k, self.width, self.height)
        img = np.empty((self.height, self.width, 3), dtype=np.uint8)
        img[:] = self.ground
        labels: list[Label] = []
        P = self.pitch
        r = view.radius_m
        i0, i1 = math.floor((center[0] - r) / P), math.floor((center[0] + r) / P)
        j0, j1 = math.floor((center[1] - r) / P), math.floor((center[1] + r) / P)
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                self._draw_block(img, view, i, j)
        self._draw_roads(img, view, i0, i1 + 1, j0, j1 + 1)
        labels += self._draw_movers(img, view, t, i0, i1 + 1, j0, j1 + 1)
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                labels += self._draw_fire(img, view, t, i, j)
        self._noise.apply(img, t)
        out = []
        for cls, box in labels:
            c = clip_box(box, self.width, self.height)
            if c[2] - c[0] >= MIN_SIDE_PX and c[3] - c[1] >= MIN_SIDE_PX:
                out.append((cls, (round(c[0], 1), round(c[1], 1), round(c[2], 1), round(c[3], 1))))
        return img, out

    # The city

    def _draw_block(self, img: np.ndarray, view: TopView, i: int, j: int) -> None:
        P = self.pitch
        cx, cy = (i + 0.5) * P, (j + 0.5) * P
        if math.hypot(cx - view.center[0], cy - view.center[1]) > view.radius_m + 0.75 * P:
            return
        pts, polys, trees = self._block(i, j)
        uv = view.px(pts)  # one transform for the whole block
        for a, b, colour in polys:
            fill(img, uv[a:b], colour, aa=False)
        for x, y, r, colour in trees:
            rk = r * view.k
            u, v = view.pt(x + self.sun[0] * 6, y + self.sun[1] * 6)
            disc(img, (u, v), rk, (50, 70, 55))
            u, v = view.pt(x, y)
            disc(img, (u, v), rk, colour)
            disc(img, (u - 0.3 * rk, v - 0.3 * rk), 0.45 * rk, (70, 135, 80))

    def _draw_roads(self, img: np.ndarray, view: TopView, i0: int, i1: int, j0: int, j1: int) -> None:
        P, half, r = self.pitch, self.road / 2, view.radius_m
        cx, cy = view.center
        walks, asphalt, marks = [], [], []
        for i in range(i0, i1 + 1):
            x = i * P
            walks.append(rect(x - half - self.walk, x + half + self.walk, cy - r, cy + r))
            asphalt.append(rect(x - half, x + half, cy - r, cy + r))
        for j in range(j0, j1 + 1):
            y = j * P
            walks.append(rect(cx - r, cx + r, y - half - self.walk, y + half + self.walk))
            asphalt.append(rect(cx - r, cx + r, y - half, y + half))
        # One call per strip: fillPoly given overlapping contours leaves their overlap empty.
        for p in walks:
            fill(img, view.px(p), (165, 170, 172), aa=False)
        for p in asphalt:
            fill(img, view.px(p), (75, 75, 78), aa=False)
        # Dashed centre lines, kept out of the junctions.
        clear = half + self.walk
        for i in range(i0, i1 + 1):
            x = i * P
            for y in np.arange(math.floor((cy - r) / 8) * 8, cy + r, 8.0):
                if abs((y + 1.5) - round((y + 1.5) / P) * P) > clear:
                    marks.append(rect(x - 0.12, x + 0.12, y, y + 3.0))
        for j in range(j0, j1 + 1):
            y = j * P
            for x in np.arange(math.floor((cx - r) / 8) * 8, cx + r, 8.0):
                if abs((x + 1.5) - round((x + 1.5) / P) * P) > clear:
                    marks.append(rect(x, x + 3.0, y - 0.12, y + 0.12))
        if marks:
            uv = view.px(np.concatenate(marks)).reshape(-1, 4, 2)
            fill_many(img, list(uv), (215, 220, 220))

    # Movers: cars in two lanes per road, walkers on both sidewalks; periodic queues

    def _draw_movers(
        self, img: np.ndarray, view: TopView, t: float, i0: int, i1: int, j0: int, j1: int
    ) -> list[Label]:
        labels: list[Label] = []
        P, q = self.pitch, self.road / 4
        side = self.road / 2 + self.walk / 2
        cx, cy = view.center
        r = view.radius_m
        queues = []
        for i in range(i0, i1 + 1):
            queues += [(0, i, 0, i * P + q, 1, cy), (0, i, 1, i * P - q, -1, cy)]
            queues += [(0, i, 2, i * P + side, 1, cy), (0, i, 3, i * P - side, -1, cy)]
        for j in range(j0, j1 + 1):
            queues += [(1, j, 0, j * P - q, 1, cx), (1, j, 1, j * P + q, -1, cx)]
            queues += [(1, j, 2, j * P - side, 1, cx), (1, j, 3, j * P + side, -1, cx)]
        margin = 4.0 * view.k
        for axis, idx, lane, offset, d, mid in queues:
            walker = lane >= 2
            key = (self.seed, axis, idx, lane)
            speed = (0.9 + 0.6 * unit(*key, 1)) if walker else (5.0 + 9.0 * unit(*key, 1))
            gap = (12.0 + 30.0 * unit(*key, 2)) if walker else (22.0 + 40.0 * unit(*key, 2))
            shift = d * speed * t + gap * unit(*key, 3)
            n0 = math.floor((mid - r - shift) / gap) - 1
            n1 = math.ceil((mid + r - shift) / gap) + 1
            for n in range(n0, n1 + 1):
                if unit(*key, n, 4) < (0.3 if walker else 0.2):
                    continue  # gaps in the queue
                a = shift + n * gap + 0.35 * gap * unit(*key, n, 5)
                pos = (offset, a) if axis == 0 else (a, offset)
                u, v = view.pt(*pos)
                if not (-margin < u < view.cx * 2 + margin and -margin < v < view.cy * 2 + margin):
                    continue
                ang = (math.pi / 2 if d > 0 else -math.pi / 2) if axis == 0 else (0.0 if d > 0 else math.pi)
                if walker:
                    labels.append(("person", self._person(img, view, pos, key + (n,))))
                else:
                    labels.append(("vehicle", self._car(img, view, pos, ang, key + (n,))))
        return labels

    def _car(
        self, img: np.ndarray, view: TopView, pos: tuple[float, float], ang: float, key: tuple[int, ...]
    ) -> Box:
        length = 4.2 + 1.2 * unit(*key, 6)
        width = 1.8 + 0.2 * unit(*key, 7)
        colour = CARS[int(unit(*key, 8) * len(CARS))]
        fx, fy = math.cos(ang), math.sin(ang)
        shadow = (pos[0] + self.sun[0] * 1.5, pos[1] + self.sun[1] * 1.5)
        quads = np.concatenate(
            [
                oriented(shadow, ang, length, width),
                oriented(pos, ang, length, width),
                oriented((pos[0] + fx * 0.55, pos[1] + fy * 0.55), ang, 1.0, width * 0.8),
                oriented((pos[0] - fx * 1.3, pos[1] - fy * 1.3), ang, 0.6, width * 0.8),
            ]
        )
        uv = view.px(quads)
        fill(img, uv[0:4], (45, 45, 48))
        fill(img, uv[4:8], colour)
        fill(img, uv[8:12], (70, 55, 45))
        fill(img, uv[12:16], (70, 55, 45))
        body = uv[4:8]
        return (
            float(body[:, 0].min()),
            float(body[:, 1].min()),
            float(body[:, 0].max()),
            float(body[:, 1].max()),
        )

    def _person(self, img: np.ndarray, view: TopView, pos: tuple[float, float], key: tuple[int, ...]) -> Box:
        u, v = view.pt(*pos)
        k = view.k
        shirt = SHIRTS[int(unit(*key, 6) * len(SHIRTS))]
        su, sv = view.pt(pos[0] + self.sun[0] * 1.7, pos[1] + self.sun[1] * 1.7)
        disc(img, (su, sv), 0.3 * k, (50, 50, 52))
        disc(img, (u, v), 0.32 * k, shirt)
        disc(img, (u, v), 0.15 * k, (30, 30, 35))
        rr = 0.4 * k
        return (u - rr, v - rr, u + rr, v + rr)

    def _draw_fire(self, img: np.ndarray, view: TopView, t: float, i: int, j: int) -> list[Label]:
        key = (self.seed, i, j, 77)
        if unit(*key) > 0.18:
            return []
        period, burn = 240.0, 90.0
        since = (t - period * unit(*key, 1)) % period
        if since > burn:
            return []
        P, m = self.pitch, self.road / 2 + self.walk + 6.0
        x = i * P + m + (P - 2 * m) * unit(*key, 2)
        y = j * P + m + (P - 2 * m) * unit(*key, 3)
        if math.hypot(x - view.center[0], y - view.center[1]) > view.radius_m + 40:
            return []
        out: list[Label] = []
        grow = min(1.0, since / 5.0, (burn - since) / 5.0)
        size = (2.0 + 2.0 * unit(*key, 4)) * (0.4 + 0.6 * grow)
        pts = []
        for n, colour in enumerate(((20, 60, 215), (10, 130, 250), (90, 225, 255))):
            for b in range(5):
                a = b * 1.26 + n
                rr = size * (1.0 - 0.28 * n) * (0.55 + 0.25 * math.sin(t * (6 + b) + a))
                c = (
                    x + 0.6 * size * math.cos(a) * (1 - 0.3 * n),
                    y + 0.6 * size * math.sin(a) * (1 - 0.3 * n),
                )
                u, v = view.pt(*c)
                disc(img, (u, v), rr * view.k, colour)
                pts.append((u - rr * view.k, v - rr * view.k, u + rr * view.k, v + rr * view.k))
        out.append(
            (
                "fire",
                (
                    min(p[0] for p in pts),
                    min(p[1] for p in pts),
                    max(p[2] for p in pts),
                    max(p[3] for p in pts),
                ),
            )
        )
        puffs = []
        step, life = 0.6, 15.0
        for n in range(max(0, math.ceil((since - life) / step)), math.floor(since / step) + 1):
            age = since - n * step
            wx = x + self.wind[0] * age + 0.4 * age * math.sin(n * 1.7)
            wy = y + self.wind[1] * age + 0.4 * age * math.cos(n * 1.3)
            u, v = view.pt(wx, wy)
            puffs.append((u, v, (1.5 + 0.8 * age) * view.k, grow * 0.95 * (1 - age / life) ** 0.5))
        smoke = blend_puffs(img, puffs, 38, max(1.0, 0.5 * view.k))
        if smoke is not None:
            out.append(("smoke", smoke))
        return out
