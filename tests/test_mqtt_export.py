"""The MQTT export against a real Mosquitto (tests/mqtt_broker.py): bus incidents and case
changes arrive on cc/events/… as JSON without personal fields, retained when configured, and
are buffered while the broker is down (bounded: the oldest dropped and counted)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from command_center.bus import MemoryBus
from command_center.events import Event
from command_center.mqtt.config import MqttConfig, MqttExportConfig
from command_center.mqtt.export import Exporter, message_of
from tests.mqtt_broker import Broker

INCIDENT = {
    "id": "a1b2c3", "ts": "2026-11-01T08:00:00+00:00", "state": "new", "rule": "fire", "label": "smoke",
    "location": {"lon": 113.3, "lat": 23.1}, "grid_code": "440106001001001", "matter_code": "0701",
    "snapshot_url": "/api/incidents/a1b2c3/snapshot.jpg", "note": "seen by 王五",
}  # fmt: skip
CASE = {
    "id": "C20261101-0123456789abcdef", "state": "dispatched", "matter_code": "0701", "grid_code": "440106001001001",
    "assignee": "W0001", "assignee_name": "张三", "description": "住户李四 13800000000 报告", "photos": ["/p/1.jpg"],
    "timeline": [{"note": "x"}], "version": 2, "urgency": "immediate",
}  # fmt: skip


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("mosquitto")).start()
    yield broker
    broker.stop()


def config(port: int, **export: Any) -> MqttConfig:
    return MqttConfig(
        enabled=True, port=port, client_id=f"t-{uuid.uuid4().hex[:10]}", reconnect_min_s=0.1, reconnect_max_s=0.3,
        export=MqttExportConfig(enabled=True, **export),
    )  # fmt: skip


def run(coro: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 60))


async def stop(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_only_incidents_and_case_changes_are_exported_with_their_public_fields() -> None:
    topic, payload = message_of(Event("incidents", "incident.created", INCIDENT, id="e1"), "cc/events") or (
        "",
        b"",
    )
    body = json.loads(payload)
    assert topic == "cc/events/incidents/a1b2c3"
    assert body["type"] == "incident.created" and body["event_id"] == "e1"
    assert body["incident"]["rule"] == "fire" and body["incident"]["grid_code"] == "440106001001001"
    assert "note" not in body["incident"] and "snapshot_url" not in body["incident"]
    topic, payload = message_of(Event("cases", "case.updated", CASE), "city/cc") or ("", b"")
    case = json.loads(payload)["case"]
    assert topic == f"city/cc/cases/{CASE['id']}"
    assert case["state"] == "dispatched" and case["version"] == 2
    assert not {"assignee", "assignee_name", "description", "photos", "timeline"} & set(case)
    assert "13800000000" not in payload.decode() and "张三" not in payload.decode()
    # not exported: other types (a supervision note is followed by its case.updated), other topics, ids unfit for a topic
    assert message_of(Event("cases", "case.warn", {"case": CASE, "kind": "warn"}), "cc/events") is None
    assert message_of(Event("cameras", "camera.updated", {"id": "cam-1"}), "cc/events") is None
    assert message_of(Event("incidents", "incident.created", {**INCIDENT, "id": "a/#"}), "cc/events") is None


def test_a_bus_incident_and_case_arrive_on_cc_events(broker: Broker) -> None:
    """Published on the bus, received by a plain subscriber of cc/events/# (QoS 1, not retained)."""

    async def scenario() -> None:
        bus = MemoryBus()
        exporter = Exporter(config(broker.port))
        task = asyncio.create_task(exporter.run(exporter.subscribe(bus)))
        async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"sub-{uuid.uuid4().hex[:8]}") as sub:
            await sub.subscribe("cc/events/#", qos=1)
            await asyncio.wait_for(exporter.connected.wait(), 10)
            await bus.publish(Event("incidents", "incident.created", INCIDENT))
            await bus.publish(Event("cases", "case.warn", {"case": CASE, "kind": "warn"}))  # not exported
            await bus.publish(Event("cases", "case.created", CASE))
            got: list[tuple[str, dict[str, Any], bool]] = []
            async with asyncio.timeout(10):
                async for message in sub.messages:
                    assert isinstance(message.payload, bytes)
                    got.append((message.topic.value, json.loads(message.payload), message.retain))
                    if len(got) == 2:
                        break
        await until(lambda: exporter.counters.published == 2)
        await stop(task)
        assert [(t, b["type"], r) for t, b, r in got] == [
            ("cc/events/incidents/a1b2c3", "incident.created", False),
            (f"cc/events/cases/{CASE['id']}", "case.created", False),
        ]
        assert got[1][1]["case"]["urgency"] == "immediate"
        c = exporter.counters
        assert (c.queued, c.published, c.skipped, c.dropped) == (2, 2, 1, 0)

    run(scenario)


