"""The IoT loop against a real Mosquitto (tests/mqtt_broker.py) and a real server: a registered
smoke detector's alarm published with mosquitto_pub becomes an incident and a case in the
device's grid, assigned to the grid's worker and on their task list; a flapping alarm raises one
incident; malformed payloads, unknown devices and wrong types are counted and logged with the
topic while later good messages are still taken; a redelivery and a restart (a new engine over
the same store) make no second incident; a silent device goes offline after its heartbeat
window (an injected clock)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from command_center.bus import create_bus
from command_center.config import parse_config
from command_center.iot_heartbeat_job import IotHeartbeat
from command_center.iot_incidents import incident_id
from command_center.iot_loop import IotLoop
from command_center.registry.device_model import Device
from command_center.runtime import Runtime
from command_center.store import create_store
from command_center.store.device_records import device_store
from dispatch.catalog import load_catalog
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app
from tests.mqtt_broker import Broker


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    broker: Broker
    worker: str
    grid: str

    def get(self, path: str, **who: str | None) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=10)

    def add_device(self, kind: str = "smoke", **more: Any) -> Device:
        area = self.rt.city.city.areas[self.grid]
        device = Device(
            id=f"{kind}-{uuid.uuid4().hex[:8]}", name=f"测试{kind}", kind=kind, lon=area.lon, lat=area.lat,
            grid_code=self.grid, **more,
        )  # fmt: skip
        return device_store(self.rt.store).add(device, by="test")

    def publish(self, device_id: str, *payloads: Any) -> None:
        lines = [p if isinstance(p, str) else json.dumps(p) for p in payloads]
        self.broker.publish(f"cc/devices/{device_id}/readings", lines)

    def counters(self) -> dict[str, Any]:
        return dict(self.get("/api/health").json())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    broker = Broker(tmp_path_factory.mktemp("mosquitto")).start()
    data = tmp_path_factory.mktemp("iot")
    mqtt = {"enabled": True, "port": broker.port, "client_id": f"t-{uuid.uuid4().hex[:10]}",
            "reconnect_min_s": 0.1, "reconnect_max_s": 0.5}  # fmt: skip
    config = parse_config(
        {"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}", "mqtt": mqtt}
    )
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    try:
        with serve_app(rt) as srv:
            assert rt.iot is not None
            until(lambda: rt.iot is not None and rt.iot.intake.subscribed.is_set())
            yield World(srv, rt, broker, worker.id, worker.grid_code)
    finally:
        broker.stop()


def until(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


BASE = datetime.now(UTC).replace(microsecond=0) - timedelta(
    minutes=5
)  # readings' times: fixed, so a resend is a duplicate


def at(seconds: float) -> str:
    return (BASE + timedelta(seconds=seconds)).isoformat()


def iot_incidents(world: World, device_id: str) -> list[dict[str, Any]]:
    rows = world.get("/api/incidents?limit=200").json()
    items = rows["items"] if isinstance(rows, dict) else rows
    return [i for i in items if i.get("device_id") == device_id]


def test_a_smoke_alarm_becomes_an_incident_and_an_assigned_case_in_the_devices_grid(world: World) -> None:
    device = world.add_device()
    world.publish(device.id, {"ts": at(0), "readings": {"smoke": 0.02, "battery": 0.9}},
                  {"ts": at(1), "readings": {"smoke": 0.4}})  # fmt: skip
    incident = until(lambda: next((i for i in iot_incidents(world, device.id) if i.get("case_id")), None))
    assert incident["source"] == "iot" and incident["matter_code"] == "0402"
    assert incident["grid_code"] == world.grid and incident["device_name"] == device.name
    assert [v for _, v in incident["readings"]["smoke"]] == [0.02, 0.4]  # the series rides with it
    case = world.get(f"/api/cases/{incident['case_id']}").json()
    assert case["source"] == "iot" and case["grid_code"] == world.grid
    assert case["assignee"] == world.worker, case  # the grid's worker
    assert incident["id"] in case["incident_ids"]
    tasks = world.get(f"/api/cases?assignee={world.worker}&limit=100", role="worker", worker_id=world.worker)
    assert tasks.status_code == 200
    assert incident["case_id"] in [c["id"] for c in tasks.json()["items"]]  # on the worker's task list
    stored = device_store(world.rt.store).get(device.id)
    assert stored is not None and stored.state == "alarm" and stored.battery == 0.9
    assert world.counters()["mqtt"]["intake"]["handled"] >= 1


def test_a_flapping_alarm_raises_one_incident_and_a_redelivery_none(world: World) -> None:
    device = world.add_device()
    # Around the threshold (0.15 on, 0.08 off): on, dip inside the gap, on, off and on again within
    # the clear time (60 s), then the same message twice (QoS 1 redelivers).
    values = [0.2, 0.1, 0.3, 0.05, 0.25, 0.07, 0.3]
    first = {"ts": at(0), "readings": {"smoke": 0.01}}
    world.publish(
        device.id, first, *({"ts": at(i + 1), "readings": {"smoke": v}} for i, v in enumerate(values))
    )
    world.publish(device.id, {"ts": at(len(values)), "readings": {"smoke": values[-1]}})
    until(lambda: iot_incidents(world, device.id))
    until(lambda: len(device_store(world.rt.store).recent(device.id, "smoke")) == len(values) + 1)
    time.sleep(0.5)  # anything more would have come by now
    assert len(iot_incidents(world, device.id)) == 1
    cases = world.get("/api/cases?limit=200").json()["items"]
    assert len([c for c in cases if iot_incidents(world, device.id)[0]["id"] in c["incident_ids"]]) == 1


def test_bad_messages_are_counted_and_logged_with_the_topic_and_good_ones_still_taken(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    device = world.add_device()
    before = world.counters()
    world.broker.publish(f"cc/devices/{device.id}/readings", ["{not json"])
    world.publish("ghost-0001", {"readings": {"smoke": 0.5}})
    world.publish(device.id, {"readings": {"alarm": 0.5}})  # alarm is true or false
    world.publish(device.id, {"ts": at(0), "readings": {"smoke": 0.03}})
    until(lambda: device_store(world.rt.store).recent(device.id, "smoke"))
    after = world.counters()
    for counter in ("iot_malformed", "iot_unknown_devices", "iot_wrong_type"):
        assert after[counter] == before[counter] + 1, counter
    assert after["mqtt"]["intake"]["errors"] == before["mqtt"]["intake"]["errors"] + 3
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"cc/devices/{device.id}/readings" in logged and "cc/devices/ghost-0001/readings" in logged
    assert "expected true or false" in logged
    # The HTTP intake for gateways hands its posts to the same handler.
    state = getattr(world.srv.app, "state", None)
    assert world.rt.iot is not None and getattr(state, "iot_handler", None) is world.rt.iot.loop


def test_a_restarted_engine_replays_stored_readings_and_makes_no_second_incident(world: World) -> None:
    device = world.add_device()
    world.publish(device.id, {"ts": at(0), "readings": {"smoke": 0.5}})
    incident = until(lambda: next((i for i in iot_incidents(world, device.id) if i.get("case_id")), None))

    async def restart() -> tuple[int, int]:
        bus = create_bus("memory://")
        await bus.start()
        counters: dict[str, int] = {}
        loop = IotLoop(world.rt.store, bus, world.rt.catalog, counters)  # a new process: an empty engine
        payload = json.dumps({"ts": at(0), "readings": {"smoke": 0.5}}).encode()
        await loop.handle(f"cc/devices/{device.id}/readings", payload)  # the broker's redelivery
        await loop.handle(
            f"cc/devices/{device.id}/readings", json.dumps({"ts": at(2), "readings": {"smoke": 0.6}}).encode()
        )
        await bus.close()
        return counters["iot_incidents"], counters["iot_replayed"]

    made, replayed = asyncio.run(restart())
    assert (made, replayed) == (0, 1)
    assert [i["id"] for i in iot_incidents(world, device.id)] == [incident["id"]]
    assert incident["id"] == incident_id(incident["episode_id"])


def test_a_silent_device_goes_offline_after_its_heartbeat_window(world: World) -> None:
    store = device_store(world.rt.store)
    mine = world.add_device(heartbeat_s=600)
    kinds = world.add_device("door")  # the kind's window: 25 hours
    seen = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    store.touch(mine.id, seen)
    store.touch(kinds.id, seen)
    now = [seen + timedelta(seconds=599)]

    async def sweep() -> tuple[list[str], list[Any]]:
        bus = create_bus("memory://")
        await bus.start()
        heard = bus.subscribe(["devices", "incidents"], "test")
        job = IotHeartbeat(
            world.rt.store, bus, world.rt.catalog, {}, offline_cases=True, clock=lambda: now[0]
        )
        gone = await job.sweep_once()
        events = []
        if gone:
            async for event in heard:
                events.append(event)
                if len(events) == 2:
                    break
        await bus.close()
        return gone, events

    assert mine.id not in asyncio.run(sweep())[0]  # within its window
    now[0] = seen + timedelta(seconds=601)
    gone, events = asyncio.run(sweep())
    assert mine.id in gone and kinds.id not in gone
    assert store.get(mine.id).state == "offline"  # type: ignore[union-attr]
    assert {e.type for e in events} == {"device.offline", "incident.created"}
    assert next(e for e in events if e.type == "incident.created").data["matter_code"] == "9908"
    now[0] = seen + timedelta(hours=25, seconds=1)
    assert kinds.id in asyncio.run(sweep())[0]
    store.touch(mine.id, now[0])  # a reading brings it back
    assert store.get(mine.id).state == "online"  # type: ignore[union-attr]


@pytest.fixture
def any_store(empty_store_url: str) -> Iterator[Any]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def test_the_silent_query_and_the_replay_on_both_databases(any_store: Any) -> None:
    """The heartbeat's SQL (per kind, and a device's own window) and the loop's replay of stored
    readings, on SQLite and PostgreSQL."""
    store = device_store(any_store)
    grid = "440103001001001"
    made = [
        store.add(
            Device.model_validate(
                {"id": f"d{n}", "kind": kind, "lon": 113.3, "lat": 23.1, "grid_code": grid, **more}
            ),
            by="test",
        )
        for n, (kind, more) in enumerate([("smoke", {}), ("smoke", {"heartbeat_s": 60}), ("door", {})])
    ]
    seen = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    for device in made:
        store.touch(device.id, seen)
    catalog = load_catalog(parse_config({}).catalog)

    async def run() -> tuple[list[str], list[str], dict[str, int]]:
        bus = create_bus("memory://")
        await bus.start()
        job = IotHeartbeat(any_store, bus, catalog, {})
        early = await asyncio.to_thread(job.silent, seen + timedelta(seconds=61))
        late = await asyncio.to_thread(job.silent, seen + timedelta(hours=13))
        counters: dict[str, int] = {}
        first = IotLoop(any_store, bus, catalog, counters, clock=lambda: seen)
        alarm = json.dumps({"ts": seen.isoformat(), "readings": {"smoke": 0.5, "alarm": True}}).encode()
        await first.handle("cc/devices/d0/readings", alarm)
        again = IotLoop(any_store, bus, catalog, counters, clock=lambda: seen)  # after a restart
        await again.handle("cc/devices/d0/readings", alarm)
        await bus.close()
        return early, late, counters

    early, late, counters = asyncio.run(run())
    assert early == ["d1"] and late == ["d0", "d1"]  # the door's window is 25 hours
    assert counters["iot_incidents"] == 1 and counters["iot_replayed"] == 2
    assert counters["iot_incidents_again"] == 1  # stored, no case yet (no dispatcher here): announced again
