"""The seeded schedule of incidents a scene stages, and the actors that play each one.

Events follow one another every `every_s` (± a quarter) from `first_s`; kinds come in shuffled
rounds so each kind turns up once per round. Each event has a lead-in (someone walks or
drives up), an `active_s` span while the condition holds (fire burning, person lying,
crowd gathered, car stopped in the box, rubbish on the ground, stall open), and a lead-out.
"""

from __future__ import annotations

import bisect
import dataclasses
import random
from collections.abc import Sequence

from scenes import problem_events  # noqa: F401 - registers the standing problems' builders
from scenes.actors import Actor, Prop, Rubbish
from scenes.holds import FOREVER, cut, hold
from scenes.incidents import SimEvent, Stager
from scenes.layout import Backdrop
from scenes.traffic import Traffic

# The kinds the first renderer staged; a scene may be limited to them (`kinds=`), e.g. where a
# rule evaluation knows no rule for the newer governance kinds.
CLASSIC_KINDS = ("fire", "fallen_person", "crowd", "illegal_parking", "garbage", "stall")
# Governance problems that are one detector class each (see scenes.scene.LABELS).
PROP_KINDS = (
    "overflowing_bin",
    "construction_waste",
    "piled_goods",
    "banner",
    "laundry",
    "waterlogging",
    "fallen_tree",
    "pothole",
    "open_manhole",
)
STREET_KINDS = (*CLASSIC_KINDS, *PROP_KINDS, "fire_lane_parking", "bike_pileup")
PLAZA_KINDS = (*(k for k in CLASSIC_KINDS if k != "illegal_parking"), *PROP_KINDS, "bike_pileup")
PARKING_KINDS = ("illegal_parking", "fire_lane_parking")


