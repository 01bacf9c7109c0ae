"""Readings → alarm episodes: one `Opened` when a rule's condition comes on, one `Closed` when it
has stayed off `min_clear_s` (iot/rule_models.py), whatever the readings do in between.

State is kept per (device, rule). A value that flaps around a threshold raises one episode:
the hysteresis gap keeps the condition on until the value is well back, and the clear time
keeps the episode open through a dip. QoS 1 redelivers: a reading that is not newer than the
last of the same device and name (a duplicate, or one that arrived out of order) is ignored
and counted. The engine has no clock of its own: time is the readings' `ts`, and `advance`
closes, at a time the caller gives, episodes whose device has gone quiet after clearing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from iot.payload import Reading
from iot.rule_models import Combination, Duration, Rate, Rule, Threshold
from iot.series import DeviceSeries, Point, Ring

Series = dict[str, tuple[Point, ...]]
Reason = Literal["cleared", "rule_changed", "removed"]


@dataclass(frozen=True, slots=True)
class Opened:
    device_id: str
    rule_id: str
    matter: str
    ts: datetime
    readings: Series  # the rule's readings so far (bounded): the incident's series

    @property
    def episode_id(self) -> str:
        """Stable across replays of the same readings: the intake's idempotency key."""
        return f"{self.device_id}/{self.rule_id}/{round(self.ts.timestamp() * 1000)}"


@dataclass(frozen=True, slots=True)
class Closed:
    device_id: str
    rule_id: str
    matter: str
    ts: datetime
    opened_at: datetime
    cleared_at: datetime  # when the condition went off (ts is when that had lasted min_clear_s)
    readings: Series
    reason: Reason = "cleared"

    @property
    def episode_id(self) -> str:
        return f"{self.device_id}/{self.rule_id}/{round(self.opened_at.timestamp() * 1000)}"


Event = Opened | Closed


@dataclass(slots=True)
class _Cond:
    """One simple condition's state: hysteresis `on`, since when, and when it was last true."""

    on: bool = False
    on_since: float | None = None
    true: bool = False
    last_true: float | None = None


@dataclass(slots=True)
class _RuleState:
    conds: list[_Cond]
    open_since: float | None = None
    clear_since: float | None = None
    clock: float = float("-inf")  # the latest time this rule has seen: its own clock never goes back


@dataclass(slots=True)
class _Device:
    series: DeviceSeries
    rules: dict[str, Rule] = field(default_factory=dict)
    states: dict[str, _RuleState] = field(default_factory=dict)
    by_reading: dict[str, list[Rule]] = field(default_factory=dict)
    clock: float = float("-inf")


@dataclass(slots=True)
class Counters:
    """What the engine ignored, for the intake's metrics."""

    duplicates: int = 0
    out_of_order: int = 0
    unknown_devices: int = 0
    too_many_names: int = 0


