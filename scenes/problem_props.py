"""Upright governance problems: an overflowing litter bin, construction rubble, goods piled on
the pavement, a fallen tree (banners and laundry: scenes.strung_props).

Each look is a frozen record drawn from a `random.Random` when an event is staged, and draws
itself standing on ground point (x, y), returning its box. Looks vary in size, colour and
orientation so a detector learns the kind, not one sprite.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, Box, disc, fill, line, oval, shade
from scenes.scenery import LEAF_COLOURS
from scenes.shapes import draw_hexa, hexa, rotate_z

Pts = list[tuple[float, float]]

BIN_COLOURS: tuple[BGR, ...] = ((60, 130, 40), (150, 150, 150), (160, 90, 30), (40, 40, 190), (40, 170, 220))
BAG_COLOURS: tuple[BGR, ...] = ((30, 30, 30), (40, 80, 40), (220, 220, 220), (40, 40, 120), (150, 110, 60))
GARMENT_COLOURS: tuple[BGR, ...] = (
    (40, 40, 200), (200, 120, 40), (235, 235, 235), (60, 160, 60), (40, 180, 220), (150, 70, 150),
    (200, 200, 90), (80, 60, 160), (190, 160, 230), (30, 30, 30), (120, 170, 230), (200, 90, 200),
)  # fmt: skip


def box_of(pts: Pts | np.ndarray) -> Box:
    a = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return float(a[:, 0].min()), float(a[:, 1].min()), float(a[:, 0].max()), float(a[:, 1].max())


def ground_uv(cam: PoleCamera, x: float, y: float, z: float = 0.0) -> tuple[float, float]:
    p = cam.point(x, y, z)
    return p[0], p[1]


# A bin, normal or overflowing


@dataclass(frozen=True, slots=True)
class BinLook:
    colour: BGR
    size: tuple[float, float, float]  # width, depth, height (m)
    count: int  # bins side by side
    angle: float
    heap: tuple[tuple[float, float, float, float, BGR], ...]  # bags: (dx, dy, z, size, colour)
    lid_open: bool

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        w, d, h = self.size
        pts: Pts = []
        behind = [b for b in self.heap if b[1] > d / 2 and b[2] < 0.1]
        front = [b for b in self.heap if b[1] <= d / 2 or b[2] >= 0.1]
        pts += _bags(img, cam, x, y, behind)
        for k in range(self.count):
            cx = x + (k - (self.count - 1) / 2) * (w + 0.08)
            body = rotate_z(hexa(cx - w / 2, cx + w / 2, y - d / 2, y + d / 2, 0.0, h), x, y, self.angle)
            pts += [tuple(p) for p in draw_hexa(img, cam, body, self.colour)]
            # A pale label panel on the front face: litter bins carry one.
            panel = rotate_z(
                np.array([(cx - w * 0.3, y - d / 2 - 0.01, h * 0.45), (cx + w * 0.3, y - d / 2 - 0.01, h * 0.45),
                          (cx + w * 0.3, y - d / 2 - 0.01, h * 0.7), (cx - w * 0.3, y - d / 2 - 0.01, h * 0.7)]),
                x, y, self.angle,
            )  # fmt: skip
            fill(img, cam.project(panel)[0], (225, 230, 230))
            lid_z = (h, h + 0.06) if not self.lid_open else (h, h + 0.03)
            lid = rotate_z(
                hexa(cx - w / 2 - 0.03, cx + w / 2 + 0.03, y - d / 2 - 0.03, y + d / 2 + 0.03, *lid_z),
                x,
                y,
                self.angle,
            )
            pts += [tuple(p) for p in draw_hexa(img, cam, lid, shade(self.colour, 0.7))]
            if self.lid_open:
                flap = rotate_z(
                    hexa(cx - w / 2, cx + w / 2, y + d / 2, y + d / 2 + 0.04, h, h + d * 0.9),
                    x,
                    y,
                    self.angle,
                )
                pts += [tuple(p) for p in draw_hexa(img, cam, flap, shade(self.colour, 0.6))]
        pts += _bags(img, cam, x, y, sorted(front, key=lambda b: (-b[1], b[2])))
        return box_of(pts)


def _bags(
    img: np.ndarray, cam: PoleCamera, x: float, y: float, bags: list[tuple[float, float, float, float, BGR]]
) -> Pts:
    pts: Pts = []
    for dx, dy, z, size, colour in bags:
        s = cam.scale(x + dx, y + dy)
        u, v = ground_uv(cam, x + dx, y + dy, z + size * 0.42)
        ax, ay = size * 0.55 * s, size * 0.45 * s
        oval(img, (u, v), (ax, ay), colour)
        oval(img, (u - ax * 0.3, v - ay * 0.35), (ax * 0.3, ay * 0.2), shade(colour, 1.5))
        if size < 0.2:  # loose paper and cups
            continue
        disc(img, (u, v - ay), max(1.0, 0.05 * s), shade(colour, 0.7))
        pts += [(u - ax, v - ay), (u + ax, v + ay)]
    return pts


# How far (m) beyond the bins' half-width bags spill. Bags farther out, with no bin among them,
# look like exposed rubbish (scenes.props.draw_pile, the garbage class): labelled as part of an
# overflowing bin they taught the detector that a garbage pile is sometimes not garbage.
SPILL_REACH = 0.3


def random_bin(rnd: random.Random, overflowing: bool) -> BinLook:
    w, d, h = rnd.uniform(0.45, 0.65), rnd.uniform(0.4, 0.55), rnd.uniform(0.8, 1.05)
    count = rnd.choice((1, 1, 2))
    heap: list[tuple[float, float, float, float, BGR]] = []
    if overflowing:
        span = count * (w + 0.08) / 2
        for _ in range(rnd.randint(3, 6)):  # heaped over the rim
            heap.append((rnd.uniform(-span, span) * 0.8, rnd.uniform(-d / 3, d / 3), h + rnd.uniform(0.0, 0.25),
                         rnd.uniform(0.3, 0.5), rnd.choice(BAG_COLOURS)))  # fmt: skip
        for _ in range(rnd.randint(3, 8)):  # spilt around the foot, against the bin
            a = rnd.uniform(0, 2 * math.pi)
            r = rnd.uniform(span * 0.9, span + SPILL_REACH)
            heap.append(
                (r * math.cos(a), 0.7 * r * math.sin(a), 0.0, rnd.uniform(0.25, 0.5), rnd.choice(BAG_COLOURS))
            )
        for _ in range(rnd.randint(2, 6)):  # loose litter
            a, r = rnd.uniform(0, 2 * math.pi), rnd.uniform(0.3, span + SPILL_REACH)
            heap.append(
                (
                    r * math.cos(a),
                    0.6 * r * math.sin(a),
                    0.0,
                    rnd.uniform(0.1, 0.18),
                    rnd.choice(((230, 230, 230), (60, 160, 220))),
                )
            )
    return BinLook(
        rnd.choice(BIN_COLOURS),
        (w, d, h),
        count,
        rnd.uniform(-0.4, 0.4),
        tuple(heap),
        overflowing and rnd.random() < 0.6,
    )


# Construction waste


@dataclass(frozen=True, slots=True)
class RubbleLook:
    radius: tuple[float, float]  # along x, along y (m)
    height: float
    outline: tuple[float, ...]  # radius factor per direction
    colour: BGR
    chunks: tuple[tuple[float, float, float, str, BGR], ...]  # (rx, ry) unit offsets, size, kind, colour

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        n = len(self.outline)
        rx, ry = self.radius
        pts: Pts = []
        layers = 5
        for k in range(layers):
            f = 1.0 - k / layers  # shrinking rings climbing the mound
            z = self.height * (1.0 - f * f)
            ring = [
                ground_uv(
                    cam,
                    x + f * rx * self.outline[i] * math.cos(2 * math.pi * i / n),
                    y + f * ry * self.outline[i] * math.sin(2 * math.pi * i / n),
                    z,
                )
                for i in range(n)
            ]
            fill(img, np.array(ring), shade(self.colour, 0.8 + 0.08 * k))
            pts += ring
        pts.append(ground_uv(cam, x, y, self.height))
        for ox, oy, size, kind, colour in self.chunks:
            r2 = min(1.0, ox * ox + oy * oy)
            cx, cy, z = x + ox * rx, y + oy * ry, self.height * (1.0 - r2) * 0.9
            if kind == "brick":
                c = hexa(cx - size, cx + size, cy - size / 2, cy + size / 2, z, z + size * 0.6)
                c = rotate_z(c, cx, cy, ox * 3.0)
                pts += [tuple(p) for p in draw_hexa(img, cam, c, colour)]
            else:
                s = cam.scale(cx, cy)
                u, v = ground_uv(cam, cx, cy, z + size * 0.4)
                poly = [
                    (u - size * s, v),
                    (u - size * 0.3 * s, v - size * 0.8 * s),
                    (u + size * 0.9 * s, v - size * 0.5 * s),
                    (u + size * 0.7 * s, v + size * 0.3 * s),
                ]
                fill(img, np.array(poly), colour)
                pts += poly
        return box_of(pts)


def random_rubble(rnd: random.Random) -> RubbleLook:
    base = rnd.choice(
        ((105, 110, 115), (70, 95, 120), (120, 165, 195), (135, 135, 130))
    )  # grey, soil, sand, concrete
    rx = rnd.uniform(0.8, 1.8)
    outline = tuple(rnd.uniform(0.75, 1.2) for _ in range(14))
    chunks = []
    for _ in range(rnd.randint(8, 18)):
        a, r = rnd.uniform(0, 2 * math.pi), math.sqrt(rnd.random()) * 0.95
        kind = rnd.choice(("brick", "brick", "lump"))
        colour = (
            rnd.choice(((60, 85, 165), (70, 100, 180), (50, 70, 140)))
            if kind == "brick"
            else rnd.choice(((150, 150, 150), (120, 125, 125), (175, 175, 170)))
        )
        chunks.append((r * math.cos(a), r * math.sin(a), rnd.uniform(0.08, 0.18), kind, colour))
    chunks.sort(key=lambda c: -c[1])
    return RubbleLook((rx, rx * rnd.uniform(0.5, 0.9)), rnd.uniform(0.35, 0.9), outline, base, tuple(chunks))


# Goods piled on the pavement


@dataclass(frozen=True, slots=True)
class GoodsLook:
    items: tuple[
        tuple[float, float, float, float, float, float, str, BGR], ...
    ]  # x0, x1, y0, y1, z0, z1, kind, colour
    angle: float

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        pts: Pts = []
        for x0, x1, y0, y1, z0, z1, kind, colour in self.items:
            c = rotate_z(hexa(x + x0, x + x1, y + y0, y + y1, z0, z1), x, y, self.angle)
            uv = draw_hexa(img, cam, c, colour)
            pts += [tuple(p) for p in uv]
            near = uv[[0, 1, 5, 4]]  # the face towards the pole
            if kind == "crate":  # slats
                for f in (0.33, 0.66):
                    line(
                        img,
                        near[0] + (near[3] - near[0]) * f,
                        near[1] + (near[2] - near[1]) * f,
                        shade(colour, 0.55),
                        1,
                    )
            elif kind == "carton":  # packing tape
                line(img, (near[0] + near[1]) / 2, (near[3] + near[2]) / 2, (150, 190, 215), 1)
            else:  # a sack's tied neck
                top = (uv[4] + uv[5] + uv[6] + uv[7]) / 4
                disc(img, top, max(1.0, 0.05 * cam.scale(x, y)), shade(colour, 0.7))
        return box_of(pts)


def random_goods(rnd: random.Random) -> GoodsLook:
    items = []
    cols, rows = rnd.randint(2, 5), rnd.randint(1, 2)
    for r in range(rows - 1, -1, -1):  # far row first
        for c in range(cols):
            kind = rnd.choice(("carton", "carton", "crate", "sack"))
            w = {"carton": rnd.uniform(0.45, 0.65), "crate": 0.55, "sack": 0.6}[kind]
            hgt = {"carton": rnd.uniform(0.35, 0.5), "crate": 0.3, "sack": 0.28}[kind]
            colour = {
                "carton": rnd.choice(((80, 130, 180), (95, 145, 190), (70, 115, 160))),
                "crate": rnd.choice(((40, 40, 200), (170, 100, 30), (50, 150, 50), (40, 190, 230))),
                "sack": rnd.choice(((205, 215, 220), (170, 195, 210), (120, 170, 200))),
            }[kind]
            x0 = (c - cols / 2) * 0.68 + rnd.uniform(-0.05, 0.05)
            y0 = r * 0.62
            for k in range(rnd.randint(1, 4 if kind != "sack" else 3)):
                items.append((x0, x0 + w, y0, y0 + w * 0.8, k * hgt, (k + 1) * hgt - 0.01, kind, colour))
    return GoodsLook(tuple(items), rnd.uniform(-0.35, 0.35))


# A fallen tree


@dataclass(frozen=True, slots=True)
class FallenTreeLook:
    length: float
    angle: float  # direction from root to crown, radians from +x
    radius: float  # trunk radius at the root
    leaves: tuple[tuple[float, float, float, float, BGR], ...]  # along (0..1), across (m), z, radius, colour

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        half = self.length / 2
        root, tip = (x - half * ca, y - half * sa), (x + half * ca, y + half * sa)
        pts: Pts = []
        leaves = sorted(self.leaves, key=lambda lf: -(y + (lf[0] - 0.5) * self.length * sa + lf[1] * ca))
        far = [lf for lf in leaves if lf[1] * ca > 0]
        near = [lf for lf in leaves if lf[1] * ca <= 0]
        pts += self._leaves(img, cam, root, far)
        s0, s1 = cam.scale(*root), cam.scale(*tip)
        r0, r1 = ground_uv(cam, *root, self.radius), ground_uv(cam, *tip, self.radius * 0.4)
        dx, dy = r1[0] - r0[0], r1[1] - r0[1]
        n = math.hypot(dx, dy) or 1.0
        px, py = -dy / n, dx / n
        w0, w1 = self.radius * s0, self.radius * 0.4 * s1
        trunk = [(r0[0] + px * w0, r0[1] + py * w0), (r1[0] + px * w1, r1[1] + py * w1),
                 (r1[0] - px * w1, r1[1] - py * w1), (r0[0] - px * w0, r0[1] - py * w0)]  # fmt: skip
        fill(img, np.array(trunk), (45, 65, 90))
        line(img, r0, r1, (70, 95, 125), max(1.0, 0.3 * w1))  # the lit top of the bark
        pts += trunk
        # The torn-up root plate: a clod of soil standing on edge at the root.
        u, v = ground_uv(cam, *root, self.radius * 1.6)
        oval(img, (u, v), (self.radius * 1.2 * s0, self.radius * 1.8 * s0), (55, 75, 100))
        pts += [
            (u - self.radius * 1.2 * s0, v - self.radius * 1.8 * s0),
            (u + self.radius * 1.2 * s0, v + self.radius * 1.8 * s0),
        ]
        pts += self._leaves(img, cam, root, near)
        return box_of(pts)

    def _leaves(self, img: np.ndarray, cam: PoleCamera, root: tuple[float, float], leaves: list) -> Pts:
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        pts: Pts = []
        for along, across, z, r, colour in leaves:
            gx = root[0] + along * self.length * ca - across * sa
            gy = root[1] + along * self.length * sa + across * ca
            s = cam.scale(gx, gy)
            u, v = ground_uv(cam, gx, gy, z)
            disc(img, (u, v), r * s, colour)
            pts += [(u - r * s, v - r * s), (u + r * s, v + r * s)]
        return pts


def random_fallen_tree(rnd: random.Random, angle: float) -> FallenTreeLook:
    length = rnd.uniform(4.0, 7.5)
    leaf = [rnd.choice(LEAF_COLOURS) for _ in range(3)]
    leaves = []
    for i in range(rnd.randint(12, 22)):
        along = rnd.uniform(0.45, 1.0)
        spread = 0.4 + 1.6 * (along - 0.45)
        leaves.append(
            (
                along,
                rnd.uniform(-spread, spread),
                rnd.uniform(0.3, 1.3),
                rnd.uniform(0.45, 0.85),
                shade(leaf[i % 3], rnd.uniform(0.8, 1.15)),
            )
        )
    return FallenTreeLook(length, angle, rnd.uniform(0.14, 0.25), tuple(leaves))
