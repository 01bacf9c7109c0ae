"""Simulated devices (the demo's, and tests'): a deterministic fleet, and the readings it publishes.

`fleet(grids, count, seed)` spreads devices of every kind of iot/kinds.py over the grids (a point
jittered around the grid's centre, a Chinese name and address-like label, its reporting period
and a heartbeat window of a few periods, so that a silent one goes offline in minutes rather
than the kind's hours). `Simulator` turns a clock into messages: `tick(now)` gives every message
due by `now`, each stamped with the moment it was due, in time order, on `cc/devices/{id}/readings`
in the JSON convention of docs/IOT.md.

What a demo hall should see, and no more: normal values with noise; an alarm episode about
every `alarm_every_s` across the whole fleet (a Poisson process), on a device picked at random,
shaped per kind to pass its rules' duration and hysteresis (a hydrant's pressure falls slowly
enough not to trip the pressure-drop rule: one episode raises ONE incident), reported faster
while it lasts and then cleared; a few devices (`offline_share`) falling silent, some coming
back later; batteries draining slowly.

Pure and deterministic: the same seed, devices and start give the same messages however the
clock is ticked (alarms and reports are processed in time order on one seeded generator).
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from iot.kinds import KINDS, get_kind

TOPIC = "cc/devices/{}/readings"
JITTER_DEG = 0.0008  # about 80 m: the sample city's grids are a couple of hundred metres across
COOLDOWN_S = 1800.0  # a device alarms again no sooner than this after its last episode


@dataclass(frozen=True, slots=True)
class _Plan:
    weight: int  # share of the fleet
    short: str  # in the id: sim-<short>-0001
    where: str  # the address, from the grid's place and a number
    period_s: float  # how often it reports while all is well
    alarm_period_s: float  # how often during an alarm (detectors report on change)
    alarm_s: float  # how long an episode lasts: past the kind's duration rules (iot/kinds.py)
    battery: bool  # battery-powered (the gas detector is on the mains)


_PLANS: Mapping[str, _Plan] = {
    "smoke": _Plan(30, "sm", "{place}{n}栋出租屋", 60, 10, 90, True),
    "gas": _Plan(12, "gas", "{place}{n}号餐饮店", 60, 10, 90, False),
    "temperature": _Plan(8, "tmp", "{place}{n}号配电房", 60, 10, 90, True),
    "water_level": _Plan(10, "wl", "{place}{n}号下穿通道", 60, 15, 240, True),  # ≥ 15 cm held 60 s
    "manhole_tilt": _Plan(12, "mh", "{place}{n}号路口", 120, 5, 60, True),  # ≥ 15° held 10 s
    "hydrant_pressure": _Plan(10, "hy", "{place}{n}号楼旁", 60, 20, 720, True),  # ≤ 0.10 MPa held 5 min
    "bin_fill": _Plan(12, "bin", "{place}{n}号收集点", 120, 30, 780, True),  # ≥ 90 % held 10 min
    "door": _Plan(6, "door", "{place}{n}号仓库", 120, 10, 120, True),  # open held 60 s
}
assert set(_PLANS) == set(KINDS), "every kind of iot/kinds.py has a plan"
_PLACES = ("锦绣花园", "翠苑小区", "华景新城", "丽江花园", "金碧小区", "东湖新村", "龙口西小区", "江南新村",
           "海珠半岛", "晓港湾", "滨江花园", "天河南小区")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    id: str
    name: str
    kind: str
    grid_code: str
    lon: float
    lat: float
    address: str
    period_s: float
    heartbeat_s: int  # the registry's window: five periods, at least five minutes


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    payload: bytes
    device_id: str
    ts: float  # epoch seconds: when it was due


@dataclass(frozen=True, slots=True)
class Episode:
    device_id: str
    kind: str
    start: float
    end: float


def fleet(
    grids: Sequence[tuple[str, float, float]], count: int, seed: int, places: Mapping[str, str] | None = None
) -> list[DeviceSpec]:
    """`count` devices over `grids` (code, lon, lat), every kind present when `count` ≥ the number
    of kinds, in proportion to the plans' weights otherwise. `places`: grid code → its name
    (江沙社区第1网格), the devices' name prefix (江沙社区); else a made-up estate per grid."""
    if not grids or count < 1:
        raise ValueError("a fleet needs grids and a count ≥ 1")
    rng = random.Random(seed)
    kinds = _kinds_for(count)
    rng.shuffle(kinds)
    numbers: dict[str, int] = {}
    out: list[DeviceSpec] = []
    for i, kind in enumerate(kinds):
        plan = _PLANS[kind]
        code, lon, lat = grids[i % len(grids)]
        numbers[kind] = numbers.get(kind, 0) + 1
        given = (places or {}).get(code)
        place = re.sub(r"第\d+网格$", "", given) if given else _PLACES[(i % len(grids)) % len(_PLACES)]
        address = plan.where.format(place=place, n=rng.randint(1, 40))
        out.append(
            DeviceSpec(
                id=f"sim-{plan.short}-{numbers[kind]:04d}",
                name=f"{address}{get_kind(kind).label}",
                kind=kind,
                grid_code=code,
                lon=round(lon + rng.uniform(-JITTER_DEG, JITTER_DEG), 6),
                lat=round(lat + rng.uniform(-JITTER_DEG, JITTER_DEG), 6),
                address=address,
                period_s=plan.period_s,
                heartbeat_s=int(max(300, 5 * plan.period_s)),
            )
        )
    return out


