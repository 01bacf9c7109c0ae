"""The drone's world: an endless seeded grid city in metres (east, north), and the
heading-up mapping from it to pixels."""

from __future__ import annotations

import math
import random

import numpy as np

from scenes.paint import BGR

ROOFS: tuple[BGR, ...] = (
    (150, 150, 150), (110, 115, 120), (70, 90, 160), (180, 180, 175), (120, 130, 110),
    (200, 200, 200), (95, 100, 105), (140, 120, 100), (90, 120, 90),
)  # fmt: skip


def unit(*keys: int) -> float:
    """A uniform number in [0, 1) from integer keys: splitmix64, fast and stable across runs."""
    h = 0x9E3779B97F4A7C15
    for k in keys:
        h = (h ^ (k & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return ((h ^ (h >> 29)) & 0xFFFFFF) / float(1 << 24)


def make_block(
    seed: int, pitch: float, road: float, walk: float, sun: tuple[float, float], i: int, j: int
) -> tuple[np.ndarray, list[tuple[int, int, BGR]], list[tuple]]:
    """One block in world metres: polygon corners in one array (transformed in one go),
    the polygons as (first, end, colour) slices of it, and the trees as (x, y, r, colour)."""
    rnd = random.Random(f"{seed}/block/{i}/{j}")
    P, m = pitch, road / 2 + walk
    x0, x1, y0, y1 = i * P + m, (i + 1) * P - m, j * P + m, (j + 1) * P - m
    ops: list[tuple[str, object, BGR]] = []

    def packed() -> tuple[np.ndarray, list[tuple[int, int, BGR]], list[tuple]]:
        polys, trees, chunks, n = [], [], [], 0
        for op, geo, colour in ops:
            if op == "poly":
                arr = np.asarray(geo)
                chunks.append(arr)
                polys.append((n, n + len(arr), colour))
                n += len(arr)
            else:
                trees.append((*geo, colour))  # type: ignore[misc]
        return (np.concatenate(chunks) if chunks else np.zeros((0, 2))), polys, trees

    kind = rnd.choices(("buildings", "park", "square"), (6, 2, 1))[0]
    if kind == "park":
        ops.append(("poly", rect(x0, x1, y0, y1), (70, 130, 80)))
        ops.append(("poly", rect(x0, x1, (y0 + y1) / 2 - 1.5, (y0 + y1) / 2 + 1.5), (150, 170, 180)))
        for _ in range(rnd.randint(10, 22)):
            ops.append(
                (
                    "tree",
                    (rnd.uniform(x0 + 3, x1 - 3), rnd.uniform(y0 + 3, y1 - 3), rnd.uniform(2.0, 4.5)),
                    (50, 105, 55),
                )
            )
        return packed()
    if kind == "square":
        ops.append(("poly", rect(x0, x1, y0, y1), (160, 170, 178)))
        for _ in range(rnd.randint(4, 10)):
            ops.append(
                (
                    "tree",
                    (rnd.uniform(x0 + 2, x1 - 2), rnd.choice((y0 + 3, y1 - 3)), rnd.uniform(2.0, 3.5)),
                    (55, 115, 60),
                )
            )
        return packed()
    ops.append(("poly", rect(x0, x1, y0, y1), (120, 125, 128)))
    cols, rows = rnd.randint(1, 3), rnd.randint(1, 3)
    gap = 4.0
    cw, rh = (x1 - x0 - gap * (cols + 1)) / cols, (y1 - y0 - gap * (rows + 1)) / rows
    for c in range(cols):
        for r in range(rows):
            bx0 = x0 + gap + c * (cw + gap)
            by0 = y0 + gap + r * (rh + gap)
            w, h = cw * rnd.uniform(0.75, 1.0), rh * rnd.uniform(0.75, 1.0)
            height = rnd.uniform(8.0, 60.0)
            sx, sy = sun[0] * height, sun[1] * height
            ops.append(("poly", rect(bx0 + sx, bx0 + w + sx, by0 + sy, by0 + h + sy), (60, 65, 68)))
            roof = rnd.choice(ROOFS)
            eave = (int(roof[0] * 0.8), int(roof[1] * 0.8), int(roof[2] * 0.8))
            ops.append(("poly", rect(bx0, bx0 + w, by0, by0 + h), eave))
            ops.append(("poly", rect(bx0 + 0.8, bx0 + w - 0.8, by0 + 0.8, by0 + h - 0.8), roof))
            for _ in range(rnd.randint(0, 3)):
                ux, uy = rnd.uniform(bx0 + 2, bx0 + w - 5), rnd.uniform(by0 + 2, by0 + h - 5)
                ops.append(("poly", rect(ux, ux + 3.0, uy, uy + 2.0), (205, 205, 200)))
    return packed()


class TopView:
    """World metres (east, north) → pixels, centred on the drone, heading up."""

    __slots__ = ("center", "k", "cx", "cy", "sin", "cos", "radius_m")

    def __init__(
        self, center: tuple[float, float], heading: float, k: float, width: int, height: int
    ) -> None:
        self.center = center
        self.k = k
        self.cx, self.cy = width / 2.0, height / 2.0
        h = math.radians(heading)
        self.sin, self.cos = math.sin(h), math.cos(h)
        self.radius_m = math.hypot(width, height) / 2.0 / k

    def pt(self, x: float, y: float) -> tuple[float, float]:
        de, dn = x - self.center[0], y - self.center[1]
        return self.cx + (de * self.cos - dn * self.sin) * self.k, self.cy - (
            de * self.sin + dn * self.cos
        ) * self.k

    def px(self, pts: np.ndarray) -> np.ndarray:
        de = pts[:, 0] - self.center[0]
        dn = pts[:, 1] - self.center[1]
        out = np.empty((len(pts), 2))
        out[:, 0] = self.cx + (de * self.cos - dn * self.sin) * self.k
        out[:, 1] = self.cy - (de * self.sin + dn * self.cos) * self.k
        return out


def rect(x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    return np.array([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], dtype=np.float64)


def oriented(c: tuple[float, float], ang: float, length: float, width: float) -> np.ndarray:
    fx, fy = math.cos(ang), math.sin(ang)
    lx, ly = -fy, fx
    hl, hw = length / 2, width / 2
    return np.array(
        [
            (c[0] + fx * hl + lx * hw, c[1] + fy * hl + ly * hw),
            (c[0] - fx * hl + lx * hw, c[1] - fy * hl + ly * hw),
            (c[0] - fx * hl - lx * hw, c[1] - fy * hl - ly * hw),
            (c[0] + fx * hl - lx * hw, c[1] + fy * hl - ly * hw),
        ]
    )
