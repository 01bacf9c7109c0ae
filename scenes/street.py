"""A street seen across from a pole: near sidewalk, kerbside parking lane with a hatched
no-parking box, two-way traffic lanes, a bike lane, the far sidewalk and shop facades."""

from __future__ import annotations

import random

import numpy as np

from scenes.camera import PoleCamera, fit_camera
from scenes.layout import Backdrop, Lane, Rect, band_polygon, ground_polygon
from scenes.paint import BGR, fill, fill_many, line, mix, shade
from scenes.scenery import draw_facades, lamp_painter, make_occluder, tree_painter
from scenes.shapes import ground_strip, wall
from scenes.sky import paint_sky, texture

PAVING: tuple[BGR, ...] = (
    (150, 160, 168),
    (128, 138, 160),
    (112, 122, 150),
    (165, 165, 160),
    (120, 130, 135),
)
WHITE: BGR = (225, 228, 228)
YELLOW: BGR = (40, 190, 230)
RED: BGR = (40, 40, 200)


def build_street(width: int, height: int, rnd: random.Random, varied: bool) -> Backdrop:
    """`varied` widens the camera's zoom and pole height and adds near-side occluders (training data)."""
    focal = width * (rnd.uniform(0.75, 1.45) if varied else rnd.uniform(0.88, 1.02))
    pole = rnd.uniform(4.5, 11.0) if varied else rnd.uniform(6.5, 8.5)
    yaw = rnd.uniform(-22, 22) if varied else rnd.uniform(-16, 16)
    n_lanes = rnd.choice((2, 3, 4))
    lane_w = rnd.uniform(3.1, 3.5)
    bike_w = 1.6 if rnd.random() < 0.7 else 0.0
    far_walk = rnd.uniform(3.5, 5.5)
    span = 2.5 + 2.4 + n_lanes * lane_w + bike_w + far_walk
    cam = fit_camera(width, height, focal, pole, yaw, span, height * rnd.uniform(0.24, 0.36))

    corners = [cam.ground_at(u, height) for u in (0.0, width / 2, float(width))]
    kerb = max(g[1] for g in corners if g is not None) + 1.8
    park0, park1 = kerb, kerb + 2.4
    lanes_y0 = park1
    lanes_y1 = lanes_y0 + n_lanes * lane_w
    bike1 = lanes_y1 + bike_w
    far_kerb = bike1
    facade_y = far_kerb + far_walk

    near_dir = rnd.choice((-1, 1))
    n_near = n_lanes // 2
    lanes = []
    for i in range(n_lanes):
        direction = near_dir if i < n_near else -near_dir
        lanes.append(Lane(lanes_y0 + (i + 0.5) * lane_w, direction, rnd.uniform(7.0, 12.0), lane_w))
    bike_lanes = [Lane(lanes_y1 + bike_w / 2, -near_dir, rnd.uniform(3.5, 5.5), bike_w)] if bike_w else []
    park_lane = Lane((park0 + park1) / 2, near_dir, 0.0, park1 - park0)

    lo, hi = cam.visible_x(park_lane.y)
    zone_len = rnd.uniform(7.5, 10.0)
    zx = rnd.uniform(lo + 0.3 * (hi - lo), hi - 0.3 * (hi - lo))
    no_parking = Rect(zx - zone_len / 2, zx + zone_len / 2, park0 + 0.15, park1 - 0.1)
    fire_lane = _fire_lane(no_parking, lo, hi)

    img = np.empty((height, width, 3), dtype=np.uint8)
    paint_sky(img, cam, rnd)
    asphalt = shade((72, 72, 76), rnd.uniform(0.85, 1.15))
    img[max(0, int(cam.horizon_v)) :] = asphalt
    x_lo, x_hi = -260.0, 260.0
    paving = rnd.choice(PAVING)
    _sidewalk(img, cam, x_lo, x_hi, kerb - 14.0, kerb, paving)
    _sidewalk(img, cam, x_lo, x_hi, far_kerb, facade_y + 0.5, shade(paving, 1.05))
    _road(img, cam, rnd, x_lo, x_hi, lanes, park0, park1, bike_lanes, (no_parking, fire_lane), asphalt)
    _kerbs(img, cam, x_lo, x_hi, kerb, far_kerb)

    fx = cam.visible_x(facade_y, 0.0, pad_px=width)
    fx_top = cam.visible_x(facade_y, 30.0, pad_px=width)
    draw_facades(img, cam, rnd, facade_y, min(fx[0], fx_top[0]) - 20, max(fx[1], fx_top[1]) + 20)
    texture(img, rnd, int(cam.horizon_v))

    backdrop = Backdrop(
        kind="street",
        cam=cam,
        image=img,
        occluders=[],
        zones={},
        walkways=[(kerb - 2.6, kerb - 0.5), (far_kerb + 1.4, facade_y - 0.5)],
        lanes=lanes,
        bike_lanes=bike_lanes,
        park_lane=park_lane,
        no_parking=no_parking,
        fire_lane=fire_lane,
        event_bands=[(kerb - 2.0, kerb - 0.7), (far_kerb + 1.8, facade_y - 0.8)],
    )
    _street_furniture(backdrop, rnd, kerb, far_kerb, varied)
    # The detection zone reaches a metre past the paint towards the kerb: a box's bottom-centre
    # (the usual zone anchor) sits at its lowest pixel, which for a car seen at an angle lies
    # nearer the camera than the ground under the car's middle.
    reach = Rect(no_parking.x0 - 0.3, no_parking.x1 + 0.3, no_parking.y0 - 1.0, no_parking.y1 + 0.2)
    fire_reach = Rect(fire_lane.x0 - 0.3, fire_lane.x1 + 0.3, fire_lane.y0 - 1.0, fire_lane.y1 + 0.2)
    backdrop.zones = {
        "no-parking": ground_polygon(cam, reach),
        "fire-lane": ground_polygon(cam, fire_reach),
        "road": band_polygon(cam, park0, far_kerb),
        "sidewalk": band_polygon(cam, kerb - 14.0, kerb),
        "sidewalk-far": band_polygon(cam, far_kerb, facade_y),
    }
    return backdrop