class RuleEngine:
    """Rules and recent readings of every device; `feed` readings in, get episode events out."""

    def __init__(self, series_points: int = 60, max_names: int = 16) -> None:
        self.series_points = series_points
        self.max_names = max_names
        self.counters = Counters()
        self._devices: dict[str, _Device] = {}
        self._clearing: set[tuple[str, str]] = set()  # episodes waiting out their clear time

    def set_rules(self, device_id: str, rules: Iterable[Rule]) -> list[Closed]:
        """Add a device or change its rules. A rule kept unchanged keeps its state (an open
        episode stays open); a changed or removed rule closes its open episode."""
        device = self._devices.get(device_id)
        if device is None:
            device = self._devices[device_id] = _Device(DeviceSeries(self.series_points, self.max_names))
        new = {rule.id: rule for rule in rules}
        closed: list[Closed] = []
        for rule_id, old in list(device.rules.items()):
            if new.get(rule_id) != old:
                closed.extend(self._drop(device_id, device, old, "rule_changed"))
        for rule_id, rule in new.items():
            if rule_id not in device.states:
                size = len(rule.when.of) if isinstance(rule.when, Combination) else 1
                device.states[rule_id] = _RuleState([_Cond() for _ in range(size)])
        device.rules = new
        device.by_reading = {}
        for rule in new.values():
            for name in rule.when.readings():
                device.by_reading.setdefault(name, []).append(rule)
        return closed

    def remove(self, device_id: str) -> list[Closed]:
        device = self._devices.pop(device_id, None)
        if device is None:
            return []
        return [c for rule in device.rules.values() for c in self._drop(device_id, device, rule, "removed")]

    def feed(self, reading: Reading) -> list[Event]:
        device = self._devices.get(reading.device_id)
        if device is None:
            self.counters.unknown_devices += 1
            return []
        ts = reading.ts.timestamp()
        ring = device.series.rings.get(reading.name)
        last = ring.last() if ring is not None else None
        if ring is not None and last is not None and ts <= last[0]:
            if any(seen == ts for seen, _ in ring.raw(since=ts)):
                self.counters.duplicates += 1  # QoS 1 redelivered it
            else:
                self.counters.out_of_order += 1
            return []
        if not device.series.append(reading.name, ts, reading.value):
            self.counters.too_many_names += 1
            return []
        device.clock = max(device.clock, ts)
        ring = device.series.rings[reading.name]
        events: list[Event] = []
        for rule in device.by_reading.get(reading.name, ()):
            event = self._step(reading.device_id, device, rule, reading.name, ts, float(reading.value), ring)
            if event is not None:
                events.append(event)
        return events

    def feed_all(self, readings: Iterable[Reading]) -> list[Event]:
        return [event for reading in readings for event in self.feed(reading)]

    def advance(self, now: datetime) -> list[Closed]:
        """Close the episodes whose condition has been off `min_clear_s` by `now`: a device that
        reports only on change (a door) sends nothing more after its all-clear."""
        at = now.timestamp()
        closed: list[Closed] = []
        for device_id, rule_id in sorted(self._clearing):
            device = self._devices[device_id]
            rule, state = device.rules[rule_id], device.states[rule_id]
            assert state.clear_since is not None
            if at - state.clear_since >= rule.min_clear_s:
                at_clear = state.clear_since + rule.min_clear_s
                closed.append(self._close(device_id, device, rule, state, at_clear, "cleared"))
        return closed

    def series(
        self, device_id: str, names: tuple[str, ...] | None = None, since: datetime | None = None
    ) -> Series:
        """A device's recent readings (all names when None): the wall's sparkline."""
        device = self._devices.get(device_id)
        if device is None:
            return {}
        return device.series.snapshot(names, None if since is None else since.timestamp())

    def open_episodes(self, device_id: str) -> dict[str, datetime]:
        """Rule id → when its open episode opened."""
        device = self._devices.get(device_id)
        if device is None:
            return {}
        return {
            rule_id: datetime.fromtimestamp(state.open_since, UTC)
            for rule_id, state in device.states.items()
            if state.open_since is not None
        }

    def _step(
        self, device_id: str, device: _Device, rule: Rule, name: str, ts: float, value: float, ring: Ring
    ) -> Event | None:
        state = device.states[rule.id]
        state.clock = max(state.clock, ts)
        when = rule.when
        if isinstance(when, Combination):
            for sub, cond in zip(when.of, state.conds, strict=True):
                if sub.reading == name:
                    _evaluate(sub, cond, ts, value, ring)
            flags = (
                c.true or (c.last_true is not None and state.clock - c.last_true <= when.window_s)
                for c in state.conds
            )
            active = all(flags) if when.type == "all" else any(flags)
        else:
            active = _evaluate(when, state.conds[0], ts, value, ring)
        return self._transition(device_id, device, rule, state, active)

    def _transition(
        self, device_id: str, device: _Device, rule: Rule, state: _RuleState, active: bool
    ) -> Event | None:
        if active:
            state.clear_since = None
            self._clearing.discard((device_id, rule.id))
            if state.open_since is None:
                state.open_since = state.clock
                points = device.series.snapshot(rule.when.readings())
                return Opened(device_id, rule.id, rule.matter, _dt(state.clock), points)
            return None
        if state.open_since is None:
            return None
        if state.clear_since is None:
            state.clear_since = state.clock
            self._clearing.add((device_id, rule.id))
        if state.clock - state.clear_since >= rule.min_clear_s:
            return self._close(device_id, device, rule, state, state.clock, "cleared")
        return None

    def _close(
        self, device_id: str, device: _Device, rule: Rule, state: _RuleState, at: float, reason: Reason
    ) -> Closed:
        assert state.open_since is not None
        opened, cleared = state.open_since, state.clear_since if state.clear_since is not None else at
        state.open_since = state.clear_since = None
        self._clearing.discard((device_id, rule.id))
        points = device.series.snapshot(rule.when.readings())
        return Closed(device_id, rule.id, rule.matter, _dt(at), _dt(opened), _dt(cleared), points, reason)

    def _drop(self, device_id: str, device: _Device, rule: Rule, reason: Reason) -> list[Closed]:
        state = device.states.pop(rule.id, None)
        if state is None or state.open_since is None:
            return []
        return [self._close(device_id, device, rule, state, max(device.clock, state.open_since), reason)]


def _evaluate(cond: Threshold | Duration | Rate, state: _Cond, ts: float, value: float, ring: Ring) -> bool:
    """Step one simple condition with a new value; True while it holds."""
    if isinstance(cond, Rate):
        true = _rate_met(cond, ts, value, ring)
    else:
        if cond.direction == "above":
            on = True if value >= cond.high else False if value <= cond.low else state.on
        else:
            on = True if value <= cond.low else False if value >= cond.high else state.on
        if on and not state.on:
            state.on_since = ts
        state.on = on
        true = on
        if isinstance(cond, Duration):
            true = on and state.on_since is not None and ts - state.on_since >= cond.hold_s
    state.true = true
    if true:
        state.last_true = ts
    return true


def _rate_met(cond: Rate, ts: float, value: float, ring: Ring) -> bool:
    """The change per minute from the oldest point within the window to this one."""
    oldest = next(ring.raw(since=ts - cond.window_s), None)
    if oldest is None or ts - oldest[0] < cond.min_span_s:
        return False
    per_minute = (value - oldest[1]) / (ts - oldest[0]) * 60
    return per_minute >= cond.per_minute if cond.per_minute > 0 else per_minute <= cond.per_minute


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