def _kinds_for(count: int) -> list[str]:
    """One of each kind first (when there is room), the rest by weight (largest remainders)."""
    names = list(_PLANS)
    base = names[:count] if count < len(names) else names
    rest = count - len(base)
    total = sum(p.weight for p in _PLANS.values())
    shares = {k: rest * _PLANS[k].weight / total for k in names}
    counts = {k: int(shares[k]) for k in names}
    for k in sorted(names, key=lambda k: counts[k] - shares[k])[: rest - sum(counts.values())]:
        counts[k] += 1
    return base + [k for k in names for _ in range(counts[k])]


@dataclass(slots=True)
class _Device:
    spec: DeviceSpec
    plan: _Plan
    base: float  # the kind's main reading when all is well
    temp: float  # a smoke detector's room temperature
    battery: float  # at the start
    drain_per_h: float
    rssi: float
    next_due: float
    silent: tuple[float, float] | None = None  # [from, until) it sends nothing
    episode: Episode | None = None
    calm_from: float = -math.inf  # eligible for an alarm again from then
    seq: int = 0


@dataclass
class Simulator:
    """Messages of `devices` from `start` on (epoch seconds); call `tick(now)` with a clock that
    only moves forward."""

    devices: Sequence[DeviceSpec]
    seed: int
    start: float
    alarm_every_s: float = 120.0  # across the fleet: a demo hall sees one every couple of minutes
    offline_share: float = 0.02
    episodes: list[Episode] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.alarm_every_s <= 0 or not 0 <= self.offline_share <= 1:
            raise ValueError("alarm_every_s > 0 and 0 ≤ offline_share ≤ 1")
        self._rng = random.Random(self.seed)
        rng = self._rng
        self._devices = [self._device(spec) for spec in self.devices]
        self._index = {d.spec.id: i for i, d in enumerate(self._devices)}
        for device in rng.sample(self._devices, round(self.offline_share * len(self._devices))):
            since = self.start + rng.uniform(300, 1800)
            back = since + rng.uniform(900, 2400) if rng.random() < 0.5 else math.inf
            device.silent = (since, back)
        self._wanted: list[tuple[float, int, Episode]] = []  # triggered episodes, by start
        self._heap = [(d.next_due, i) for i, d in enumerate(self._devices)]
        heapq.heapify(self._heap)
        self._next_alarm = self.start + self._gap()

    def _device(self, spec: DeviceSpec) -> _Device:
        rng = self._rng
        base = {"temperature": rng.uniform(24, 32), "water_level": rng.uniform(0, 3),
                "manhole_tilt": rng.uniform(0.5, 2), "hydrant_pressure": rng.uniform(0.30, 0.40),
                "bin_fill": rng.uniform(10, 60)}.get(spec.kind, 0.0)  # fmt: skip
        return _Device(
            spec, _PLANS[spec.kind], base, rng.uniform(22, 30), rng.uniform(0.35, 1.0),
            rng.uniform(0.0005, 0.003), rng.uniform(-95, -65), self.start + rng.uniform(0, spec.period_s),
        )  # fmt: skip

    def tick(self, now: float) -> list[Message]:
        """Every message due by `now`, in time order."""
        out: list[Message] = []
        while True:
            due = self._heap[0][0] if self._heap else math.inf
            wanted = self._wanted[0][0] if self._wanted else math.inf
            if wanted <= min(due, now, self._next_alarm):
                _, i, episode = heapq.heappop(self._wanted)
                self._begin(self._devices[i], episode)
                continue
            if self._next_alarm <= min(due, now):
                self._random_alarm(self._next_alarm)
                self._next_alarm += self._gap()
                continue
            if due > now:
                return out
            _, i = heapq.heappop(self._heap)
            device = self._devices[i]
            if due != device.next_due:
                continue  # superseded: an alarm moved its report forward
            message = self._report(device, due)
            if message is not None:
                out.append(message)
            period = device.plan.alarm_period_s if device.episode is not None else device.plan.period_s
            self._schedule(i, device, due + period)

    def _gap(self) -> float:
        """Until the next random alarm (none when `alarm_every_s` is infinite)."""
        return math.inf if math.isinf(self.alarm_every_s) else self._rng.expovariate(1 / self.alarm_every_s)

    def trigger(self, device_id: str, at: float) -> Episode:
        """An alarm episode on this device from `at` (a test, an operator showing the loop)."""
        i = self._index[device_id]
        device = self._devices[i]
        episode = Episode(device_id, device.spec.kind, at, at + device.plan.alarm_s)
        heapq.heappush(self._wanted, (at, i, episode))
        return episode

    def silent_at(self, now: float) -> set[str]:
        """The devices sending nothing at `now`."""
        return {d.spec.id for d in self._devices if _within(d.silent, now)}

    def _random_alarm(self, at: float) -> None:
        calm = [
            d for d in self._devices
            if d.episode is None and d.calm_from <= at and not _within(d.silent, at)
            and not _within(d.silent, at + d.plan.alarm_s)
        ]  # fmt: skip
        if calm:
            device = self._rng.choice(calm)
            self._begin(device, Episode(device.spec.id, device.spec.kind, at, at + device.plan.alarm_s))

    def _begin(self, device: _Device, episode: Episode) -> None:
        device.episode = episode
        self.episodes.append(episode)
        self._schedule(self._index[device.spec.id], device, episode.start)  # an alarm is reported at once

    def _schedule(self, i: int, device: _Device, due: float) -> None:
        device.next_due = due
        heapq.heappush(self._heap, (due, i))

    def _report(self, device: _Device, ts: float) -> Message | None:
        if device.episode is not None and ts >= device.episode.end:
            device.episode = None
            device.calm_from = ts + COOLDOWN_S
            if device.spec.kind == "bin_fill":
                device.base = self._rng.uniform(5, 15)  # the full bin was emptied
        if _within(device.silent, ts):
            return None
        episode = device.episode
        readings = (
            _normal(device, self._rng) if episode is None else _alarm(device, ts - episode.start, self._rng)
        )
        if device.plan.battery:
            left = device.battery - device.drain_per_h * (ts - self.start) / 3600
            readings["battery"] = round(max(0.0, left), 3)
        readings["rssi"] = round(device.rssi + self._rng.gauss(0, 2))
        device.seq += 1
        stamp = datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")
        payload = orjson.dumps(
            {"ts": stamp, "readings": _bounded(device.spec.kind, readings), "seq": device.seq}
        )
        return Message(TOPIC.format(device.spec.id), payload, device.spec.id, ts)


