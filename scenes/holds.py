"""Clearing and keeping a staged event: a resolved event's actors leave the stage at a given
moment; a persisted event's lasting actors stay for ever, frozen in the pose they hold at the
end of the natural active span. Both only rewrite the actors an event builder made, so a
rebuilt event (after the planner pruned it) comes back with the same change."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from scenes.actors import Actor
from scenes.camera import PoleCamera
from scenes.motion import Track, keyframes
from scenes.paint import Label

FOREVER = 1e12  # "the end of time": far beyond any scene clock, still a finite float


@dataclass(frozen=True, slots=True)
class Until:
    """An actor cut short: off stage from `until` on (a resolved event's lasting things)."""

    actor: Actor
    until: float

    @property
    def t0(self) -> float:
        return self.actor.t0

    @property
    def t1(self) -> float:
        return min(self.actor.t1, self.until)

    def depth(self, t: float) -> float:
        return self.actor.depth(t)

    def draw(self, img: np.ndarray, cam: PoleCamera, t: float) -> list[Label]:
        return self.actor.draw(img, cam, t)


def cut(actors: list[Actor], at_s: float) -> list[Actor]:
    """Every actor of the event gone from `at_s` (those that only come later never come)."""
    out: list[Actor] = []
    for a in actors:
        if a.t0 >= at_s:
            continue
        out.append(a if a.t1 <= at_s else Until(a, at_s))
    return out


def freeze_track(track: Track, at: float) -> Track:
    """The track up to `at`, then standing there for ever."""
    pose = track.at(at)
    frames = [(t, x, y) for t, (x, y) in zip(track.times, track.points, strict=True) if t < at]
    frames += [(at, pose.x, pose.y), (FOREVER, pose.x, pose.y)]
    return keyframes(frames)


def hold(actors: list[Actor], at: float) -> list[Actor]:
    """Actors on stage at `at` (the condition's last moment) stay there, as they are then.

    Track-driven actors stop where they stand; timed props (fire, rubbish, a pothole) last for
    ever. Actors already gone by `at` (someone who dropped rubbish and left) are unchanged.
    """
    out: list[Actor] = []
    for a in actors:
        if not a.t0 <= at < a.t1:
            out.append(a)
            continue
        changes: dict[str, object] = {}
        fields = {f.name for f in dataclasses.fields(a)}  # type: ignore[arg-type]
        if "track" in fields:
            changes["track"] = freeze_track(a.track, at)  # type: ignore[attr-defined]
        if "t1" in fields:
            changes["t1"] = FOREVER
        lying = getattr(a, "lying", None)
        if lying is not None and lying[0] <= at < lying[1]:
            changes["lying"] = (lying[0], FOREVER, lying[2])
        if "open_until" in fields:
            changes["open_until"] = FOREVER
        if getattr(a, "carry_until", -1.0) > at:
            changes["carry_until"] = FOREVER
        out.append(dataclasses.replace(a, **changes))  # type: ignore[type-var]
    return out