class EventPlanner:
    LOOKAHEAD_S = 400.0  # plan this far ahead, so lane closures are known before cars appear
    KEEP_S = 600.0  # finished events keep their actors this long, then rebuild on demand

    def __init__(
        self,
        backdrop: Backdrop,
        traffic: Traffic,
        seed: int,
        every_s: float,
        first_s: float,
        kinds: Sequence[str] | None = None,
    ) -> None:
        if every_s <= 0:
            raise ValueError("event_every_s must be positive")
        self.seed = seed
        self.every_s = every_s
        own = STREET_KINDS if backdrop.no_parking is not None else PLAZA_KINDS
        if kinds is not None:
            unknown = sorted(set(kinds) - set(own))
            if unknown or not kinds:
                raise ValueError(f"event kinds {unknown or '(none)'} not staged here; expected some of {own}")
        self.kinds = tuple(kinds) if kinds is not None else own
        self._stager = Stager(backdrop, traffic)
        self._rnd = random.Random(f"{seed}/events")
        self._next_t = first_s
        self._round: list[str] = []
        self._last_kind = ""
        self._parking_free_at = {k: -1e9 for k in PARKING_KINDS}
        self._pruned_to = 0.0
        self.events: list[SimEvent] = []  # sorted by start
        self._persisted: list[SimEvent] = []  # shown for ever, however long ago they began

    def until(self, t: float) -> list[SimEvent]:
        """All events that start before t (the schedule grows as time goes by)."""
        while self._next_t < t:
            self._plan_next()
        return self.events[: bisect.bisect_left(self.events, t, key=lambda e: e.start_s)]

    def active(self, t: float) -> list[Actor]:
        self.until(t + self.LOOKAHEAD_S)
        out: list[Actor] = []
        near = self._near(t)
        for e in near + [e for e in self._persisted if e not in near]:
            shown = e.shown_span
            # Rebuild a pruned event a little early: staging it also closes lanes to traffic.
            if not e.actors and shown[0] - 30.0 <= t < shown[1] + 30.0:
                e.actors = self._build(e.index, e.kind, e.start_s).actors
            if shown[0] <= t < shown[1]:
                out.extend(a for a in e.actors if a.t0 <= t < a.t1)
        if t > self._pruned_to + self.KEEP_S:
            # Long runs would otherwise hold every actor of every past event.
            for e in self._near(self._pruned_to, t - self.KEEP_S):
                if e.shown_span[1] < t - self.KEEP_S:
                    e.actors = []
            self._pruned_to = t - self.KEEP_S
        return out

    def standing_problems(self, count: int, rnd: random.Random, garbage: int = 0) -> list[Actor]:
        """`count` governance problems (props only) that stand through the whole scene, and
        `garbage` dumped piles (their dumper left out): training scenes add them so the rarer
        classes are as common as the rest. Events keep clear of them."""
        out: list[Actor] = []
        spots: list[tuple[float, float]] = []
        for k in range(count + garbage):
            # Drawn one by one, between the stagings: the scenes without garbage stay as they were.
            ev = self._stager.stage(rnd.choice(PROP_KINDS) if k < count else "garbage", rnd, 0.0, spots)
            for a in ev.actors:
                if isinstance(a, Prop | Rubbish):
                    out.append(dataclasses.replace(a, t0=-FOREVER, t1=FOREVER))
                    spots.append(ev.ground)
                    self._stager.b.obstacles.append((a.x, a.y, 1.0))
        return out

    def at_position(self, position: int) -> SimEvent:
        """The event at `position` of the start-sorted schedule, once no event planned later
        can start before it (so the position is final)."""
        if position < 0:
            raise IndexError(f"event position {position} is negative")
        while len(self.events) <= position or self._next_t <= self.events[position].start_s:
            self._plan_next()
        return self.events[position]

    def resolve(self, position: int, at_s: float) -> None:
        """Event `position` is handled at `at_s`: its actors leave the stage then."""
        e = self.at_position(position)
        if e in self._persisted:
            self._persisted.remove(e)
        e.outcome = ("resolved", at_s)
        e.actors = self._build(e.index, e.kind, e.start_s).actors

    def persist(self, position: int) -> None:
        """Event `position` never ends: what holds its condition stays for ever."""
        e = self.at_position(position)
        e.outcome = ("persisted", 0.0)
        if e not in self._persisted:
            self._persisted.append(e)
        e.actors = self._build(e.index, e.kind, e.start_s).actors

    def _near(self, t0: float, t1: float | None = None) -> list[SimEvent]:
        """Events that may have actors on screen between t0 and t1: lead-ins and lead-outs
        stay within a few minutes of an event's start."""
        key = lambda e: e.start_s  # noqa: E731
        lo = bisect.bisect_left(self.events, t0 - 300.0, key=key)
        hi = bisect.bisect_right(self.events, (t1 if t1 is not None else t0) + 200.0, key=key)
        return self.events[lo:hi]

    def _plan_next(self) -> None:
        rnd = self._rnd
        if not self._round:
            self._round = list(self.kinds)
            rnd.shuffle(self._round)
            if self._round[0] == self._last_kind:
                self._round.append(self._round.pop(0))
        kind = self._round.pop(0)
        self._last_kind = kind
        start = self._next_t
        self._next_t += self.every_s * rnd.uniform(0.75, 1.25)
        if kind in PARKING_KINDS:
            # One box each: a second car never arrives while the first is still there.
            start = max(start, self._parking_free_at[kind] + 5.0)
        index = len(self.events)
        ev = self._build(index, kind, start)
        if kind in PARKING_KINDS:
            self._parking_free_at[kind] = ev.span[1]
        bisect.insort(self.events, ev, key=lambda e: e.start_s)

    def _build(self, index: int, kind: str, start: float) -> SimEvent:
        # Its own generator per event: rebuilding event n later gives exactly the same actors.
        rnd = random.Random(f"{self.seed}/event/{index}")
        busy = [
            e.ground
            for e in self._near(start - 100.0, start + 100.0)
            if e.index < index and e.span[1] > start - 5 and e.span[0] < start + 100
        ]
        ev = self._stager.stage(kind, rnd, start, busy)
        ev.index = index
        # A resolved or persisted event keeps its outcome however often it is rebuilt.
        e = next((e for e in self._near(start) if e.index == index), None)
        if e is not None and e.outcome is not None:
            ev.outcome = e.outcome
            how, at_s = e.outcome
            ev.actors = cut(ev.actors, at_s) if how == "resolved" else hold(ev.actors, ev.active_s[1] - 1e-3)
        return ev