def test_retained_last_state_reaches_a_later_mosquitto_sub(broker: Broker) -> None:
    async def scenario() -> None:
        bus = MemoryBus()
        prefix = f"t{uuid.uuid4().hex[:6]}/events"
        exporter = Exporter(config(broker.port, retain=True, prefix=prefix))
        task = asyncio.create_task(exporter.run(exporter.subscribe(bus)))
        await asyncio.wait_for(exporter.connected.wait(), 10)
        await bus.publish(Event("cases", "case.created", CASE))
        await bus.publish(Event("cases", "case.updated", {**CASE, "state": "accepted", "version": 3}))
        await until(lambda: exporter.counters.published == 2)
        await stop(task)
        sub = broker.subscribe(f"{prefix}/cases/+", count=1, wait_s=5)  # after the fact: the retained state
        out, _ = await asyncio.to_thread(sub.communicate)
        topic, _, payload = out.strip().partition(" ")
        assert topic == f"{prefix}/cases/{CASE['id']}"
        assert json.loads(payload)["case"]["state"] == "accepted"

    run(scenario)


def test_events_wait_for_a_broker_that_is_down_and_the_oldest_are_dropped(tmp_path: Path) -> None:
    """Buffer of 3, broker down, 5 incidents: 2 dropped and counted; once the broker is up
        the 3 newest go out (retained here, so a subscriber started after finds them); a broker
    lost later is noticed and an event of meanwhile goes out after the reconnect."""
    down = Broker(tmp_path)

    async def scenario() -> None:
        bus = MemoryBus()
        exporter = Exporter(config(down.port, buffer=3, retain=True))
        task = asyncio.create_task(exporter.run(exporter.subscribe(bus)))
        for i in range(5):
            await bus.publish(Event("incidents", "incident.created", {**INCIDENT, "id": f"inc{i}"}))
        await until(lambda: exporter.counters.queued == 5 and exporter.counters.reconnects >= 2)
        assert not exporter.counters.connected and exporter.counters.last_error
        assert (exporter.counters.dropped, exporter.counters.buffered, exporter.counters.published) == (
            2,
            3,
            0,
        )
        down.start()
        await until(lambda: exporter.counters.published == 3)
        # lost while idle: noticed, and what comes meanwhile goes out after the reconnect
        down.stop()
        await until(lambda: not exporter.counters.connected)
        await bus.publish(Event("incidents", "incident.updated", {**INCIDENT, "id": "inc5"}))
        down.start()
        await until(lambda: exporter.counters.published == 4)
        await stop(task)
        sub = down.subscribe("cc/events/incidents/+", count=4, wait_s=5)
        out, _ = await asyncio.to_thread(sub.communicate)
        topics = sorted(line.split(" ", 1)[0] for line in out.splitlines())
        assert topics == [f"cc/events/incidents/inc{i}" for i in (2, 3, 4, 5)]
        assert (exporter.counters.buffered, exporter.counters.connects) == (0, 2)

    try:
        run(scenario)
    finally:
        down.stop()