def _sidewalk(
    img: np.ndarray, cam: PoleCamera, x0: float, x1: float, y0: float, y1: float, colour: BGR
) -> None:
    fill_many(img, ground_strip(cam, x0, x1, y0, y1), colour)
    joint = shade(colour, 0.86)
    # Paving joints: they give the ground its perspective, and people's feet something to stand on.
    for y in np.arange(y1 - 1.0, y0, -1.0):
        a0, a1 = cam.visible_x(float(y), pad_px=40)
        if a1 > a0:
            p, q = cam.point(a0, float(y)), cam.point(a1, float(y))
            line(img, p[:2], q[:2], joint, 1, aa=True)
    ylo = max(
        y0, min(g[1] for g in [cam.ground_at(0, cam.height), cam.ground_at(cam.width, cam.height)] if g)
    )
    xa, xb = cam.visible_x(ylo, pad_px=200)
    xc, xd = cam.visible_x(y1, pad_px=200)
    for x in np.arange(np.floor(min(xa, xc)), max(xb, xd), 1.0):
        p, q = cam.point(float(x), ylo - 1.0), cam.point(float(x), y1)
        if min(p[2], q[2]) > 0.3:
            line(img, p[:2], q[:2], joint, 1, aa=True)


def _road(
    img: np.ndarray,
    cam: PoleCamera,
    rnd: random.Random,
    x0: float,
    x1: float,
    lanes: list[Lane],
    park0: float,
    park1: float,
    bike_lanes: list[Lane],
    boxes: tuple[Rect, Rect],
    asphalt: BGR,
) -> None:
    zone, fire_lane = boxes
    for _ in range(rnd.randint(2, 5)):
        # Repair patches and stains break up the flat asphalt.
        px, py = rnd.uniform(-25, 25), rnd.uniform(park0, lanes[-1].y)
        w, d = rnd.uniform(1.0, 4.0), rnd.uniform(0.6, 2.0)
        fill_many(img, ground_strip(cam, px, px + w, py, py + d), shade(asphalt, rnd.uniform(0.82, 1.12)))
    for b in bike_lanes:
        fill_many(img, ground_strip(cam, x0, x1, b.y - b.width / 2, b.y + b.width / 2), (70, 120, 75))

    def stripe(y: float, w: float, colour: BGR, dash: tuple[float, float] | None = None) -> None:
        if dash is None:
            fill_many(img, ground_strip(cam, x0, x1, y - w / 2, y + w / 2), colour)
            return
        on, off = dash
        xs = np.arange(x0, x1, on + off)
        fill_many(img, [p for x in xs for p in ground_strip(cam, x, x + on, y - w / 2, y + w / 2)], colour)

    stripe(park1, 0.15, WHITE)
    for a, b in zip(lanes[:-1], lanes[1:], strict=True):
        edge = (a.y + b.y) / 2
        if a.direction != b.direction:
            stripe(edge - 0.12, 0.12, YELLOW)
            stripe(edge + 0.12, 0.12, YELLOW)
        else:
            stripe(edge, 0.14, WHITE, (3.0, 6.0))
    if bike_lanes:
        stripe(lanes[-1].y + lanes[-1].width / 2, 0.15, WHITE)
    # Parking bays along the kerb, except inside the no-parking box.
    for x in np.arange(-60.0, 60.0, 6.0):
        if any(r.x0 - 0.5 <= x <= r.x1 + 0.5 for r in boxes):
            continue
        fill_many(img, ground_strip(cam, x - 0.06, x + 0.06, park0, park1), WHITE)
    # Zebra crossing away from the no-parking box.
    lo, hi = cam.visible_x(lanes[0].y)
    cx = zone.x1 + 9 if zone.x1 + 12 < hi else zone.x0 - 9
    for y in np.arange(park1 + 0.3, lanes[-1].y + lanes[-1].width / 2 - 0.3, 1.0):
        fill_many(img, ground_strip(cam, cx - 2.0, cx + 2.0, float(y), float(y) + 0.5), shade(WHITE, 0.95))
    _hatched(img, cam, zone)
    _fire_hatched(img, cam, fire_lane)


