"""People drawn as simple figures: upright (walking, standing, carrying bags), lying, riding."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from scenes.camera import PoleCamera
from scenes.paint import BGR, Box, disc, fill, line, oval, shade

SKINS: tuple[BGR, ...] = ((150, 180, 225), (120, 155, 205), (95, 130, 180), (70, 95, 140), (165, 195, 235))
HAIRS: tuple[BGR, ...] = ((25, 25, 30), (30, 40, 60), (40, 60, 95), (150, 150, 155), (20, 20, 20))
CLOTHES: tuple[BGR, ...] = (
    (40, 40, 200), (200, 120, 40), (230, 230, 230), (30, 30, 30), (60, 160, 60), (40, 180, 220),
    (120, 60, 120), (90, 90, 90), (160, 110, 60), (200, 200, 90), (80, 60, 160), (140, 170, 200),
)  # fmt: skip
TROUSERS: tuple[BGR, ...] = ((60, 40, 30), (40, 40, 40), (120, 90, 50), (150, 150, 150), (80, 100, 120))


@dataclass(frozen=True, slots=True)
class PersonLook:
    shirt: BGR
    pants: BGR
    skin: BGR
    hair: BGR
    height_m: float
    build: float  # shoulder width factor


def random_look(rnd: random.Random) -> PersonLook:
    return PersonLook(
        shirt=rnd.choice(CLOTHES),
        pants=rnd.choice(TROUSERS),
        skin=rnd.choice(SKINS),
        hair=rnd.choice(HAIRS),
        height_m=rnd.uniform(1.55, 1.88),
        build=rnd.uniform(0.9, 1.15),
    )


def draw_upright(
    img: np.ndarray,
    u: float,
    v: float,
    hp: float,
    look: PersonLook,
    phase: float,
    moving: bool,
    facing: int,
    carry: BGR | None = None,
) -> Box:
    """A person whose feet touch (u, v) and who is `hp` pixels tall.

    Walkers are seen side-on (narrow, legs and arms swinging); people standing still face the
    camera (wider, feet apart), which is how a crowd or a queue reads from a pole.
    """
    side = moving
    tw = hp * (0.15 if side else 0.23) * look.build
    swing = 0.17 * hp * math.sin(phase) if moving else 0.0
    leg_t = max(1.0, 0.075 * hp)
    arm_t = max(1.0, 0.055 * hp)
    sh_y, hip_y = v - 0.815 * hp, v - 0.5 * hp
    head_r = 0.066 * hp
    head = (u + (0.012 * hp * facing if side else 0.0), v - hp + head_r)

    spread = 0.0 if side else 0.05 * hp
    feet = ((u + swing - spread, v - leg_t / 2), (u - swing + spread, v - leg_t / 2))
    hips = ((u - spread * 0.6, hip_y), (u + spread * 0.6, hip_y))
    if side:
        hand_a = (u - 0.7 * swing, v - 0.44 * hp)
        hand_b = (u + 0.7 * swing, v - 0.44 * hp)
        shoulders = ((u, sh_y + arm_t), (u, sh_y + arm_t))
    else:
        hand_a = (u - tw / 2 - arm_t * 0.6, v - 0.45 * hp)
        hand_b = (u + tw / 2 + arm_t * 0.6, v - 0.45 * hp)
        shoulders = ((u - tw / 2 + arm_t / 2, sh_y + arm_t), (u + tw / 2 - arm_t / 2, sh_y + arm_t))

    # Far limbs first and darker: a cheap depth cue that reads as a 3D figure.
    far_pants, far_shirt = shade(look.pants, 0.75), shade(look.shirt, 0.75)
    _leg(img, hips[1], feet[1], far_pants, leg_t, facing if side else 0)
    if side:
        line(img, shoulders[1], hand_b, far_shirt, arm_t)
    _leg(img, hips[0], feet[0], look.pants, leg_t, facing if side else 0)
    torso = np.array([(u - tw / 2, sh_y), (u + tw / 2, sh_y), (u + tw * 0.42, hip_y), (u - tw * 0.42, hip_y)])
    fill(img, torso, look.shirt)
    line(img, (head[0], head[1] + head_r), (u, sh_y + 1), look.skin, max(1.0, 0.045 * hp))
    disc(img, head, head_r, look.hair)
    disc(img, (head[0] + 0.18 * head_r * facing * side, head[1] + 0.28 * head_r), head_r * 0.8, look.skin)
    line(img, shoulders[0], hand_a, look.shirt, arm_t)
    if not side:
        line(img, shoulders[1], hand_b, look.shirt, arm_t)
    for hand in (hand_a, hand_b):
        disc(img, hand, arm_t * 0.6, look.skin)
    xs = [u - tw / 2, u + tw / 2, head[0] - head_r, head[0] + head_r]
    xs += [f[0] - leg_t / 2 for f in feet] + [f[0] + leg_t / 2 for f in feet]
    xs += [hand_a[0] - arm_t, hand_a[0] + arm_t, hand_b[0] - arm_t, hand_b[0] + arm_t]
    if carry is not None:
        # A full bin bag hangs from the front hand: part of the person until it is dropped.
        bag = (hand_a[0] + 0.02 * hp * facing, hand_a[1] + 0.09 * hp)
        oval(img, bag, (0.07 * hp, 0.1 * hp), carry)
        xs += [bag[0] - 0.07 * hp, bag[0] + 0.07 * hp]
    return (min(xs), v - hp, max(xs), v)


def _leg(img: np.ndarray, hip: tuple, foot: tuple, colour: BGR, thick: float, facing: int) -> None:
    knee = ((hip[0] + foot[0]) / 2 + 0.25 * thick * facing, (hip[1] + foot[1]) / 2)
    line(img, hip, knee, colour, thick)
    line(img, knee, foot, colour, thick)
    shoe = (foot[0] + 0.35 * thick * facing, foot[1] + thick * 0.25)
    oval(img, shoe, (thick * (0.8 if facing else 0.55), thick * 0.4), (30, 30, 35))


def draw_lying(img: np.ndarray, cam: PoleCamera, x: float, y: float, angle: float, look: PersonLook) -> Box:
    """A person flat on the ground, head towards `angle` (radians from +x)."""
    length = look.height_m
    ax, ay = math.cos(angle), math.sin(angle)

    def at(f: float, z: float) -> tuple[float, float]:
        p = cam.point(x + ax * (f - 0.5) * length, y + ay * (f - 0.5) * length, z)
        return p[0], p[1]

    s = cam.scale(x, y)
    feet, knee, hip, chest, neck, head = (at(f, 0.12) for f in (0.02, 0.28, 0.5, 0.68, 0.84, 0.93))
    leg_t, torso_t, arm_t = max(1.0, 0.15 * s), max(1.0, 0.3 * s), max(1.0, 0.09 * s)
    hand = at(0.55, 0.08)
    arm_far = at(0.78, 0.2)
    line(img, arm_far, at(0.62, 0.25), shade(look.shirt, 0.75), arm_t)
    line(img, feet, knee, look.pants, leg_t)
    line(img, knee, hip, look.pants, leg_t)
    line(img, hip, neck, look.shirt, torso_t)
    line(img, chest, hand, look.shirt, arm_t)
    disc(img, hand, arm_t * 0.6, look.skin)
    r = 0.12 * s
    disc(img, head, r, look.hair)
    disc(img, (head[0], head[1] + 0.2 * r), 0.8 * r, look.skin)
    pts = np.array([feet, knee, hip, neck, head, hand, arm_far, chest])
    pad = torso_t / 2
    return (
        float(pts[:, 0].min() - pad),
        float(pts[:, 1].min() - pad),
        float(pts[:, 0].max() + pad),
        float(pts[:, 1].max() + leg_t / 2),
    )


def draw_rider(
    img: np.ndarray,
    hip: tuple[float, float],
    shoulder: tuple[float, float],
    hand: tuple[float, float],
    pedals: tuple[tuple[float, float], tuple[float, float]],
    scale: float,
    look: PersonLook,
    facing: int,
) -> Box:
    """A cyclist's body given the bicycle's seat, bars and pedals in pixels."""
    leg_t, arm_t = max(1.0, 0.13 * scale), max(1.0, 0.08 * scale)
    legs = []
    for i, pedal in enumerate(pedals):
        knee = ((hip[0] + pedal[0]) / 2 + 0.22 * scale * facing, (hip[1] + pedal[1]) / 2 - 0.12 * scale)
        colour = look.pants if i else shade(look.pants, 0.75)
        line(img, hip, knee, colour, leg_t)
        line(img, knee, pedal, colour, leg_t)
        legs += [knee, pedal]
    tw = 0.3 * scale
    torso = np.array(
        [
            (shoulder[0] - tw / 2, shoulder[1]),
            (shoulder[0] + tw / 2, shoulder[1]),
            (hip[0] + tw * 0.45, hip[1]),
            (hip[0] - tw * 0.45, hip[1]),
        ]
    )
    fill(img, torso, look.shirt)
    r = 0.12 * scale
    head = (shoulder[0] + 0.06 * scale * facing, shoulder[1] - 0.2 * scale)
    disc(img, head, r, look.hair)
    disc(img, (head[0] + 0.2 * r * facing, head[1] + 0.25 * r), 0.8 * r, look.skin)
    line(img, shoulder, hand, look.shirt, arm_t)
    pts = np.array([hip, shoulder, hand, *legs, (head[0] - r, head[1] - r), (head[0] + r, head[1])])
    pad = leg_t / 2
    return (
        float(min(pts[:, 0].min() - pad, shoulder[0] - tw / 2)),
        float(head[1] - r),
        float(max(pts[:, 0].max() + pad, shoulder[0] + tw / 2)),
        float(pts[:, 1].max() + pad),
    )
