"""The Redis Streams bus against a real Redis: groups, acknowledgement, reclaim after a
consumer dies, bounded streams, a Redis restart with publishes buffered across it, and
the runtime turning an incident into a case over it.

Uses the Redis at 127.0.0.1:6379 with a key prefix of its own per test (deleted after);
the restart test starts and kills a redis-server of its own on a free loopback port.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from command_center.bus import BusUnavailable, create_bus
from command_center.bus.dedupe import Deduped, SeenIds
from command_center.bus.redis_streams import RedisBus
from command_center.bus.redis_subscription import RedisSubscription
from command_center.events import Event
from tests.helpers import REDIS, build_runtime, free_port

FAST = "block_ms=200&backoff_max_s=0.2"  # short blocking reads and retries keep the tests quick


def _reachable(url: str) -> str | None:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        return f"{exc}"
    return None


def url(prefix: str, extra: str = "") -> str:
    return f"{REDIS}?prefix={prefix}&{FAST}" + (f"&{extra}" if extra else "")


def make_bus(prefix: str, extra: str = "") -> RedisBus:
    bus = create_bus(url(prefix, extra))
    assert isinstance(bus, RedisBus)
    return bus


def events(n: int, topic: str = "incidents", start: int = 0) -> list[Event]:
    return [Event(topic, "incident.created", {"n": i, "text": "占道经营"}) for i in range(start, start + n)]


class Reader:
    """Drives a subscription from a test: take n events, one `anext` at a time (so the
    subscription sees the consumer come back for more, as a consumer loop would)."""

    def __init__(self, sub: Any) -> None:
        self.sub = sub
        self.it: AsyncIterator[Event] = sub.__aiter__()
        self.got: list[Event] = []

    async def take(self, n: int, timeout: float = 10.0) -> list[Event]:
        async def run() -> list[Event]:
            out = [await anext(self.it) for _ in range(n)]
            self.got.extend(out)
            return out

        return await asyncio.wait_for(run(), timeout)

    async def drain(self, until: float) -> None:
        """Keep taking until cancelled or `until` events were taken in all."""
        while len(self.got) < until:
            self.got.append(await anext(self.it))


def pending(prefix: str, group: str, topic: str = "incidents") -> int:
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    try:
        return int(client.xpending(f"{prefix}:stream:{topic}", group)["pending"])
    finally:
        client.close()


def consumed(prefix: str, group: str, topic: str = "incidents") -> bool:
    """The group has read and acknowledged everything in the stream."""
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    try:
        last = client.xinfo_stream(f"{prefix}:stream:{topic}")["last-generated-id"]
        info = next(g for g in client.xinfo_groups(f"{prefix}:stream:{topic}") if g["name"] == group)
        return bool(info["last-delivered-id"] == last and info["pending"] == 0)
    finally:
        client.close()


async def eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


# ----------------------------------------------------------------------------- config


def test_bus_urls_are_checked_at_config_time_and_passwords_never_shown() -> None:
    from command_center.config import ConfigError, parse_config

    assert parse_config({"bus": "redis://127.0.0.1:6379/0?prefix=cc&maxlen=1000"}).bus.startswith("redis://")
    assert parse_config({"bus": "rediss://cache.example:6380/1"}).bus.startswith("rediss://")
    for bad, reason in (
        ("redis://127.0.0.1:port/0", "malformed redis URL"),
        ("redis://127.0.0.1:6379/zero", "database number"),
        ("redis://127.0.0.1:6379/0?maxlen=0", "maxlen"),
        ("redis://127.0.0.1:6379/0?colour=blue", "unknown option 'colour'"),
        ("redis://:hunter2@127.0.0.1:x/0", "***"),
        ("kafka://x", "expected 'memory' or redis://"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_config({"bus": bad})
        (error,) = info.value.errors
        assert error.startswith("<config>: bus: ") and reason in error and "hunter2" not in error, error


# ----------------------------------------------------------------------------- delivery


def test_round_trip_keeps_id_type_data_and_acks_when_the_consumer_comes_back(prefix: str) -> None:
    async def scenario() -> None:
        bus = make_bus(prefix)
        await bus.start()
        sub = bus.subscribe(["incidents"], "dispatcher")
        sent = events(3)
        for e in sent:
            await bus.publish(e)
        reader = Reader(sub)
        got = await reader.take(3)
        assert [(e.id, e.topic, e.type, e.data, e.ts) for e in got] == [
            (e.id, e.topic, e.type, e.data, e.ts) for e in sent
        ]
        assert pending(prefix, "dispatcher") == 3  # handed out, none finished yet
        more = asyncio.create_task(reader.take(1))  # coming back for more finishes them
        await eventually(lambda: pending(prefix, "dispatcher") == 0)
        more.cancel()
        assert bus.stats.published == 3 and bus.stats.acked == 3 and bus.stats.delivered == 3
        await bus.close()

    asyncio.run(scenario())


def test_explicit_ack_and_manual_mode(prefix: str) -> None:
    async def scenario() -> None:
        bus = make_bus(prefix)
        await bus.start()
        sub = bus.subscribe(["incidents"], "dispatcher")
        sub.auto_ack = False
        for e in events(2):
            await bus.publish(e)
        reader = Reader(sub)
        first, second = await reader.take(2)
        await sub.ack(first)
        assert pending(prefix, "dispatcher") == 1
        more = asyncio.create_task(reader.take(1))
        await asyncio.sleep(0.3)  # came back for more: still pending, as acking is manual
        assert pending(prefix, "dispatcher") == 1
        await sub.ack(second)
        assert pending(prefix, "dispatcher") == 0
        more.cancel()
        await bus.close()

    asyncio.run(scenario())


def test_two_consumers_of_one_group_share_the_events(prefix: str) -> None:
    async def scenario() -> None:
        one, two = make_bus(prefix, "batch=1"), make_bus(prefix, "batch=1")  # two processes
        for bus in (one, two):
            await bus.start()
        readers = [
            Reader(one.subscribe(["incidents"], "dispatcher")),
            Reader(two.subscribe(["incidents"], "dispatcher")),
        ]
        tasks = [asyncio.create_task(r.drain(40)) for r in readers]
        await asyncio.sleep(0.3)  # both blocked in XREADGROUP
        sent = events(40)
        for e in sent:
            await one.publish(e)
        await eventually(lambda: sum(len(r.got) for r in readers) == 40)
        for t in tasks:
            t.cancel()
        ids = [[e.id for e in r.got] for r in readers]
        assert sorted(ids[0] + ids[1]) == sorted(e.id for e in sent)  # each event to exactly one
        assert ids[0] and ids[1], [len(i) for i in ids]
        for bus in (one, two):
            await bus.close()

    asyncio.run(scenario())


def test_each_group_sees_every_event_and_fanout_names_get_a_group_per_process(prefix: str) -> None:
    async def scenario() -> None:
        one, two = make_bus(prefix), make_bus(prefix)
        for bus in (one, two):
            await bus.start()
        subs = [
            one.subscribe(["incidents", "cases"], "dispatcher"),
            one.subscribe(["incidents", "cases"], "audit"),
            one.subscribe(["incidents", "cases"], "hub"),
            two.subscribe(["incidents", "cases"], "hub"),
        ]
        readers = [Reader(s) for s in subs]
        await one.ready()  # another process's fan-out group starts at "$": let it exist first
        sent = events(5) + events(5, topic="cases")
        for e in sent:
            await two.publish(e)
        for r in readers:
            got = await r.take(10)
            assert sorted(e.id for e in got) == sorted(e.id for e in sent)
        hubs = [s for s in subs if s.name == "hub"]
        assert isinstance(hubs[0], RedisSubscription) and hubs[0].group != hubs[1].group
        client = redis.Redis.from_url(REDIS, decode_responses=True)
        groups = {g["name"] for g in client.xinfo_groups(f"{prefix}:stream:incidents")}
        assert {"dispatcher", "audit", hubs[0].group, hubs[1].group} == groups
        for bus in (one, two):
            await bus.close()
        # A fan-out group lives as long as its process; shared groups keep their position.
        assert {g["name"] for g in client.xinfo_groups(f"{prefix}:stream:incidents")} == {
            "dispatcher",
            "audit",
        }
        client.close()

    asyncio.run(scenario())


def test_a_fanout_group_starts_with_what_comes_next_and_a_shared_one_with_all_kept(prefix: str) -> None:
    async def scenario() -> None:
        bus = make_bus(prefix)
        await bus.start()
        early = events(2)
        for e in early:
            await bus.publish(e)  # before anyone subscribed: kept for the dispatcher
        hub, dispatcher = (
            Reader(bus.subscribe(["incidents"], "hub")),
            Reader(bus.subscribe(["incidents"], "dispatcher")),
        )
        late = events(1, start=2)
        await bus.publish(late[0])  # right after subscribing: the hub must not miss it
        assert [e.id for e in await hub.take(1)] == [late[0].id]
        assert [e.id for e in await dispatcher.take(3)] == [e.id for e in early + late]
        await bus.close()

    asyncio.run(scenario())


# ----------------------------------------------------------------------------- failures


def test_a_dead_consumers_events_are_reclaimed_and_deduped_to_exactly_once(prefix: str) -> None:
    async def scenario() -> None:
        extra = "reclaim_idle_s=0.3&reclaim_every_s=0.1"
        dying, survivor = make_bus(prefix, extra), make_bus(prefix, extra)
        for bus in (dying, survivor):
            await bus.start()
        handled: list[str] = []
        done = SeenIds()  # stands for the store: "did I already write this event's effect?"

        def handle(event: Event) -> None:
            if event.id in done:
                return
            handled.append(event.id)
            done.add(event.id)  # only after the work: a crash before it means "do it again"

        doomed = Reader(dying.subscribe(["incidents"], "dispatcher"))
        sent = events(6)
        for e in sent:
            await survivor.publish(e)
        for event in await doomed.take(3):  # reads all 6 ahead, hands out 3...
            if len(handled) < 2:
                handle(event)  # ...finishes 2, and dies holding the third
        assert pending(prefix, "dispatcher") == 6

        taker = Reader(survivor.subscribe(["incidents"], "dispatcher"))
        redelivered = await taker.take(6)
        for event in redelivered:
            handle(event)
        assert sorted(e.id for e in redelivered) == sorted(e.id for e in sent)
        assert sorted(handled) == sorted(e.id for e in sent)  # each handled exactly once
        assert survivor.stats.redelivered == 6
        more = asyncio.create_task(taker.take(1))
        await eventually(lambda: pending(prefix, "dispatcher") == 0)
        more.cancel()
        for bus in (dying, survivor):
            await bus.close()

    asyncio.run(scenario())


def test_deduped_hands_a_repeated_event_out_once_and_seen_ids_stay_bounded(prefix: str) -> None:
    seen = SeenIds(capacity=3)
    assert [seen.add(k) for k in "abca"] == [True, True, True, False]
    seen.add("d")  # "b" is now the oldest and goes
    assert len(seen) == 3 and "b" not in seen and "a" in seen

    async def scenario() -> None:
        bus = make_bus(prefix)
        await bus.start()
        sub = Deduped(bus.subscribe(["incidents"], "dispatcher"))
        twice, other = events(2)
        for e in (twice, twice, other):  # the same event sent again, as after a lost reply
            await bus.publish(e)
        got = await Reader(sub).take(2)
        assert [e.id for e in got] == [twice.id, other.id] and sub.duplicates == 1
        await bus.close()

    asyncio.run(scenario())


def test_streams_stay_bounded_and_trimmed_pending_entries_are_counted(prefix: str) -> None:
    async def scenario() -> None:
        bus = make_bus(prefix, "maxlen=20&batch=5&reclaim_idle_s=0")
        await bus.start()
        early = Reader(bus.subscribe(["incidents"], "dispatcher"))
        for e in events(5):
            await bus.publish(e)
        await early.take(1)  # 5 read ahead, pending, never acknowledged
        for e in events(600, start=5):
            await bus.publish(e)
        client = redis.Redis.from_url(REDIS)
        length = client.xlen(f"{prefix}:stream:incidents")
        client.close()
        # `MAXLEN ~` trims whole nodes of up to 100 entries (stream-node-max-entries).
        assert length <= 20 + 100, length
        other = bus.subscribe(["incidents"], "dispatcher")
        await other._ensure_groups()
        await other._reclaim()
        assert bus.stats.trimmed_unacked == 5  # trimmed before acknowledged: said, not hidden
        await bus.close()

    asyncio.run(scenario())


class RedisServer:
    """A redis-server of the test's own, to kill and restart (no persistence, like ours)."""

    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while _reachable(self.url) is not None:
            assert time.monotonic() < deadline and self.proc.poll() is None, "redis-server did not start"
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