def _fire_lane(no_parking: Rect, lo: float, hi: float) -> Rect:
    """A fire lane (消防通道) in the parking strip, on the roomier side of the no-parking box.

    Its own generator, seeded by the box: the street's other draws stay as they were.
    """
    rnd = random.Random(f"fire-lane/{no_parking.x0:.6f}")
    length, gap = rnd.uniform(7.0, 10.0), rnd.uniform(1.5, 3.0)
    if hi - no_parking.x1 >= no_parking.x0 - lo:
        x0 = no_parking.x1 + gap
        return Rect(x0, x0 + max(5.5, min(length, hi - 3.0 - x0)), no_parking.y0, no_parking.y1)
    x1 = no_parking.x0 - gap
    return Rect(x1 - max(5.5, min(length, x1 - lo - 3.0)), x1, no_parking.y0, no_parking.y1)


def _fire_hatched(img: np.ndarray, cam: PoleCamera, r: Rect) -> None:
    """A red-bordered box with yellow hatching and red lettering: no stopping, ever."""
    s = cam.scale(*r.centre)
    w = 0.2
    for y0, y1 in ((r.y0, r.y0 + w), (r.y1 - w, r.y1)):
        fill_many(img, ground_strip(cam, r.x0, r.x1, y0, y1, step=2.0), RED, aa=True)
    for x0, x1 in ((r.x0, r.x0 + w), (r.x1 - w, r.x1)):
        fill_many(img, ground_strip(cam, x0, x1, r.y0, r.y1), RED, aa=True)
    depth = r.y1 - r.y0
    for c in np.arange(r.x0 + 0.3, r.x1 + depth, 0.9):  # sloping the other way from the no-parking box
        ax = min(c, r.x1)
        a = (ax, r.y0 + (c - ax))
        bx = max(c - depth, r.x0)
        b = (bx, r.y0 + (c - bx))
        if a[0] - b[0] < 0.1:
            continue
        p, q = cam.point(*a), cam.point(*b)
        line(img, p[:2], q[:2], YELLOW, max(1.0, 0.09 * s))
    cx, cy = r.centre
    for k in range(4):  # 消防通道, as four red glyph blocks along the box
        gx = cx + (k - 1.5) * 0.8
        fill_many(img, ground_strip(cam, gx - 0.3, gx + 0.3, cy - 0.45, cy + 0.45), RED, aa=True)


