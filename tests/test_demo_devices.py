"""The demo's simulated devices (iot/simulate.py, command_center/demo_devices.py).

The generator: deterministic for a seed, a few hundred devices of every kind, every payload one
that the intake takes (iot.payload.parse, iot.kinds.check_reading); over a simulated hour a few
alarm episodes, each raising exactly ONE episode in the real rule engine with the kinds' rules
and none raised outside them, and some devices falling silent.

End to end: a small fleet registered on a real runtime's store, the publisher sending through a
private Mosquitto (tests/mqtt_broker.py) on a fast clock, the real intake: the devices are seen
(last seen, online), a triggered smoke alarm becomes one incident that closes after the episode,
and the publisher rides out a broker restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from command_center.config import parse_config
from command_center.demo import demo_mqtt
from command_center.demo_devices import (
    broker_for_demo,
    device_publisher,
    listening,
    register_demo_devices,
    stop_private_brokers,
)
from command_center.mqtt.config import MqttConfig
from command_center.runtime import Runtime
from command_center.store.device_records import device_store
from dispatch.city import City
from iot.kinds import KINDS, check_reading, get_kind, rules_for
from iot.payload import parse
from iot.rules import Opened, RuleEngine
from iot.simulate import JITTER_DEG, Simulator, fleet
from tests.helpers import ServerThread, build_runtime, free_port, serve_app
from tests.mqtt_broker import Broker, need_mosquitto

GRIDS = [(f"440103001001{n:03d}", 113.30 + n * 0.004, 23.12 + (n % 5) * 0.003) for n in range(1, 41)]
START = datetime(2026, 12, 6, 8, 0, tzinfo=UTC).timestamp()


def test_the_fleet_is_deterministic_a_few_hundred_of_every_kind_near_their_grids() -> None:
    specs = fleet(GRIDS, 300, seed=20, places={GRIDS[0][0]: "江沙社区第1网格"})
    assert specs == fleet(GRIDS, 300, seed=20, places={GRIDS[0][0]: "江沙社区第1网格"})
    assert specs != fleet(GRIDS, 300, seed=21)
    assert len(specs) == 300 and len({s.id for s in specs}) == 300
    kinds = Counter(s.kind for s in specs)
    assert set(kinds) == set(KINDS) and min(kinds.values()) >= 10, kinds
    assert {s.grid_code for s in specs} == {g[0] for g in GRIDS}  # spread over every grid
    centres = {code: (lon, lat) for code, lon, lat in GRIDS}
    for spec in specs:
        lon, lat = centres[spec.grid_code]
        assert abs(spec.lon - lon) <= JITTER_DEG and abs(spec.lat - lat) <= JITTER_DEG
        assert spec.name.endswith(get_kind(spec.kind).label) and spec.address in spec.name
        assert 300 <= spec.heartbeat_s <= 5 * spec.period_s + 300  # offline in minutes, not the kind's hours
    named = [s for s in specs if s.grid_code == GRIDS[0][0]]
    assert named and all(s.name.startswith("江沙社区") for s in named)
    assert set(s.kind for s in fleet(GRIDS, len(KINDS), seed=1)) == set(KINDS)  # one each when just enough


def _simulate(sim: Simulator, until: float, step: float) -> list[Any]:
    out, now = [], sim.start
    while now < until:
        now = min(until, now + step)
        out.extend(sim.tick(now))
    return out


def test_an_hour_of_the_fleet_parses_and_raises_a_few_alarms_one_incident_each() -> None:
    specs = fleet(GRIDS, 300, seed=20)
    kind_of = {s.id: get_kind(s.kind) for s in specs}
    sim = Simulator(specs, seed=20, start=START)
    hour = START + 3600
    messages = _simulate(sim, hour + 1200, step=7.0)  # 20 more minutes: the last episodes run out
    engine = RuleEngine()
    for spec in specs:
        engine.set_rules(spec.id, rules_for(kind_of[spec.id]))
    opened: list[Opened] = []
    for message in messages:
        readings = parse(message.topic, message.payload, datetime.fromtimestamp(message.ts, UTC))
        assert readings and all(r.device_id == message.device_id for r in readings)
        assert [check_reading(kind_of[r.device_id], r) for r in readings] == [None] * len(readings)
        opened += [e for e in engine.feed_all(readings) if isinstance(e, Opened)]
    in_hour = [e for e in sim.episodes if e.start < hour]
    # a demo hall sees one every couple of minutes, not a flood
    assert 10 <= len(in_hour) <= 60, len(in_hour)
    assert len({e.kind for e in in_hour}) >= 4
    for episode in sim.episodes:
        if episode.end + 60 < hour + 1200:
            mine = [
                e
                for e in opened
                if e.device_id == episode.device_id and episode.start - 1 <= e.ts.timestamp() <= episode.end
            ]
            assert len(mine) == 1, (episode, mine)  # passes the rule's hold and hysteresis, ONE episode
    alarming = {e.device_id for e in sim.episodes}
    assert [e for e in opened if e.device_id not in alarming] == []  # the noise alarms nobody
    # a few go silent (2 %: 6 of 300), some come back within the hour and some do not
    last_heard = {m.device_id: m.ts for m in messages if m.ts < hour}
    silent = {d for d, ts in last_heard.items() if hour - ts > 600}
    assert 1 <= len(silent) <= 6 and len(last_heard) == 300
    assert len(sim.silent_at(START + 1800)) >= len(silent)


def test_the_messages_do_not_depend_on_how_the_clock_is_ticked() -> None:
    specs = fleet(GRIDS[:5], 40, seed=3)
    fine = _simulate(Simulator(specs, 3, START, alarm_every_s=30), START + 900, step=1.0)
    coarse = _simulate(Simulator(specs, 3, START, alarm_every_s=30), START + 900, step=60.0)
    assert fine == coarse and len(fine) > 300
    assert all(a.ts <= b.ts for a, b in zip(fine, fine[1:], strict=False))


def test_the_demos_intake_keeps_a_session_of_its_own_and_raises_offline_cases(tmp_path: Path) -> None:
    on = MqttConfig.model_validate(demo_mqtt(tmp_path, ("127.0.0.1", 1883)))
    assert on.enabled and on.offline_cases and not on.export.enabled
    assert on.client_id.startswith("cc-demo-intake-") and (on.host, on.port) == ("127.0.0.1", 1883)
    assert on.client_id == demo_mqtt(tmp_path, ("127.0.0.1", 1883))["client_id"]  # resumes its session
    assert on.client_id != demo_mqtt(tmp_path / "other", ("127.0.0.1", 1883))["client_id"]


def test_without_the_machines_broker_the_demo_starts_a_private_one(tmp_path: Path) -> None:
    need_mosquitto()
    nobody = ("127.0.0.1", free_port())
    try:
        found = broker_for_demo(tmp_path, machine=nobody)
        assert found is not None and found != nobody and listening(*found)
        assert "max_inflight_messages 200" in (tmp_path / "mosquitto" / "mosquitto.conf").read_text()
    finally:
        stop_private_brokers()
    assert not listening(*found)


# ---- end to end: registry, publisher, broker, intake, rules, incidents ----

SPEED = 40.0  # simulated seconds per second: a 90 s smoke alarm in 2.25 s


class Publisher:
    """device_publisher on a loop of its own thread, on a fast clock from `start`."""

    def __init__(self, port: int, sim: Simulator) -> None:
        self.begun = time.monotonic()
        self.sim = sim
        self.loop = asyncio.new_event_loop()
        self.task: asyncio.Task[None] | None = None
        publisher = device_publisher("127.0.0.1", port, sim, f"t-{uuid.uuid4().hex[:8]}", self.clock, 0.05)

        def run() -> None:
            self.task = self.loop.create_task(publisher)
            with contextlib.suppress(asyncio.CancelledError):
                self.loop.run_until_complete(self.task)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def clock(self) -> float:
        return self.sim.start + (time.monotonic() - self.begun) * SPEED

    def stop(self) -> None:
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(timeout=10)


def until(check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)
    return found


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> Iterator[tuple[ServerThread, Runtime, Broker]]:
    broker = Broker(tmp_path_factory.mktemp("mosquitto")).start()
    data = tmp_path_factory.mktemp("demo-devices")
    mqtt = {"enabled": True, "port": broker.port, "client_id": f"t-{uuid.uuid4().hex[:10]}",
            "reconnect_min_s": 0.1, "reconnect_max_s": 0.5}  # fmt: skip
    config = parse_config(
        {"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}", "mqtt": mqtt}
    )
    rt = build_runtime(config, city=small_city)
    try:
        with serve_app(rt) as srv:
            until(lambda: rt.iot is not None and rt.iot.intake.subscribed.is_set())
            yield srv, rt, broker
    finally:
        broker.stop()


@pytest.mark.slow
def test_the_fleet_publishes_through_the_broker_and_an_alarm_becomes_one_incident(
    world: tuple[ServerThread, Runtime, Broker], small_city: City
) -> None:
    srv, rt, broker = world
    grids = sorted({w.grid_code for w in small_city.workers})[:4]
    areas = small_city.areas
    specs = register_demo_devices(rt.store, [(g, areas[g].lon, areas[g].lat) for g in grids], 16, seed=5)
    records = device_store(rt.store)
    assert {s.kind for s in specs} == set(KINDS) and all(records.get(s.id) for s in specs)
    again = register_demo_devices(rt.store, [(g, areas[g].lon, areas[g].lat) for g in grids], 16, seed=5)
    assert again == specs and records.count() == 16  # idempotent: known ids are skipped

    sim = Simulator(specs, seed=5, start=time.time(), alarm_every_s=math.inf, offline_share=0)
    smoke = next(s for s in specs if s.kind == "smoke")
    episode = sim.trigger(smoke.id, sim.start + 130)  # after every device has reported once (≤ 120 s)
    touched = {s.id: d.last_seen for s in specs if (d := records.get(s.id)) and d.last_seen}
    assert len(touched) == len(specs)  # `again` marked the known ones seen (a restarted demo)
    publisher = Publisher(broker.port, sim)
    try:

        def heard(device_id: str) -> bool:  # last seen moved on by a message, its signal reported
            d = records.get(device_id)
            return bool(d and d.last_seen and d.last_seen > touched[device_id] and d.signal is not None)

        until(lambda: all(heard(s.id) for s in specs))
        assert all(records.get(s.id).state == "online" for s in specs)  # type: ignore[union-attr]

        def incidents() -> list[dict[str, Any]]:
            got = httpx.get(srv.url + "/api/incidents?limit=200", headers=srv.headers(), timeout=10).json()
            return [i for i in got["items"] if i.get("device_id") in {s.id for s in specs}]

        incident = until(lambda: next(iter(incidents()), None))
        assert incident["device_id"] == smoke.id and incident["matter_code"] == "0402"
        assert incident["device_name"] == smoke.name and incident["grid_code"] == smoke.grid_code
        assert records.get(smoke.id).state == "alarm"  # type: ignore[union-attr]
        # the episode runs out and clears (its any-window and clear time: 120 s after the end)
        until(lambda: publisher.clock() > episode.end + 200, timeout=20)
        closed = until(lambda: [i for i in incidents() if i.get("closed_at")], timeout=10)
        assert [i["id"] for i in incidents()] == [incident["id"]] == [i["id"] for i in closed]  # ONE

        broker.stop()  # the broker goes away; the publisher waits and comes back with it
        time.sleep(1.0)
        broker.start()
        seen = records.get(smoke.id).last_seen  # type: ignore[union-attr]
        until(lambda: records.get(smoke.id).last_seen > seen, timeout=15)  # type: ignore[union-attr, operator]
        assert publisher.thread.is_alive()
    finally:
        publisher.stop()
