"""Cars, vans, buses and bicycles built from projected boxes, so they foreshorten correctly."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, Box, disc, fill, line, ring, shade
from scenes.people import PersonLook, draw_rider
from scenes.shapes import draw_hexa, hexa, rotate_z, visible_faces

PAINTS: tuple[BGR, ...] = (
    (235, 235, 235), (190, 190, 195), (30, 30, 32), (40, 40, 190), (160, 90, 30), (90, 90, 95),
    (60, 140, 200), (40, 110, 40), (210, 210, 215), (120, 40, 30),
)  # fmt: skip
GLASS: BGR = (80, 62, 50)
TAXI: BGR = (60, 150, 60)  # Guangzhou's taxis are mostly green and yellow


@dataclass(frozen=True, slots=True)
class Part:
    """One box of a vehicle along its length axis a (rear −, front +) and height z."""

    a0: float
    a1: float
    top: tuple[float, float]  # a-range of the top face (slanted screens)
    z0: float
    z1: float
    glass: bool  # side and end faces are windows
    inset: float = 0.0  # lateral inset from the body's sides


@dataclass(frozen=True, slots=True)
class VehicleModel:
    kind: str
    length: float
    width: float
    parts: tuple[Part, ...]
    wheel_a: float  # wheels at ±wheel_a
    wheel_r: float
    colour: BGR


def random_vehicle(rnd: random.Random) -> VehicleModel:
    kind = rnd.choices(("sedan", "suv", "van", "taxi", "bus"), (5, 3, 2, 2, 1))[0]
    colour = TAXI if kind == "taxi" else rnd.choice(PAINTS)
    if kind in ("sedan", "taxi"):
        length, width = rnd.uniform(4.3, 4.8), 1.8
        parts: tuple[Part, ...] = (
            Part(-length / 2, length / 2, (-length / 2 + 0.15, length / 2 - 0.1), 0.28, 0.95, False),
            Part(-1.35, 1.0, (-0.95, 0.45), 0.95, 1.45, True, 0.08),
        )
        return VehicleModel(kind, length, width, parts, length / 2 - 0.85, 0.32, colour)
    if kind == "suv":
        length, width = rnd.uniform(4.5, 4.9), 1.9
        parts = (
            Part(-length / 2, length / 2, (-length / 2, length / 2 - 0.15), 0.32, 1.05, False),
            Part(-length / 2 + 0.1, 1.0, (-length / 2 + 0.2, 0.4), 1.05, 1.72, True, 0.08),
        )
        return VehicleModel(kind, length, width, parts, length / 2 - 0.9, 0.37, colour)
    if kind == "van":
        length, width = rnd.uniform(4.8, 5.4), 1.95
        parts = (
            Part(-length / 2, length / 2, (-length / 2, length / 2), 0.3, 1.0, False),
            Part(-length / 2, length / 2 - 0.6, (-length / 2, length / 2 - 1.1), 1.0, 1.55, True, 0.04),
            Part(-length / 2, length / 2 - 1.1, (-length / 2, length / 2 - 1.1), 1.55, 2.1, False, 0.04),
        )
        return VehicleModel(kind, length, width, parts, length / 2 - 0.9, 0.34, colour)
    length, width = rnd.uniform(10.5, 12.0), 2.5
    parts = (
        Part(-length / 2, length / 2, (-length / 2, length / 2), 0.35, 1.25, False),
        Part(-length / 2, length / 2, (-length / 2, length / 2), 1.25, 2.55, True),
        Part(-length / 2, length / 2, (-length / 2 + 0.2, length / 2 - 0.2), 2.55, 3.1, False),
    )
    bus = rnd.choice(((235, 235, 235), (70, 150, 60), (170, 110, 40), (50, 60, 190)))
    return VehicleModel("bus", length, width, parts, length / 2 - 2.3, 0.5, bus)


def _place(local: np.ndarray, x: float, y: float, direction: int, angle: float) -> np.ndarray:
    out = local.copy()
    out[:, 0] *= direction
    out = rotate_z(out, 0.0, 0.0, angle)
    out[:, 0] += x
    out[:, 1] += y
    return out


def draw_vehicle(
    img: np.ndarray, cam: PoleCamera, x: float, y: float, direction: int, angle: float, m: VehicleModel
) -> Box:
    """A vehicle centred on ground point (x, y) heading along ±x (turned by `angle` radians)."""
    hw = m.width / 2
    shadow = _place(
        hexa(-m.length / 2 - 0.2, m.length / 2 + 0.2, -hw - 0.25, hw + 0.1, 0, 0), x, y, direction, angle
    )
    fill(img, cam.project(shadow[:4])[0], (38, 38, 40))
    pts = []
    glass = shade(GLASS, 1.0 + 0.3 * (m.colour[0] > 200))
    for p in m.parts:
        local = hexa(p.a0, p.a1, -hw + p.inset, hw - p.inset, p.z0, p.z1, top_x=p.top)
        world = _place(local, x, y, direction, angle)
        faces = {1: glass, 2: glass, 3: glass, 4: glass} if p.glass else None
        uv = draw_hexa(img, cam, world, m.colour, faces)
        pts.append(uv)
        if p.glass:
            _pillars(img, cam, world, uv, m)
        if not p.glass and p.z0 < 0.5:
            _lights(img, cam, world)
    if m.kind == "taxi":
        sign = _place(hexa(-0.25, 0.25, -0.3, 0.3, 1.45, 1.62), x, y, direction, angle)
        pts.append(draw_hexa(img, cam, sign, (60, 200, 240)))
    s = cam.scale(x, y)
    for a in (-m.wheel_a, m.wheel_a):
        centre = _place(np.array([(a, -hw + 0.05, m.wheel_r)]), x, y, direction, angle)[0]
        u, v, _ = cam.point(*centre)
        disc(img, (u, v), m.wheel_r * s, (25, 25, 28))
        disc(img, (u, v), m.wheel_r * s * 0.5, (150, 150, 155))
        pts.append(np.array([(u - m.wheel_r * s, v + m.wheel_r * s), (u + m.wheel_r * s, v - m.wheel_r * s)]))
    allp = np.concatenate(pts)
    return (
        float(allp[:, 0].min()),
        float(allp[:, 1].min()),
        float(allp[:, 0].max()),
        float(allp[:, 1].max()),
    )


def _pillars(img: np.ndarray, cam: PoleCamera, world: np.ndarray, uv: np.ndarray, m: VehicleModel) -> None:
    """Posts between the side windows, so a cabin reads as windows rather than one dark slab."""
    if not any(idx == (0, 1, 5, 4) for idx, _ in visible_faces(cam, world)):
        return
    n = max(1, int((m.length - 2.0) / 1.4)) if m.kind == "bus" else 1
    thick = max(1.0, 0.09 * cam.focal / max(cam.point(*world[0])[2], 1.0))
    for k in range(1, n + 1):
        f = k / (n + 1)
        line(img, uv[0] + (uv[1] - uv[0]) * f, uv[4] + (uv[5] - uv[4]) * f, m.colour, thick)


def _lights(img: np.ndarray, cam: PoleCamera, body: np.ndarray) -> None:
    """Head- and tail-lights on whichever end faces the camera."""
    for idx, _ in visible_faces(cam, body):
        if idx not in ((1, 2, 6, 5), (3, 0, 4, 7)):
            continue
        front = idx == (1, 2, 6, 5)
        colour: BGR = (200, 235, 245) if front else (30, 30, 200)
        p = body[list(idx)]
        for f0, f1 in ((0.08, 0.25), (0.75, 0.92)):
            lo = p[0] + (p[1] - p[0]) * f0
            hi = p[0] + (p[1] - p[0]) * f1
            quad = np.array([lo, hi, hi, lo]) + np.array(
                [(0, 0, 0.45), (0, 0, 0.45), (0, 0, 0.58), (0, 0, 0.58)]
            )
            fill(img, cam.project(quad)[0], colour)


def draw_bicycle(
    img: np.ndarray,
    cam: PoleCamera,
    x: float,
    y: float,
    direction: int,
    crank: float,
    frame: BGR,
    rider: PersonLook,
) -> tuple[Box, Box]:
    """A bicycle with its rider; returns (bicycle box, rider box)."""
    d = direction

    def at(a: float, z: float, dy: float = 0.0) -> tuple[float, float]:
        p = cam.point(x + d * a, y + dy, z)
        return p[0], p[1]

    s = cam.scale(x, y)
    r = 0.34 * s
    rear, front = at(-0.52, 0.34), at(0.52, 0.34)
    bb, seat, bars = at(0.0, 0.3), at(-0.2, 0.95), at(0.42, 1.05)
    pedal = [
        at(0.17 * math.cos(crank + k * math.pi), 0.3 + 0.17 * math.sin(crank + k * math.pi)) for k in (0, 1)
    ]
    thick = max(1.0, 0.045 * s)
    for wheel in (rear, front):
        ring(img, wheel, r, (30, 30, 30), max(1.0, 0.06 * s))
    for a, b in ((rear, bb), (bb, seat), (seat, rear), (bb, at(0.38, 0.9)), (at(0.38, 0.9), front)):
        line(img, a, b, frame, thick)
    line(img, at(-0.05, 0.92), at(0.38, 0.9), frame, thick)
    line(img, at(0.38, 0.9), bars, (40, 40, 40), thick)
    rider_box = draw_rider(img, seat, at(0.12, 1.55), bars, (pedal[0], pedal[1]), s, rider, d)
    pts = np.array([(rear[0] - r, rear[1] - r), (rear[0] + r, rear[1] + r), (front[0] - r, front[1] - r),
                    (front[0] + r, front[1] + r), seat, bars])  # fmt: skip
    bike_box = (
        float(pts[:, 0].min()),
        float(pts[:, 1].min()),
        float(pts[:, 0].max()),
        float(pts[:, 1].max()),
    )
    return bike_box, rider_box


def draw_parked_bicycle(
    img: np.ndarray, cam: PoleCamera, x: float, y: float, heading: float, frame: BGR, lean: float = 0.0
) -> Box:
    """A riderless bicycle standing on (x, y), pointing `heading` radians from +x.

    Wheels are projected circles, so a bike seen nose-on (parked in a row across the pavement)
    narrows to the ellipses a camera sees.
    """
    ca, sa = math.cos(heading), math.sin(heading)
    cl, sl = math.cos(lean), math.sin(lean)  # leaning on its stand, sideways

    def at(a: float, z: float) -> np.ndarray:
        side = z * sl
        return np.array((x + a * ca - side * sa, y + a * sa + side * ca, z * cl))

    s = cam.scale(x, y)
    thick = max(1.0, 0.045 * s)
    ang = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    pts = []
    for hub in (-0.52, 0.52):
        wheel = np.stack([at(hub + 0.34 * np.cos(k), 0.34 + 0.34 * np.sin(k)) for k in ang])
        uv = cam.project(wheel)[0]
        cv2_poly(img, uv, (30, 30, 30), max(1.0, 0.06 * s))
        pts.append(uv)
    rear, front, bb = at(-0.52, 0.34), at(0.52, 0.34), at(0.0, 0.3)
    seat, head, bars = at(-0.2, 0.95), at(0.38, 0.9), at(0.42, 1.05)
    joints = cam.project(np.stack([rear, front, bb, seat, head, bars, at(-0.05, 0.92), at(-0.3, 0.98), at(-0.1, 0.98)]))[0]
    r_, f_, b_, s_, h_, bar_, st_, sa_, sb_ = joints
    for p, q in ((r_, b_), (b_, s_), (s_, r_), (b_, h_), (h_, f_), (st_, h_)):
        line(img, p, q, frame, thick)
    line(img, h_, bar_, (40, 40, 40), thick)
    line(img, sa_, sb_, (25, 25, 25), max(1.0, 0.06 * s))  # the saddle
    pts.append(joints)
    allp = np.concatenate(pts)
    return (float(allp[:, 0].min()), float(allp[:, 1].min()), float(allp[:, 0].max()), float(allp[:, 1].max()))


def cv2_poly(img: np.ndarray, uv: np.ndarray, colour: BGR, thickness: float) -> None:
    """A closed outline at sub-pixel precision."""
    pts = np.round(uv * 16).astype(np.int32).reshape(-1, 1, 2)
    cv2.polylines(img, [pts], True, colour, max(1, round(thickness)), cv2.LINE_AA, 4)