def _hatched(img: np.ndarray, cam: PoleCamera, r: Rect) -> None:
    """The yellow box with diagonal hatching that marks where stopping is forbidden."""
    s = cam.scale(*r.centre)
    w = 0.15
    for y0, y1 in ((r.y0, r.y0 + w), (r.y1 - w, r.y1)):
        fill_many(img, ground_strip(cam, r.x0, r.x1, y0, y1, step=2.0), YELLOW, aa=True)
    for x0, x1 in ((r.x0, r.x0 + w), (r.x1 - w, r.x1)):
        fill_many(img, ground_strip(cam, x0, x1, r.y0, r.y1), YELLOW, aa=True)
    depth = r.y1 - r.y0
    for c in np.arange(r.x0 - depth, r.x1, 1.2):
        a = (max(c, r.x0), r.y0 + (max(c, r.x0) - c))
        bx = min(c + depth, r.x1)
        b = (bx, r.y0 + (bx - c))
        if b[0] - a[0] < 0.1:
            continue
        p, q = cam.point(*a), cam.point(*b)
        line(img, p[:2], q[:2], YELLOW, max(1.0, 0.1 * s))


def _kerbs(img: np.ndarray, cam: PoleCamera, x0: float, x1: float, kerb: float, far_kerb: float) -> None:
    stone: BGR = (170, 172, 170)
    fill_many(img, ground_strip(cam, x0, x1, kerb - 0.2, kerb), stone)
    # The far kerb's riser faces the camera, so it shows as a thin bright band.
    for a in np.arange(x0, x1, 4.0):
        face = wall(cam, float(a), float(a) + 4.0, far_kerb, 0.0, 0.15)
        if face is not None and -50 < face[:, 0].mean() < cam.width + 50:
            fill(img, face, shade(stone, 1.1), aa=False)
    fill_many(img, ground_strip(cam, x0, x1, far_kerb, far_kerb + 0.25), mix(stone, (200, 200, 200), 0.5))


def _street_furniture(b: Backdrop, rnd: random.Random, kerb: float, far_kerb: float, varied: bool) -> None:
    cam = b.cam
    rows = [(far_kerb + 0.7, 1.0)]
    if varied:
        rows.append((kerb - 0.6, -1.0))
    for y, side in rows:
        lo, hi = cam.visible_x(y, pad_px=60)
        x = lo + rnd.uniform(0, 6)
        while x < hi:
            if rnd.random() < 0.7:
                occ = make_occluder(b.image, y, tree_painter(cam, x, y, rnd))
                b.obstacles.append((x, y, 1.0))
            else:
                occ = make_occluder(b.image, y, lamp_painter(cam, x, y, -1.2 * side))
                b.obstacles.append((x, y, 0.5))
            if occ is not None:
                b.occluders.append(occ)
            x += rnd.uniform(7.0, 14.0)