def test_publishes_during_a_redis_restart_are_buffered_then_delivered_in_order(
    own_redis: RedisServer,
) -> None:
    async def scenario() -> None:
        bus = create_bus(f"{own_redis.url}?prefix=restart&buffer=5&{FAST}")
        assert isinstance(bus, RedisBus)
        await bus.start()
        reader = Reader(bus.subscribe(["incidents"], "dispatcher"))
        before = events(2)
        for e in before:
            await bus.publish(e)
        assert [e.id for e in await reader.take(2)] == [e.id for e in before]

        waiting = asyncio.create_task(reader.take(5, timeout=20))  # blocked in a read as Redis dies
        await asyncio.sleep(0.1)
        own_redis.kill()
        during = events(5, start=2)
        for e in during:
            await bus.publish(e)  # buffered, not raised, not dropped
        assert bus.stats.buffered == 5 and not bus.connected
        with pytest.raises(BusUnavailable, match="buffer=5"):
            await bus.publish(events(1, start=7)[0])
        assert bus.stats.rejected == 1

        await asyncio.sleep(0.5)  # the reader retries meanwhile
        await asyncio.to_thread(own_redis.start)
        got = await waiting
        assert [e.id for e in got] == [e.id for e in during]  # in publish order
        assert bus.connected and bus.stats.buffered == 0 and bus.stats.published == 7
        assert bus.stats.reconnects >= 2  # the publisher and the reader each came back
        after = events(1, start=8)
        await bus.publish(after[0])
        assert [e.id for e in await reader.take(1)] == [after[0].id]
        await bus.close()

    asyncio.run(scenario())


