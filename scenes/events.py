"""The seeded schedule of incidents a scene stages, and the actors that play each one.

Events follow one another every `every_s` (± a quarter) from `first_s`; kinds come in shuffled
rounds so each kind turns up once per round. Each event has a lead-in (someone walks or
drives up), an `active_s` span while the condition holds (fire burning, person lying,
crowd gathered, car stopped in the box, rubbish on the ground, stall open), and a lead-out.
"""

from __future__ import annotations

import bisect
import random

from scenes.actors import Actor
from scenes.incidents import SimEvent, Stager
from scenes.layout import Backdrop
from scenes.traffic import Traffic

STREET_KINDS = ("fire", "fallen_person", "crowd", "illegal_parking", "garbage", "stall")
PLAZA_KINDS = ("fire", "fallen_person", "crowd", "garbage", "stall")


class EventPlanner:
    LOOKAHEAD_S = 400.0  # plan this far ahead, so lane closures are known before cars appear
    KEEP_S = 600.0  # finished events keep their actors this long, then rebuild on demand

    def __init__(
        self, backdrop: Backdrop, traffic: Traffic, seed: int, every_s: float, first_s: float
    ) -> None:
        if every_s <= 0:
            raise ValueError("event_every_s must be positive")
        self.seed = seed
        self.every_s = every_s
        self.kinds = STREET_KINDS if backdrop.no_parking is not None else PLAZA_KINDS
        self._stager = Stager(backdrop, traffic)
        self._rnd = random.Random(f"{seed}/events")
        self._next_t = first_s
        self._round: list[str] = []
        self._last_kind = ""
        self._parking_free_at = -1e9
        self._pruned_to = 0.0
        self.events: list[SimEvent] = []  # sorted by start

    def until(self, t: float) -> list[SimEvent]:
        """All events that start before t (the schedule grows as time goes by)."""
        while self._next_t < t:
            self._plan_next()
        return self.events[: bisect.bisect_left(self.events, t, key=lambda e: e.start_s)]

    def active(self, t: float) -> list[Actor]:
        self.until(t + self.LOOKAHEAD_S)
        out: list[Actor] = []
        for e in self._near(t):
            # Rebuild a pruned event a little early: staging it also closes lanes to traffic.
            if not e.actors and e.span[0] - 30.0 <= t < e.span[1] + 30.0:
                e.actors = self._build(e.index, e.kind, e.start_s).actors
            if e.span[0] <= t < e.span[1]:
                out.extend(a for a in e.actors if a.t0 <= t < a.t1)
        if t > self._pruned_to + self.KEEP_S:
            # Long runs would otherwise hold every actor of every past event.
            for e in self._near(self._pruned_to, t - self.KEEP_S):
                if e.span[1] < t - self.KEEP_S:
                    e.actors = []
            self._pruned_to = t - self.KEEP_S
        return out

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
        if kind == "illegal_parking":
            # One no-parking box: a second car never arrives while the first is still there.
            start = max(start, self._parking_free_at + 5.0)
        index = len(self.events)
        ev = self._build(index, kind, start)
        if kind == "illegal_parking":
            self._parking_free_at = ev.span[1]
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
        return ev