def _within(window: tuple[float, float] | None, at: float) -> bool:
    return window is not None and window[0] <= at < window[1]


def _normal(device: _Device, rng: random.Random) -> dict[str, Any]:
    """All is well: the kind's value with a little noise, far from its thresholds and too small
    to look like a rate of change."""
    kind, base = device.spec.kind, device.base
    if kind == "smoke":
        return {
            "smoke": round(abs(rng.gauss(0.01, 0.005)), 3),
            "alarm": False,
            "temp_c": round(device.temp + rng.gauss(0, 0.3), 1),
        }
    if kind == "gas":
        return {"gas": round(abs(rng.gauss(1, 0.5)), 1), "alarm": False}
    if kind == "door":
        return {"open": False}
    noise = {
        "temperature": 0.3,
        "water_level": 0.3,
        "manhole_tilt": 0.3,
        "hydrant_pressure": 0.003,
        "bin_fill": 1.0,
    }[kind]
    return {_MAIN[kind]: round(abs(base + rng.gauss(0, noise)), 3)}  # fmt: skip


_MAIN = {"temperature": "temp_c", "water_level": "level_cm", "manhole_tilt": "tilt_deg",
         "hydrant_pressure": "pressure_mpa", "bin_fill": "fill_pct"}  # fmt: skip


def _alarm(device: _Device, elapsed: float, rng: random.Random) -> dict[str, Any]:
    """An episode `elapsed` seconds in: past the rule's `high` (and its hold) for the plan's length."""
    kind = device.spec.kind
    if kind == "smoke":  # smoke without heat: the smoke rule, not the fire rule
        return {"smoke": round(rng.uniform(0.3, 0.6), 3), "alarm": True, "temp_c": round(device.temp + 2, 1)}
    if kind == "gas":
        return {"gas": round(rng.uniform(30, 45), 1), "alarm": True}
    if kind == "door":
        return {"open": True}
    if kind == "hydrant_pressure":
        return {"pressure_mpa": round(_hydrant(device.base, elapsed) + rng.gauss(0, 0.002), 3)}
    value = {"temperature": 66.0, "water_level": 22.0, "manhole_tilt": 35.0, "bin_fill": 96.0}[kind]
    spread = {"temperature": 2.0, "water_level": 1.0, "manhole_tilt": 2.0, "bin_fill": 1.0}[kind]
    return {_MAIN[kind]: round(value + rng.uniform(-spread, spread), 2)}


def _hydrant(base: float, elapsed: float) -> float:
    """Down at 0.1 MPa a minute (half the pressure-drop rule's rate: one rule, one incident) to
    0.05, held until 9 minutes in (≤ 0.10 for over 5), then back up at the same pace."""
    if elapsed < 540:
        return max(0.05, base - 0.1 * elapsed / 60)
    return min(base, 0.05 + 0.1 * (elapsed - 540) / 60)


def _bounded(kind: str, readings: dict[str, Any]) -> dict[str, Any]:
    """Each number inside the kind's range (check_reading would refuse it otherwise)."""
    spec = get_kind(kind)
    for name, value in readings.items():
        reading = spec.spec(name)
        if reading is not None and not isinstance(value, bool):
            low = reading.min if reading.min is not None else value
            high = reading.max if reading.max is not None else value
            readings[name] = min(max(value, low), high)
    return readings
