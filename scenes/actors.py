"""Everything that appears in a scene for a while: each knows its lifetime, its depth (for the
painter's order) and how to draw itself, returning the labels of what it drew."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from scenes.camera import PoleCamera
from scenes.motion import Track
from scenes.paint import BGR, Box, Label
from scenes.people import PersonLook, draw_lying, draw_upright
from scenes.props import Pile, StallLook, draw_fire, draw_pile, draw_smoke, draw_stall
from scenes.vehicles import VehicleModel, draw_bicycle, draw_parked_bicycle, draw_vehicle

FLAT_DEPTH = 1000.0  # added to a flat prop's depth: farther than anything, so painted first


class Actor(Protocol):
    @property
    def t0(self) -> float: ...

    @property
    def t1(self) -> float: ...

    def depth(self, t: float) -> float: ...

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]: ...


@dataclass(frozen=True, slots=True)
class Walker:
    track: Track
    look: PersonLook
    lying: tuple[float, float, float] | None = None  # (from, until, head angle): fallen
    carry_until: float = -1.0  # holds a rubbish bag until then
    carry: BGR = (30, 30, 30)
    facing: int = 1  # when standing still

    @property
    def t0(self) -> float:
        return self.track.t0

    @property
    def t1(self) -> float:
        return self.track.t1

    def depth(self, t: float) -> float:
        return self.track.at(t).y

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        p = self.track.at(t)
        if self.lying is not None and self.lying[0] <= t < self.lying[1]:
            return [("person", draw_lying(img, cam, p.x, p.y, self.lying[2], self.look))]
        u, v, _ = cam.point(p.x, p.y)
        hp = v - cam.point(p.x, p.y, self.look.height_m)[1]
        moving = p.speed > 0.05
        facing = (1 if p.vx > 0 else -1) if abs(p.vx) > 0.02 else self.facing
        phase = p.dist / (0.42 * self.look.height_m) * math.pi
        carry = self.carry if t < self.carry_until else None
        return [("person", draw_upright(img, u, v, hp, self.look, phase, moving, facing, carry))]


@dataclass(frozen=True, slots=True)
class Car:
    track: Track
    model: VehicleModel
    direction: int

    @property
    def t0(self) -> float:
        return self.track.t0

    @property
    def t1(self) -> float:
        return self.track.t1

    def depth(self, t: float) -> float:
        return self.track.at(t).y

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        p = self.track.at(t)
        angle = 0.0
        if p.speed > 0.1:
            # Turn the body along the path (pulling into or out of the kerb), never backwards.
            angle = math.atan2(p.vy, p.vx * self.direction) * self.direction
        return [("vehicle", draw_vehicle(img, cam, p.x, p.y, self.direction, angle, self.model))]


@dataclass(frozen=True, slots=True)
class Rider:
    track: Track
    look: PersonLook
    frame: BGR
    direction: int

    @property
    def t0(self) -> float:
        return self.track.t0

    @property
    def t1(self) -> float:
        return self.track.t1

    def depth(self, t: float) -> float:
        return self.track.at(t).y

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        p = self.track.at(t)
        crank = p.dist / 4.5 * 2 * math.pi
        bike, rider = draw_bicycle(img, cam, p.x, p.y, self.direction, crank, self.frame, self.look)
        return [("bicycle", bike), ("person", rider)]


@dataclass(frozen=True, slots=True)
class Fire:
    x: float
    y: float
    t0: float
    t1: float
    size: float
    wind: float
    grey: int
    seed: int

    def depth(self, t: float) -> float:
        return self.y

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        # Catches over a few seconds and dies down at the end: a fire never pops in whole.
        k = min(1.0, (t - self.t0) / 5.0, (self.t1 - t) / 5.0)
        out: list[Label] = []
        if k * self.size > 0.12:
            out.append(
                ("fire", draw_fire(img, cam, self.x, self.y, t, self.size * (0.4 + 0.6 * k), self.seed))
            )
        smoke = draw_smoke(img, cam, self.x, self.y, t, self.t0 + 1.0, max(0.0, k), self.wind, self.grey)
        if smoke is not None:
            out.append(("smoke", smoke))
        return out


@dataclass(frozen=True, slots=True)
class Rubbish:
    x: float
    y: float
    t0: float
    t1: float
    pile: Pile

    def depth(self, t: float) -> float:
        return self.y

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        return [("garbage", draw_pile(img, cam, self.x, self.y, self.pile))]


@dataclass(frozen=True, slots=True)
class Stall:
    track: Track
    look: StallLook
    open_from: float
    open_until: float

    @property
    def t0(self) -> float:
        return self.track.t0

    @property
    def t1(self) -> float:
        return self.track.t1

    def depth(self, t: float) -> float:
        return self.track.at(t).y

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        p = self.track.at(t)
        is_open = self.open_from <= t < self.open_until
        return [("stall", draw_stall(img, cam, p.x, p.y, self.look, is_open))]


class Look(Protocol):
    def draw(self, img: np.ndarray, cam: PoleCamera, x: float, y: float, t: float) -> Box: ...


@dataclass(frozen=True, slots=True)
class Prop:
    """A thing that stands (or lies flat) at one ground spot for a while: a governance problem
    with its detector label, or unlabelled scenery (`label` None: a normal bin, a closed cover)."""

    x: float
    y: float
    t0: float
    t1: float
    look: Look
    label: str | None
    flat: bool = False  # painted on the ground: drawn before anything that stands on it

    def depth(self, t: float) -> float:
        return self.y + (FLAT_DEPTH if self.flat else 0.0)

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        box = self.look.draw(img, cam, self.x, self.y, t)
        return [] if self.label is None else [(self.label, box)]


@dataclass(frozen=True, slots=True)
class ParkedBike:
    x: float
    y: float
    t0: float
    t1: float
    heading: float
    frame: BGR
    lean: float

    def depth(self, t: float) -> float:
        return self.y

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        return [("bicycle", draw_parked_bicycle(img, cam, self.x, self.y, self.heading, self.frame, self.lean))]
