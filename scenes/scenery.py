"""Static things of a backdrop: facades, trees, lamp posts, benches, planters.

Trees, posts, benches and planters stand at a depth, so actors pass behind them: they are
baked into the backdrop and also kept as occluder sprites that the scene pastes back over
any farther actor.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, Box, disc, fill, line, mix, shade
from scenes.shapes import draw_hexa, hexa, wall

FACADE_COLOURS: tuple[BGR, ...] = (
    (170, 200, 222),  # sand
    (188, 190, 186),  # concrete
    (70, 88, 150),  # brick
    (222, 226, 228),  # white tile
    (205, 182, 150),  # pale blue
    (176, 166, 212),  # pink
    (150, 158, 164),  # grey
    (140, 122, 96),  # glass curtain wall
    (120, 170, 190),  # ochre
)
SIGN_COLOURS: tuple[BGR, ...] = ((40, 40, 200), (180, 90, 20), (40, 150, 40), (30, 190, 230), (20, 120, 235))
LEAF_COLOURS: tuple[BGR, ...] = ((50, 110, 50), (40, 95, 60), (60, 125, 70), (45, 100, 40))


# Paints one static object onto an image; returns its lamp head's pixel if it has one.
Painter = Callable[[np.ndarray], "tuple[float, float] | None"]


@dataclass(slots=True)
class Occluder:
    """A static object standing at ground depth `depth`, as a sprite cut from the backdrop."""

    depth: float
    x0: int
    y0: int
    sprite: np.ndarray
    mask: np.ndarray  # (h, w, 1) bool
    integral: np.ndarray  # (h + 1, w + 1) summed mask, for O(1) coverage of a box
    lamp: tuple[float, float] | None = None  # lamp head pixel, where night glow goes

    @property
    def box(self) -> Box:
        h, w = self.sprite.shape[:2]
        return (self.x0, self.y0, self.x0 + w, self.y0 + h)

    def paste(self, img: np.ndarray) -> None:
        h, w = self.sprite.shape[:2]
        np.copyto(img[self.y0 : self.y0 + h, self.x0 : self.x0 + w], self.sprite, where=self.mask)

    def covered(self, box: Box) -> int:
        """How many of the box's pixels this object hides."""
        h, w = self.sprite.shape[:2]
        x1 = int(min(max(box[0] - self.x0, 0), w))
        x2 = int(min(max(box[2] - self.x0, 0), w))
        y1 = int(min(max(box[1] - self.y0, 0), h))
        y2 = int(min(max(box[3] - self.y0, 0), h))
        if x2 <= x1 or y2 <= y1:
            return 0
        s = self.integral
        return int(s[y2, x2] - s[y1, x2] - s[y2, x1] + s[y1, x1])


def make_occluder(backdrop: np.ndarray, depth: float, paint: Painter) -> Occluder | None:
    """Paint onto the backdrop and keep what changed as the sprite (anti-aliased edges included)."""
    before = backdrop.copy()
    lamp = paint(backdrop)
    changed = np.any(backdrop != before, axis=2)
    ys, xs = np.nonzero(changed)
    if len(xs) == 0:
        return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    mask = changed[y0:y1, x0:x1]
    integral = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.int32)
    integral[1:, 1:] = mask.astype(np.int32).cumsum(0).cumsum(1)
    sprite = backdrop[y0:y1, x0:x1].copy()
    return Occluder(float(depth), int(x0), int(y0), sprite, mask[:, :, None], integral, lamp)


def tree_painter(cam: PoleCamera, x: float, y: float, rnd: random.Random) -> Painter:
    trunk = (40, 60, 85)
    leaves = [rnd.choice(LEAF_COLOURS) for _ in range(3)]
    crown_z = rnd.uniform(3.6, 5.2)
    radius = rnd.uniform(1.3, 2.1)
    blobs = [
        (rnd.uniform(-0.7, 0.7) * radius, rnd.uniform(-0.5, 0.6) * radius, rnd.uniform(0.55, 0.8) * radius)
        for _ in range(7)
    ]

    def paint(img: np.ndarray) -> None:
        s = cam.scale(x, y)
        base = cam.point(x, y)
        top = cam.point(x, y, crown_z)
        line(img, base[:2], top[:2], trunk, 0.28 * s)
        for i, (dx, dz, r) in enumerate(blobs):
            c = cam.point(x + dx, y, crown_z + dz)
            k = 0.8 if dz < 0 else 1.0 + 0.1 * (i % 2)
            disc(img, c[:2], r * s, shade(leaves[i % len(leaves)], k))

    return paint


def lamp_painter(cam: PoleCamera, x: float, y: float, arm: float) -> Painter:
    """A street lamp whose arm reaches `arm` metres towards the road (sign = direction)."""
    pole = (95, 95, 100)

    def paint(img: np.ndarray) -> tuple[float, float]:
        s = cam.scale(x, y)
        base, top = cam.point(x, y), cam.point(x, y, 6.5)
        head = cam.point(x, y + arm, 6.6)
        line(img, base[:2], top[:2], pole, 0.16 * s)
        line(img, top[:2], head[:2], pole, 0.1 * s)
        disc(img, (head[0], head[1] + 0.08 * s), 0.22 * s, (210, 225, 230))
        return head[0], head[1] + 0.1 * s

    return paint


