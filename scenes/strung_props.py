"""Things strung between poles: an illegal banner (or a free-standing poster board) and
laundry hung out to dry in public space. Drawn like scenes.problem_props: frozen looks drawn
from a `random.Random`, each drawing itself on ground point (x, y) and returning its box."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, Box, fill, line, shade
from scenes.problem_props import GARMENT_COLOURS, Pts, box_of, ground_uv

# An illegal banner or poster board


@dataclass(frozen=True, slots=True)
class BannerLook:
    board: bool  # a free-standing poster board instead of a cloth between poles
    length: float
    top: float
    depth: float  # cloth height
    angle: float
    cloth: BGR
    ink: BGR
    chars: int

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        half = self.length / 2
        a, b = (x - half * ca, y - half * sa), (x + half * ca, y + half * sa)
        pts: Pts = []
        pole = (70, 70, 75)
        for px, py in (b, a) if b[1] > a[1] else (a, b):  # far pole first
            s = cam.scale(px, py)
            base, head = ground_uv(cam, px, py), ground_uv(cam, px, py, self.top + 0.1)
            line(img, base, head, pole, max(1.0, (0.09 if self.board else 0.06) * s))
            pts += [base, head]
        wave = 0.0 if self.board else 0.04 * math.sin(t * 1.7)
        z0, z1 = self.top - self.depth, self.top
        quad = [
            ground_uv(cam, *a, z1),
            ground_uv(cam, *b, z1),
            ground_uv(cam, b[0], b[1] + wave, z0),
            ground_uv(cam, a[0], a[1] + wave, z0),
        ]
        fill(img, np.array(quad), self.cloth)
        pts += quad
        q = np.array(quad)
        # A row of character blocks, each with a stroke or two: reads as lettering at a distance.
        for i in range(self.chars):
            f0, f1 = (i + 0.18) / self.chars, (i + 0.82) / self.chars
            top0, top1 = q[0] + (q[1] - q[0]) * f0, q[0] + (q[1] - q[0]) * f1
            bot0, bot1 = q[3] + (q[2] - q[3]) * f0, q[3] + (q[2] - q[3]) * f1
            g = lambda p, r, k: p + (r - p) * k  # noqa: E731
            glyph = np.array(
                [g(top0, bot0, 0.22), g(top1, bot1, 0.22), g(top1, bot1, 0.78), g(top0, bot0, 0.78)]
            )
            fill(img, glyph, self.ink)
            if (i * 7 + self.chars) % 3:
                line(img, (glyph[0] + glyph[3]) / 2, (glyph[1] + glyph[2]) / 2, self.cloth, 1)
            if (i * 5 + self.chars) % 2:
                line(img, (glyph[0] + glyph[1]) / 2, (glyph[3] + glyph[2]) / 2, self.cloth, 1)
        return box_of(pts)


def random_banner(rnd: random.Random) -> BannerLook:
    cloth, ink = rnd.choice(
        (((30, 30, 200), (60, 220, 250)), ((40, 210, 245), (30, 30, 200)), ((190, 90, 20), (250, 250, 250)),
         ((245, 245, 245), (30, 30, 210)), ((40, 150, 40), (250, 250, 250)))
    )  # fmt: skip
    if rnd.random() < 0.35:
        width = rnd.uniform(0.7, 1.2)
        return BannerLook(
            True,
            width,
            rnd.uniform(1.5, 2.0),
            rnd.uniform(0.9, 1.3),
            rnd.uniform(-0.5, 0.5),
            cloth,
            ink,
            rnd.randint(2, 4),
        )
    length = rnd.uniform(2.5, 5.0)
    return BannerLook(
        False,
        length,
        rnd.uniform(2.2, 3.2),
        rnd.uniform(0.5, 0.9),
        rnd.uniform(-0.6, 0.6),
        cloth,
        ink,
        max(3, int(length * 1.6)),
    )


# Laundry on a line or a rack


@dataclass(frozen=True, slots=True)
class LaundryLook:
    length: float
    height: float
    angle: float
    rack: bool  # a standing rack (crossed legs) rather than a line between two poles
    garments: tuple[tuple[float, float, float, str, BGR], ...]  # (position 0..1, width, drop, kind, colour)

    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box:
        ca, sa = math.cos(self.angle), math.sin(self.angle)
        half = self.length / 2
        a, b = np.array((x - half * ca, y - half * sa)), np.array((x + half * ca, y + half * sa))
        pts: Pts = []
        for end in (a, b):
            s = cam.scale(*end)
            if self.rack:
                for dy in (-0.35, 0.35):
                    foot, top = (
                        ground_uv(cam, end[0], end[1] + dy),
                        ground_uv(cam, end[0], end[1], self.height),
                    )
                    line(img, foot, top, (150, 150, 155), max(1.0, 0.035 * s))
                    pts += [foot, top]
            else:
                foot, top = ground_uv(cam, end[0], end[1]), ground_uv(cam, end[0], end[1], self.height + 0.15)
                line(img, foot, top, (70, 80, 90), max(1.0, 0.06 * s))
                pts += [foot, top]
        line(
            img,
            ground_uv(cam, a[0], a[1], self.height),
            ground_uv(cam, b[0], b[1], self.height),
            (200, 200, 200),
            1,
        )
        for pos, width, drop, kind, colour in self.garments:
            c = a + (b - a) * pos
            sway = 0.03 * math.sin(t * 1.3 + pos * 9.0)
            d = np.array((ca, sa)) * width / 2
            z0, z1 = self.height, self.height - drop
            tl, tr = (
                ground_uv(cam, c[0] - d[0], c[1] - d[1], z0),
                ground_uv(cam, c[0] + d[0], c[1] + d[1], z0),
            )
            bl, br = (
                ground_uv(cam, c[0] - d[0], c[1] - d[1] + sway, z1),
                ground_uv(cam, c[0] + d[0], c[1] + d[1] + sway, z1),
            )
            if kind == "shirt":
                sl = ground_uv(cam, c[0] - d[0] * 1.6, c[1] - d[1] * 1.6, z0 - drop * 0.35)
                sr = ground_uv(cam, c[0] + d[0] * 1.6, c[1] + d[1] * 1.6, z0 - drop * 0.35)
                poly = [tl, tr, sr, (tr[0], sr[1]), br, bl, (tl[0], sl[1]), sl]
            elif kind == "trousers":
                mid_b = ((bl[0] + br[0]) / 2, (bl[1] + br[1]) / 2)
                mid = (mid_b[0], (tl[1] + bl[1]) / 2)
                poly = [
                    tl,
                    tr,
                    br,
                    (mid_b[0] + (br[0] - bl[0]) * 0.1, mid_b[1]),
                    mid,
                    (mid_b[0] - (br[0] - bl[0]) * 0.1, mid_b[1]),
                    bl,
                ]
            else:  # towel or sheet
                poly = [tl, tr, br, bl]
            fill(img, np.array(poly), colour)
            if kind == "towel":
                line(
                    img,
                    ((tl[0] + bl[0]) / 2, (tl[1] + bl[1]) / 2),
                    ((tr[0] + br[0]) / 2, (tr[1] + br[1]) / 2),
                    shade(colour, 0.6),
                    1,
                )
            pts += poly
        return box_of(pts)


def random_laundry(rnd: random.Random) -> LaundryLook:
    length = rnd.uniform(1.6, 4.0)
    n = max(3, int(length * rnd.uniform(1.4, 2.2)))
    garments = []
    for i in range(n):
        kind = rnd.choice(("shirt", "shirt", "trousers", "towel"))
        width = {"shirt": 0.42, "trousers": 0.38, "towel": 0.5}[kind] * rnd.uniform(0.8, 1.2)
        drop = {"shirt": 0.6, "trousers": 0.9, "towel": 0.7}[kind] * rnd.uniform(0.8, 1.2)
        garments.append(
            ((i + 0.5) / n + rnd.uniform(-0.04, 0.04), width, drop, kind, rnd.choice(GARMENT_COLOURS))
        )
    rack = rnd.random() < 0.4
    return LaundryLook(
        length,
        rnd.uniform(1.5, 1.8) if rack else rnd.uniform(1.8, 2.3),
        rnd.uniform(-0.6, 0.6),
        rack,
        tuple(garments),
    )
