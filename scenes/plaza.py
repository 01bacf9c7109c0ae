"""A paved public square seen from a tall pole: banded paving, a fountain or flower bed,
benches, planters, trees and lamps, with a road and shop facades along its far side."""

from __future__ import annotations

import math
import random

import numpy as np

from scenes.camera import PoleCamera, fit_camera
from scenes.layout import Backdrop, Lane, Rect, band_polygon, ground_polygon
from scenes.paint import BGR, fill, fill_many, line, shade
from scenes.scenery import (
    bench_painter,
    draw_facades,
    lamp_painter,
    make_occluder,
    planter_painter,
    tree_painter,
)
from scenes.shapes import ground_strip
from scenes.sky import paint_sky, texture

PAVERS: tuple[tuple[BGR, BGR], ...] = (
    ((170, 175, 180), (120, 130, 160)),
    ((150, 160, 170), (110, 115, 120)),
    ((180, 190, 200), (90, 110, 150)),
    ((160, 160, 150), (130, 140, 140)),
)


def build_plaza(width: int, height: int, rnd: random.Random, varied: bool) -> Backdrop:
    focal = width * (rnd.uniform(0.75, 1.4) if varied else rnd.uniform(0.85, 1.0))
    pole = rnd.uniform(5.0, 15.0) if varied else rnd.uniform(8.0, 12.0)
    yaw = rnd.uniform(-20, 20) if varied else rnd.uniform(-14, 14)
    depth = rnd.uniform(26.0, 38.0)
    span = depth + 2.0
    cam = fit_camera(width, height, focal, pole, yaw, span, height * rnd.uniform(0.2, 0.3))
    corners = [cam.ground_at(u, height) for u in (0.0, width / 2, float(width))]
    y0 = min(g[1] for g in corners if g is not None) - 1.0
    y1 = max(g[1] for g in corners if g is not None) + depth
    road0, road1 = y1, y1 + 7.0
    facade_y = road1 + 3.5
    xa, xb = cam.visible_x(y1, pad_px=40)
    ground = Rect(xa, xb, y0, y1)

    img = np.empty((height, width, 3), dtype=np.uint8)
    paint_sky(img, cam, rnd)
    light, dark = rnd.choice(PAVERS)
    img[max(0, int(cam.horizon_v)) :] = light
    _paving(img, cam, rnd, y0 - 10, y1, light, dark)
    asphalt: BGR = shade((72, 72, 76), rnd.uniform(0.85, 1.15))
    fill_many(img, ground_strip(cam, -300, 300, road0, road1), asphalt)
    fill_many(
        img,
        [
            p
            for x in np.arange(-300, 300, 9.0)
            for p in ground_strip(cam, x, x + 3, 3.43 + road0, 3.57 + road0)
        ],
        (225, 228, 228),
    )
    fill_many(img, ground_strip(cam, -300, 300, road1, facade_y + 0.5), shade(light, 0.95))
    fill_many(img, ground_strip(cam, -300, 300, road1, road1 + 0.25), (200, 200, 200))
    fx = cam.visible_x(facade_y, 0.0, pad_px=width)
    fx_top = cam.visible_x(facade_y, 30.0, pad_px=width)
    draw_facades(img, cam, rnd, facade_y, min(fx[0], fx_top[0]) - 20, max(fx[1], fx_top[1]) + 20)

    # The no-vending area: a band on one side of the square where stalls and rubbish turn up.
    ym = rnd.uniform(y0 + 0.45 * depth, y0 + 0.75 * depth)
    lo = max(cam.visible_x(ym - 2.5)[0], cam.visible_x(ym + 2.5)[0]) + 5.0
    hi = min(cam.visible_x(ym - 2.5)[1], cam.visible_x(ym + 2.5)[1]) - 5.0
    vx = rnd.choice((lo, hi)) + rnd.uniform(-0.1, 0.1) * (hi - lo)
    vx = min(max(vx, lo), hi)
    vending = Rect(vx - 4.5, vx + 4.5, ym - 2.5, ym + 2.5)
    b = Backdrop(
        kind="plaza",
        cam=cam,
        image=img,
        occluders=[],
        zones={},
        walkways=[(road1 + 0.8, facade_y - 0.6)],
        open_ground=ground,
        lanes=[
            Lane(road0 + 1.75, 1, rnd.uniform(6.0, 10.0), 3.5),
            Lane(road0 + 5.25, -1, rnd.uniform(6.0, 10.0), 3.5),
        ],
        vending=vending,
        event_bands=[(y0 + 3.0, y1 - 3.0)],
    )
    _feature(b, rnd, ground, vending)
    texture(img, rnd, int(cam.horizon_v), 4.0)
    _furniture(b, rnd, ground, vending)
    b.zones = {"plaza": band_polygon(cam, y0, y1), "no-vending": ground_polygon(cam, vending)}
    return b