def bench_painter(cam: PoleCamera, x: float, y: float, wood: BGR) -> Painter:
    def paint(img: np.ndarray) -> None:
        for lx in (x - 0.7, x + 0.7):
            draw_hexa(img, cam, hexa(lx - 0.05, lx + 0.05, y - 0.2, y + 0.2, 0.0, 0.42), (60, 60, 60))
        draw_hexa(img, cam, hexa(x - 0.85, x + 0.85, y - 0.22, y + 0.22, 0.42, 0.48), wood)
        draw_hexa(img, cam, hexa(x - 0.85, x + 0.85, y + 0.18, y + 0.24, 0.48, 0.9), wood)

    return paint


def planter_painter(cam: PoleCamera, x: float, y: float, size: float, rnd: random.Random) -> Painter:
    stone = rnd.choice(((170, 175, 178), (120, 130, 140), (95, 120, 150)))
    bush = rnd.choice(LEAF_COLOURS)
    flowers = rnd.choice(((60, 60, 220), (60, 200, 240), (200, 120, 230), (240, 240, 240)))
    dots = [(rnd.uniform(-0.8, 0.8) * size, rnd.uniform(-0.3, 0.3) * size) for _ in range(6)]

    def paint(img: np.ndarray) -> None:
        h = 0.55
        draw_hexa(img, cam, hexa(x - size, x + size, y - size * 0.6, y + size * 0.6, 0.0, h), stone)
        s = cam.scale(x, y)
        for i in range(5):
            c = cam.point(x + (i - 2) * size * 0.38, y, h + 0.25)
            disc(img, c[:2], 0.42 * size * s, shade(bush, 0.85 + 0.06 * (i % 3)))
        for dx, dz in dots:
            c = cam.point(x + dx, y - 0.2, h + 0.45 + dz)
            disc(img, c[:2], max(1.0, 0.08 * s), flowers)

    return paint


def draw_facades(
    img: np.ndarray, cam: PoleCamera, rnd: random.Random, y_front: float, x_lo: float, x_hi: float
) -> list[tuple[float, float]]:
    """A row of buildings along depth `y_front`; returns the shop doors' ground points."""
    doors: list[tuple[float, float]] = []
    x = x_lo
    blocks = []
    while x < x_hi:
        w = rnd.uniform(9.0, 24.0)
        blocks.append((x, x + w, rnd.uniform(0.0, 1.5), rnd.uniform(9.0, 48.0)))
        x += w
    for x0, x1, setback, height in sorted(blocks, key=lambda b: -b[2]):
        y = y_front + setback
        face = wall(cam, x0, x1, y, 0.0, height)
        if face is None:
            continue
        colour = rnd.choice(FACADE_COLOURS)
        fill(img, face, colour, aa=False)
        glass = mix((95, 80, 65), colour, 0.25)
        _windows(img, cam, rnd, x0, x1, y, height, glass, colour)
        parapet = wall(cam, x0, x1, y - 0.01, height - 0.6, height)
        if parapet is not None:
            fill(img, parapet, shade(colour, 0.8))
        doors.extend(_shopfront(img, cam, rnd, x0, x1, y, colour))
    return doors


def _windows(
    img: np.ndarray,
    cam: PoleCamera,
    rnd: random.Random,
    x0: float,
    x1: float,
    y: float,
    height: float,
    glass: BGR,
    colour: BGR,
) -> None:
    pitch = rnd.uniform(2.4, 3.6)
    n = max(1, int((x1 - x0 - 1.0) / pitch))
    margin = (x1 - x0 - n * pitch) / 2
    win_w = pitch * rnd.uniform(0.45, 0.75)
    ribbon = rnd.random() < 0.25  # some buildings have continuous window bands
    z = 4.6
    while z + 2.0 < height - 0.8:
        if ribbon:
            face = wall(cam, x0 + 0.6, x1 - 0.6, y - 0.02, z, z + 1.6)
            if face is not None:
                fill(img, face, glass)
        else:
            for i in range(n):
                cx = x0 + margin + (i + 0.5) * pitch
                face = wall(cam, cx - win_w / 2, cx + win_w / 2, y - 0.02, z, z + 1.7)
                if face is not None:
                    fill(img, face, shade(glass, rnd.uniform(0.85, 1.35)))
        ac = wall(cam, x0 + margin + 0.2, x0 + margin + 0.9, y - 0.3, z - 0.6, z - 0.1)
        if ac is not None and rnd.random() < 0.3:
            fill(img, ac, (200, 200, 200))
        z += 3.2


def _shopfront(
    img: np.ndarray, cam: PoleCamera, rnd: random.Random, x0: float, x1: float, y: float, colour: BGR
) -> list[tuple[float, float]]:
    sign = rnd.choice(SIGN_COLOURS)
    doors = []
    for a, b in ((x0 + 0.5, (x0 + x1) / 2 - 0.3), ((x0 + x1) / 2 + 0.3, x1 - 0.5)):
        if b - a < 1.5:
            continue
        glass = wall(cam, a, b, y - 0.03, 0.0, 3.0)
        board = wall(cam, a, b, y - 0.05, 3.1, 3.9)
        if glass is None or board is None:
            continue
        fill(img, glass, (70, 62, 55))
        door = wall(cam, (a + b) / 2 - 0.6, (a + b) / 2 + 0.6, y - 0.04, 0.0, 2.4)
        if door is not None:
            fill(img, door, (45, 40, 38))
        fill(img, board, sign)
        u0, v0, _ = cam.point(a + 0.4, y - 0.06, 3.5)
        u1, _, _ = cam.point(b - 0.4, y - 0.06, 3.5)
        line(img, (u0, v0), (u1, v0), shade(sign, 1.6), max(1.0, cam.scale(a, y) * 0.18))
        doors.append(((a + b) / 2, y))
    return doors
