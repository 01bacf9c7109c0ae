"""Event props: flames, a smoke plume, a pile of dumped rubbish, a vendor's cart."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, Box, disc, fill, line, oval, shade
from scenes.shapes import draw_hexa, hexa

FLAME_LAYERS: tuple[tuple[BGR, float, float], ...] = (
    ((20, 60, 215), 1.0, 1.0),  # outer red-orange
    ((10, 130, 250), 0.78, 0.75),  # orange
    ((90, 225, 255), 0.5, 0.45),  # yellow core
)


def draw_fire(img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float, size: float, seed: int) -> Box:
    """Flickering flames `size` metres wide (height about 1.4×) standing on ground point (x, y)."""
    s = cam.scale(x, y)
    u, v, _ = cam.point(x, y)
    oval(img, (u, v), (0.6 * size * s, 0.18 * size * s), (30, 30, 35))
    n = 6
    outer: np.ndarray | None = None
    for colour, wf, hf in FLAME_LAYERS:
        pts = []
        half = size * wf / 2
        for i in range(n + 1):
            a = -half + 2 * half * i / n
            pts.append(cam.point(x + a, y, 0.05)[:2])
            if i < n:
                # Each tongue flickers at its own rate; the sway makes the outline crawl like flame.
                ph = seed * 1.7 + i * 2.3
                h = (
                    size
                    * 1.4
                    * hf
                    * (0.55 + 0.3 * math.sin(t * (7.0 + i) + ph) + 0.15 * math.sin(t * 13.0 + ph * 2))
                )
                h *= 1.0 - 0.5 * abs((i + 0.5) / n - 0.5)
                sway = 0.12 * size * math.sin(t * 5.0 + ph)
                tip = cam.point(x + a + half / n + sway, y, 0.05 + max(h, 0.1 * size))
                pts.append(tip[:2])
        poly = np.array(pts)
        fill(img, poly, colour)
        if outer is None:
            outer = poly
    assert outer is not None
    return (
        float(outer[:, 0].min()),
        float(outer[:, 1].min()),
        float(outer[:, 0].max()),
        float(max(outer[:, 1].max(), v + 0.18 * size * s)),
    )


def draw_smoke(
    img: np.ndarray,
    cam: PoleCamera,
    x: float,
    y: float,
    t: float,
    t0: float,
    strength: float,
    wind: float,
    grey: int,
) -> Box | None:
    """A plume of puffs that rise, swell, drift with the wind and thin out.

    Puffs are born on a fixed clock since `t0`, so the plume at any time is a pure function of t.
    """
    step, life = 0.3, 8.0
    s = cam.scale(x, y)
    puffs = []
    first = max(0, math.ceil((t - t0 - life) / step))
    last = math.floor((t - t0) / step)
    for k in range(first, last + 1):
        age = t - t0 - k * step
        rise = 0.8 + 1.1 * age
        drift = wind * age * (1.0 + 0.1 * age) + 0.15 * age * math.sin(k * 1.3 + 0.7 * age)
        alpha = strength * 0.95 * (1.0 - age / life) ** 0.6
        radius = 0.25 + 0.17 * age
        u, v, _ = cam.point(x + drift, y, rise)
        puffs.append((u, v, radius * s, alpha))
    return blend_puffs(img, puffs, grey, max(1.0, 0.12 * s))


def blend_puffs(
    img: np.ndarray, puffs: list[tuple[float, float, float, float]], grey: int, sigma: float
) -> Box | None:
    """Blend see-through discs (u, v, radius, opacity), oldest first, softened by a blur.

    Returns the box of the dense part (opacity ≥ 0.25), which is what a viewer calls smoke.
    """
    if not puffs:
        return None
    h, w = img.shape[:2]
    pad = 3.0 * sigma + 2.0  # room for the blur to fade to nothing inside the patch
    x0 = int(max(0, min(p[0] - p[2] for p in puffs) - pad))
    x1 = int(min(w, max(p[0] + p[2] for p in puffs) + pad))
    y0 = int(max(0, min(p[1] - p[2] for p in puffs) - pad))
    y1 = int(min(h, max(p[1] + p[2] for p in puffs) + pad))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    w_roi, h_roi = x1 - x0, y1 - y0
    # Smoke is soft: its opacity map is drawn and blurred at quarter size, then stretched.
    k = 0.25 if w_roi * h_roi > 4000 else 1.0
    alpha: np.ndarray = np.zeros((max(1, int(h_roi * k + 1)), max(1, int(w_roi * k + 1))), dtype=np.uint8)
    for u, v, r, a in puffs:  # younger puffs overwrite older ones where they overlap
        c = (int((u - x0) * k), int((v - y0) * k))
        cv2.circle(alpha, c, max(1, int(r * k)), int(255 * a), -1, cv2.LINE_AA)
    alpha = cv2.GaussianBlur(alpha, (0, 0), max(0.5, sigma * k))
    opacity = (
        cv2.resize(alpha, (w_roi, h_roi), interpolation=cv2.INTER_LINEAR).astype(np.float32) * (1.0 / 255.0)
    )
    roi = img[y0:y1, x0:x1]
    roi[:] = cv2.blendLinear(roi, np.full_like(roi, grey), 1.0 - opacity, opacity)
    dense = [p for p in puffs if p[3] >= 0.25]
    if not dense:
        return None
    box = (
        max(0.0, min(p[0] - p[2] for p in dense)),
        max(0.0, min(p[1] - p[2] for p in dense)),
        min(float(w), max(p[0] + p[2] for p in dense)),
        min(float(h), max(p[1] + p[2] for p in dense)),
    )
    return box if box[2] > box[0] and box[3] > box[1] else None


@dataclass(frozen=True, slots=True)
class Pile:
    """Dumped rubbish as (dx, dy, kind, size, colour); kind is 'bag', 'flat' (a flattened,
    soaked piece of cardboard lying on the ground) or 'litter' (paper, cups, wrappers)."""

    items: tuple[tuple[float, float, str, float, BGR], ...]


# Exposed rubbish must not share a look with the labels of other classes: an upright cardboard
# cube in carton brown is what piled goods are made of, so the pile has none (its cardboard
# lies flat, soaked darker); bags heaped on and around a bin are an overflowing bin, which keeps
# its spill at the bin's foot (scenes.problem_props), so bags away from a bin are this class only.
PILE_BAG_COLOURS: tuple[BGR, ...] = ((30, 30, 30), (40, 80, 40), (140, 80, 40), (220, 220, 220), (40, 40, 120))
PILE_FLAT_COLOURS: tuple[BGR, ...] = ((70, 95, 115), (85, 105, 120), (60, 80, 95))
PILE_LITTER_COLOURS: tuple[BGR, ...] = ((235, 235, 235), (60, 160, 220), (200, 60, 60), (70, 70, 200))


def random_pile(rnd: random.Random) -> Pile:
    items = []
    for _ in range(rnd.randint(3, 6)):
        items.append((rnd.uniform(-0.6, 0.6), rnd.uniform(-0.3, 0.3), "bag", rnd.uniform(0.3, 0.55),
                      rnd.choice(PILE_BAG_COLOURS)))  # fmt: skip
    for _ in range(rnd.randint(0, 2)):
        items.append((rnd.uniform(-0.6, 0.6), rnd.uniform(-0.3, 0.3), "flat", rnd.uniform(0.4, 0.7),
                      rnd.choice(PILE_FLAT_COLOURS)))  # fmt: skip
    for _ in range(rnd.randint(3, 7)):
        items.append((rnd.uniform(-0.85, 0.85), rnd.uniform(-0.4, 0.4), "litter", rnd.uniform(0.1, 0.18),
                      rnd.choice(PILE_LITTER_COLOURS)))  # fmt: skip
    # Flat things first (they lie under the bags), then far items before near ones.
    return Pile(tuple(sorted(items, key=lambda it: (it[2] == "bag", -it[1]))))


def draw_pile(img: np.ndarray, cam: PoleCamera, x: float, y: float, pile: Pile) -> Box:
    s = cam.scale(x, y)
    xs, ys = [], []
    for dx, dy, kind, size, colour in pile.items:
        if kind == "bag":
            u, v, _ = cam.point(x + dx, y + dy, size * 0.45)
            ax, ay = size * 0.55 * s, size * 0.5 * s
            oval(img, (u, v), (ax, ay), colour)
            oval(img, (u - ax * 0.3, v - ay * 0.35), (ax * 0.3, ay * 0.2), shade(colour, 1.5))
            disc(img, (u, v - ay), max(1.0, 0.06 * s), shade(colour, 0.7))  # the knot
            xs += [u - ax, u + ax]
            ys += [v - ay - 0.06 * s, v + ay]
            continue
        a = 3.0 * dx + 7.0 * dy  # a fixed, arbitrary turn per item
        ca, sa = math.cos(a) * size / 2, math.sin(a) * size / 2
        k = 0.7 if kind == "flat" else 0.6
        corners = [(x + dx + ca * i - sa * k * j, y + dy + sa * i + ca * k * j) for i, j in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
        uv = np.array([cam.point(gx, gy, 0.02)[:2] for gx, gy in corners])
        fill(img, uv, colour)
        if kind == "flat":  # the crease where the box was folded
            line(img, (uv[0] + uv[3]) / 2, (uv[1] + uv[2]) / 2, shade(colour, 0.7), 1)
        xs += [float(uv[:, 0].min()), float(uv[:, 0].max())]
        ys += [float(uv[:, 1].min()), float(uv[:, 1].max())]
    return (float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys)))


@dataclass(frozen=True, slots=True)
class StallLook:
    body: BGR
    canopy: tuple[BGR, BGR]
    goods: tuple[BGR, ...]


def random_stall(rnd: random.Random) -> StallLook:
    body = rnd.choice(((230, 230, 230), (60, 60, 180), (160, 100, 40), (70, 120, 160)))
    canopy = rnd.choice(
        (((40, 40, 220), (240, 240, 240)), ((200, 120, 30), (240, 240, 240)), ((40, 180, 230), (40, 120, 40)))
    )
    goods = tuple(
        rnd.choice(((40, 160, 240), (40, 40, 200), (60, 190, 60), (40, 220, 240))) for _ in range(5)
    )
    return StallLook(body, canopy, goods)


def draw_stall(img: np.ndarray, cam: PoleCamera, x: float, y: float, look: StallLook, open_: bool) -> Box:
    """A hand cart with goods on top and, once set up, a striped umbrella."""
    s = cam.scale(x, y)
    uvs = []
    for wx in (x - 0.6, x + 0.6):
        u, v, _ = cam.point(wx, y - 0.42, 0.22)
        disc(img, (u, v), 0.22 * s, (30, 30, 30))
        uvs.append(np.array([(u - 0.22 * s, v + 0.22 * s)]))
    uvs.append(draw_hexa(img, cam, hexa(x - 0.85, x + 0.85, y - 0.4, y + 0.4, 0.3, 1.0), look.body))
    for i, colour in enumerate(look.goods):
        u, v, _ = cam.point(x - 0.6 + 0.3 * i, y - 0.1 + 0.1 * (i % 2), 1.1)
        disc(img, (u, v), 0.12 * s, colour)
    top = cam.point(x, y, 2.35 if open_ else 2.0)
    base = cam.point(x, y, 1.0)
    line(img, base[:2], top[:2], (60, 60, 60), max(1.0, 0.05 * s))
    uvs.append(np.array([top[:2]]))
    if open_:
        rim = [(x + 1.2 * math.cos(k * math.pi / 4), y + 1.2 * math.sin(k * math.pi / 4)) for k in range(8)]
        apex = cam.point(x, y, 2.55)[:2]
        order = sorted(range(8), key=lambda k: -(rim[k][1] + rim[(k + 1) % 8][1]))
        for k in order:
            a, b = rim[k], rim[(k + 1) % 8]
            tri = np.array([apex, cam.point(a[0], a[1], 2.1)[:2], cam.point(b[0], b[1], 2.1)[:2]])
            fill(img, tri, look.canopy[k % 2])
            uvs.append(tri)
    else:
        furled = np.array([cam.point(x - 0.08, y, 1.4)[:2], cam.point(x + 0.08, y, 1.4)[:2], top[:2]])
        fill(img, furled, look.canopy[0])
    allp = np.concatenate(uvs)
    return (
        float(allp[:, 0].min()),
        float(allp[:, 1].min()),
        float(allp[:, 0].max()),
        float(allp[:, 1].max()),
    )