def test_a_bus_started_while_redis_is_down_buffers_until_it_comes(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)  # not started yet

    async def scenario() -> None:
        bus = create_bus(f"{server.url}?prefix=late&{FAST}")
        assert isinstance(bus, RedisBus)
        await bus.start()  # does not raise: the runtime starts, events wait
        reader = Reader(bus.subscribe(["incidents"], "dispatcher"))
        sent = events(3)
        for e in sent:
            await bus.publish(e)
        assert bus.stats.buffered == 3
        await asyncio.to_thread(server.start)
        assert [e.id for e in await reader.take(3, timeout=15)] == [e.id for e in sent]
        await bus.close()

    try:
        asyncio.run(scenario())
    finally:
        server.kill()


# ----------------------------------------------------------------------------- runtime


def test_the_runtime_turns_an_incident_into_a_case_over_redis(
    prefix: str, tmp_path: Path, small_city: Any
) -> None:
    import cv2
    import numpy as np

    from command_center.config import parse_config
    from vision.incident import Incident

    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "bus": url(prefix),
        }
    )
    rt = build_runtime(config, city=small_city)
    grid = small_city.grids[len(small_city.grids) // 2]
    jpeg = cv2.imencode(".jpg", np.full((32, 32, 3), 90, np.uint8))[1].tobytes()

    async def scenario() -> None:
        await rt.start()
        try:
            incident = Incident(
                "cam-r",
                time.time(),
                "illegal_parking",
                "z",
                "vehicle",
                0.9,
                (1, 2, 3, 4),
                grid.lon,
                grid.lat,
                1,
                jpeg,
            )
            doc = await rt.recorder.record(incident)
            await eventually(lambda: (rt.store.get_incident(doc["id"]) or {}).get("case_id") is not None)
            case_id = rt.store.get_incident(doc["id"])["case_id"]  # type: ignore[index]
            await eventually(
                lambda: rt.hub.channels["cases"].seq >= 1 if "cases" in rt.hub.channels else False
            )

            # A redelivery of the same incident (a consumer died before acknowledging it)
            # makes no second case and does not touch the first: the intake skips an
            # incident whose case is already stored, and announces that case again.
            version = rt.store.get_case(case_id).version  # type: ignore[union-attr]
            await rt.bus.publish(Event("incidents", "incident.created", doc))
            await eventually(lambda: rt.jobs.counters["incidents_redelivered"] == 1)
            await eventually(lambda: consumed(prefix, "dispatcher"))
            cases = [c.id for c in rt.store.list_cases(_all_cases())[0]]
            assert cases == [case_id]
            assert rt.store.get_case(case_id).version == version  # type: ignore[union-attr]
        finally:
            await rt.stop()
        assert pending(prefix, "dispatcher") == 0

    asyncio.run(scenario())


def _all_cases() -> Any:
    from command_center.store import CaseQuery

    return CaseQuery(limit=100)
