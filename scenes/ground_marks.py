"""Flat governance problems drawn in the ground plane, so they foreshorten with distance: a
puddle of standing water, a pothole, an open manhole with its cover shifted beside it; and a
closed manhole cover, which is ordinary scenery (never labelled)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, Box, fill, line, mix, shade


def _ring(
    cam: PoleCamera,
    x: float,
    y: float,
    rx: float,
    ry: float,
    radii: tuple[float, ...] | None = None,
    z: float = 0.0,
    n: int = 32,
) -> np.ndarray:
    """Projected outline of an ellipse (optionally wobbly: a radius factor per direction)."""
    k = len(radii) if radii else n
    a = np.linspace(0, 2 * np.pi, k, endpoint=False)
    f = np.asarray(radii) if radii else np.ones(k)
    pts = np.stack([x + rx * f * np.cos(a), y + ry * f * np.sin(a), np.full(k, z)], axis=1)
    return cam.project(pts)[0]


def _box(uv: np.ndarray) -> Box:
    return float(uv[:, 0].min()), float(uv[:, 1].min()), float(uv[:, 0].max()), float(uv[:, 1].max())


def _blend(img: np.ndarray, poly: np.ndarray, colour: BGR, alpha: float) -> None:
    """Lay a see-through colour over a polygon (water over the paving keeps its joints)."""
    h, w = img.shape[:2]
    x0, y0 = max(0, int(poly[:, 0].min()) - 1), max(0, int(poly[:, 1].min()) - 1)
    x1, y1 = min(w, int(poly[:, 0].max()) + 2), min(h, int(poly[:, 1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    shifted = np.round((poly - (x0, y0)) * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [shifted], 255, cv2.LINE_AA, 4)
    a = mask.astype(np.float32)[:, :, None] * (alpha / 255.0)
    roi = img[y0:y1, x0:x1]
    roi[:] = (roi * (1.0 - a) + np.array(colour, np.float32) * a).astype(np.uint8)


@dataclass(frozen=True, slots=True)
class PuddleLook:
    radius: tuple[float, float]
    outline: tuple[float, ...]
    water: BGR
    sky: BGR
    glints: tuple[tuple[float, float, float], ...]  # (dx, dy unit offsets, length factor)

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        rx, ry = self.radius
        wet = _ring(cam, x, y, rx * 1.08, ry * 1.1, self.outline)
        _blend(img, wet, shade(self.water, 0.7), 0.35)  # a darker wet rim
        body = _ring(cam, x, y, rx, ry, self.outline)
        _blend(img, body, self.water, 0.78)
        # Sky reflected in the still water: pale streaks along the surface, shimmering slowly.
        for i, (dx, dy, k) in enumerate(self.glints):
            shift = 0.06 * rx * math.sin(t * 0.8 + i)
            gx, gy = x + dx * rx * 0.6 + shift, y + dy * ry * 0.6
            p = cam.point(gx - k * rx * 0.3, gy)
            q = cam.point(gx + k * rx * 0.3, gy)
            thick = max(1.0, 0.05 * cam.scale(gx, gy))
            line(img, p[:2], q[:2], mix(self.water, self.sky, 0.55 + 0.1 * (i % 3)), thick)
        return _box(body)


def random_puddle(rnd: random.Random) -> PuddleLook:
    rx = rnd.uniform(1.0, 3.5)
    water = rnd.choice(((105, 92, 78), (95, 88, 80), (120, 105, 85), (85, 80, 72)))
    sky = rnd.choice(((225, 215, 200), (200, 200, 200), (235, 225, 210)))
    outline = [rnd.uniform(0.8, 1.15)]
    for _ in range(17):  # a smooth random walk: irregular, not spiky
        outline.append(min(1.25, max(0.65, outline[-1] + rnd.uniform(-0.12, 0.12))))
    glints = tuple(
        (rnd.uniform(-0.8, 0.8), rnd.uniform(-0.6, 0.6), rnd.uniform(0.4, 1.2))
        for _ in range(rnd.randint(3, 7))
    )
    return PuddleLook((rx, rx * rnd.uniform(0.35, 0.8)), tuple(outline), water, sky, glints)


@dataclass(frozen=True, slots=True)
class PotholeLook:
    radius: float
    outline: tuple[float, ...]
    cracks: tuple[tuple[float, float], ...]  # (angle, length m)
    rim: BGR

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        r = self.radius
        edge = _ring(cam, x, y, r * 1.18, r * 0.9, self.outline)
        fill(img, edge, self.rim)  # crumbled edge, paler than the asphalt
        hole = _ring(cam, x, y, r, r * 0.75, self.outline)
        fill(img, hole, (22, 23, 26))
        # The near inner wall is hidden, the far floor catches light: a paler floor shifted near.
        floor = _ring(cam, x, y - r * 0.12, r * 0.65, r * 0.45, self.outline[::2])
        fill(img, floor, (55, 56, 60))
        s = cam.scale(x, y)
        for a, length in self.cracks:
            p = cam.point(x + 1.1 * r * math.cos(a), y + 0.85 * r * math.sin(a))
            q = cam.point(
                x + (1.1 * r + length) * math.cos(a + 0.2), y + (0.85 * r + length) * math.sin(a + 0.2)
            )
            line(img, p[:2], q[:2], (38, 38, 42), max(1.0, 0.03 * s))
        return _box(edge)


def random_pothole(rnd: random.Random) -> PotholeLook:
    outline = tuple(rnd.uniform(0.6, 1.25) for _ in range(rnd.randint(12, 20)))
    cracks = tuple((rnd.uniform(0, 2 * math.pi), rnd.uniform(0.15, 0.6)) for _ in range(rnd.randint(2, 6)))
    return PotholeLook(
        rnd.uniform(0.35, 0.95),
        outline,
        cracks,
        rnd.choice(((118, 120, 126), (132, 132, 136), (108, 112, 118))),
    )


@dataclass(frozen=True, slots=True)
class ManholeLook:
    radius: float
    square: bool
    open_: bool
    cover_at: tuple[float, float]  # where the lifted cover lies, relative to the shaft
    metal: BGR

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        r = self.radius
        n = 4 if self.square else 32
        rot = math.pi / 4 if self.square else 0.0
        outline = (1.0,) * n if not self.square else (math.sqrt(2),) * 4

        def shape(cx: float, cy: float, rr: float, z: float = 0.0) -> np.ndarray:
            a = np.linspace(0, 2 * np.pi, n, endpoint=False) + rot
            f = np.asarray(outline)
            pts = np.stack([cx + rr * f * np.cos(a), cy + rr * f * np.sin(a), np.full(n, z)], axis=1)
            return cam.project(pts)[0]

        frame = shape(x, y, r * 1.15)
        fill(img, frame, shade(self.metal, 0.9))
        boxes = [frame]
        if self.open_:
            shaft = shape(x, y, r)
            fill(img, shaft, (16, 16, 20))
            # The top of the far inner wall catches the light: a pale band under the far rim.
            _clip_fill(img, shaft, shape(x, y + 0.35 * r, r * 0.98, 0.0), (62, 62, 68))
            _clip_fill(img, shaft, shape(x, y + 0.1 * r, r * 0.9, -0.05), (16, 16, 20))
            cx, cy = x + self.cover_at[0] * r, y + self.cover_at[1] * r
            boxes.append(self._cover(img, cam, shape(cx, cy, r * 1.02), cx, cy, r))
        else:
            boxes.append(self._cover(img, cam, shape(x, y, r), x, y, r))
        allp = np.concatenate(boxes)
        return _box(allp)

    def _cover(
        self, img: np.ndarray, cam: PoleCamera, lid: np.ndarray, cx: float, cy: float, r: float
    ) -> np.ndarray:
        fill(img, lid, self.metal)
        inner = _ring(cam, cx, cy, r * 0.7, r * 0.7, n=24)
        cv2.polylines(img, [np.round(inner).astype(np.int32)], True, shade(self.metal, 0.7), 1, cv2.LINE_AA)
        for k in (-0.35, 0.0, 0.35):  # the cast grip pattern
            p, q = cam.point(cx - 0.6 * r, cy + k * r), cam.point(cx + 0.6 * r, cy + k * r)
            line(img, p[:2], q[:2], shade(self.metal, 0.75), 1)
        return lid


def _clip_fill(img: np.ndarray, outer: np.ndarray, inner: np.ndarray, colour: BGR) -> None:
    """Fill the part of `inner` that lies within `outer` (the shaft's visible depth)."""
    h, w = img.shape[:2]
    pts = np.concatenate([outer, inner])
    x0, y0 = max(0, int(pts[:, 0].min()) - 1), max(0, int(pts[:, 1].min()) - 1)
    x1, y1 = min(w, int(pts[:, 0].max()) + 2), min(h, int(pts[:, 1].max()) + 2)
    if x1 <= x0 or y1 <= y0:
        return
    m1 = np.zeros((y1 - y0, x1 - x0), np.uint8)
    m2 = np.zeros_like(m1)
    cv2.fillPoly(m1, [np.round((outer - (x0, y0)) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    cv2.fillPoly(m2, [np.round((inner - (x0, y0)) * 16).astype(np.int32)], 255, cv2.LINE_AA, 4)
    a = (np.minimum(m1, m2).astype(np.float32) / 255.0)[:, :, None]
    roi = img[y0:y1, x0:x1]
    roi[:] = (roi * (1.0 - a) + np.array(colour, np.float32) * a).astype(np.uint8)


def random_manhole(rnd: random.Random, open_: bool) -> ManholeLook:
    a = rnd.uniform(0, 2 * math.pi)
    d = rnd.uniform(2.1, 2.8)
    metal = rnd.choice(((80, 85, 92), (95, 98, 100), (70, 75, 78), (60, 85, 110)))
    return ManholeLook(
        rnd.uniform(0.32, 0.45), rnd.random() < 0.25, open_, (d * math.cos(a), d * 0.8 * math.sin(a)), metal
    )