def _paving(
    img: np.ndarray, cam: PoleCamera, rnd: random.Random, y0: float, y1: float, light: BGR, dark: BGR
) -> None:
    band = rnd.uniform(5.0, 8.0)
    for y in np.arange(y0, y1, band):
        fill_many(img, ground_strip(cam, -300, 300, float(y), float(y) + 0.8), dark)
    joint = shade(light, 0.88)
    for y in np.arange(y0, y1, 1.2):
        a, c = cam.visible_x(float(y), pad_px=40)
        if c > a:
            line(img, cam.point(a, float(y))[:2], cam.point(c, float(y))[:2], joint, 1)
    lo, hi = cam.visible_x(y1, pad_px=300)
    for x in np.arange(math.floor(lo), hi, 1.2):
        p, q = cam.point(float(x), max(y0, 1.0)), cam.point(float(x), y1)
        if min(p[2], q[2]) > 0.3:
            line(img, p[:2], q[:2], joint, 1)


def _free(b: Backdrop, x: float, y: float, r: float, avoid: Rect) -> bool:
    inside = avoid.x0 - r - 1 < x < avoid.x1 + r + 1 and avoid.y0 - r - 1 < y < avoid.y1 + r + 1
    return not inside and b.clear_of_obstacles(x, y, r + 1.5)


def _feature(b: Backdrop, rnd: random.Random, g: Rect, avoid: Rect) -> None:
    """A round fountain or flower bed, flat on the ground, somewhere in the middle third."""
    cam = b.cam
    for _ in range(30):
        y = rnd.uniform(g.y0 + 0.35 * (g.y1 - g.y0), g.y0 + 0.75 * (g.y1 - g.y0))
        lo, hi = cam.visible_x(y)
        x = rnd.uniform(lo + 0.3 * (hi - lo), hi - 0.3 * (hi - lo))
        r = rnd.uniform(2.5, 4.0)
        if _free(b, x, y, r, avoid):
            break
    else:
        return

    def ring(radius: float) -> np.ndarray:
        a = np.linspace(0, 2 * math.pi, 48, endpoint=False)
        return cam.project(np.stack([x + radius * np.cos(a), y + radius * np.sin(a), np.zeros_like(a)], 1))[0]

    fill(b.image, ring(r), (175, 180, 185))
    water = rnd.random() < 0.5
    fill(b.image, ring(r - 0.35), (170, 130, 80) if water else (60, 120, 55))
    if water:
        fill(b.image, ring(r * 0.3), (200, 170, 120))
    else:
        for _ in range(25):
            a, d = rnd.uniform(0, 2 * math.pi), rnd.uniform(0, r - 0.6)
            p = cam.point(x + d * math.cos(a), y + d * math.sin(a))
            fill(
                b.image,
                np.array([(p[0] - 1.5, p[1] - 1), (p[0] + 1.5, p[1] - 1), (p[0], p[1] + 1.5)]),
                rnd.choice(((60, 60, 220), (60, 200, 240), (220, 220, 240))),
            )
    b.obstacles.append((x, y, r))


def _furniture(b: Backdrop, rnd: random.Random, g: Rect, avoid: Rect) -> None:
    cam = b.cam
    items = []
    wood = rnd.choice(((60, 100, 150), (50, 80, 120), (120, 120, 120)))
    for kind, count, r in (
        ("bench", rnd.randint(3, 6), 1.0),
        ("planter", rnd.randint(2, 5), 1.2),
        ("tree", rnd.randint(2, 4), 1.0),
    ):
        for _ in range(count):
            for _ in range(20):
                y = rnd.uniform(g.y0 + 2.0, g.y1 - 1.0)
                lo, hi = cam.visible_x(y)
                x = rnd.uniform(lo, hi)
                # Nothing tall in front of the no-vending area: its stalls must stay in sight.
                screens = kind == "tree" and avoid.x0 - 4 < x < avoid.x1 + 4 and y < avoid.y1
                if _free(b, x, y, r, avoid) and not screens:
                    b.obstacles.append((x, y, r))
                    items.append((y, kind, x))
                    break
    lo, hi = cam.visible_x(g.y1 - 0.5, pad_px=40)
    for x in np.arange(lo + rnd.uniform(0, 8), hi, rnd.uniform(12.0, 20.0)):
        items.append((g.y1 - 0.5, "lamp", float(x)))
        b.obstacles.append((float(x), g.y1 - 0.5, 0.5))
    for y, kind, x in sorted(items, reverse=True):  # far first, so nearer ones overlap them
        if kind == "bench":
            paint = bench_painter(cam, x, y, wood)
        elif kind == "planter":
            paint = planter_painter(cam, x, y, rnd.uniform(0.7, 1.1), rnd)
        elif kind == "tree":
            paint = tree_painter(cam, x, y, rnd)
        else:
            paint = lamp_painter(cam, x, y, 0.0)
        occ = make_occluder(b.image, y, paint)
        if occ is not None:
            b.occluders.append(occ)
