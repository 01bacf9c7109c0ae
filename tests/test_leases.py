"""Camera leases against a real Redis: a fair spread, no camera watched twice, takeover
after a worker dies, immediate handover on a clean stop.

Uses the Redis at 127.0.0.1:6379 with a key prefix of its own per test (deleted after).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import redis.asyncio as aredis

from command_center.leases import LeaseManager, LeaseSettings, clear, holdings, owners
from dispatch.city import City
from tests.helpers import REDIS, build_runtime

CAMERAS = [f"cam-{i:02d}" for i in range(12)]
FAST = LeaseSettings(ttl_s=3.0, heartbeat_s=0.5, scan_s=0.5)


class Watching:
    """What each worker is watching, as its camera hooks report it; fails on a double watch."""

    def __init__(self) -> None:
        self.by: dict[str, str] = {}
        self.doubles: list[tuple[str, str, str]] = []

    def hooks(self, worker: str) -> tuple:
        async def start(cam: str) -> None:
            if cam in self.by:
                self.doubles.append((cam, self.by[cam], worker))
            self.by[cam] = worker

        async def stop(cam: str) -> None:
            if self.by.get(cam) == worker:
                del self.by[cam]

        return start, stop

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for worker in self.by.values():
            out[worker] = out.get(worker, 0) + 1
        return out


def manager(client: aredis.Redis, prefix: str, name: str, watching: Watching, settings: LeaseSettings = FAST) -> LeaseManager:
    start, stop = watching.hooks(name)
    return LeaseManager(client, prefix, name, CAMERAS, start, stop, settings)


async def until(check, timeout: float) -> float:  # type: ignore[no-untyped-def]
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - began


def balanced(watching: Watching, workers: list[str]) -> bool:
    counts = watching.counts()
    return len(watching.by) == len(CAMERAS) and all(counts.get(w) == len(CAMERAS) // len(workers) for w in workers)


def test_three_workers_share_twelve_cameras_fairly_and_never_twice(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        watching = Watching()
        names = ["w1", "w2", "w3"]
        managers = [manager(client, prefix, n, watching) for n in names]
        try:
            for m in managers:
                await m.start()
            await until(lambda: balanced(watching, names), 15)
            held = await owners(client, prefix, CAMERAS)
            assert held == {cam: w for cam, w in watching.by.items()}
            assert {w: sorted(c) for w, c in (await holdings(client, prefix)).items()} == {
                m.worker_id: sorted(m.held) for m in managers
            }
            await asyncio.sleep(2 * FAST.ttl_s)  # renewals keep them where they are
            assert balanced(watching, names) and await owners(client, prefix, CAMERAS) == held
        finally:
            for m in managers:
                await m.stop()
            assert await owners(client, prefix, CAMERAS) == dict.fromkeys(CAMERAS)
            await client.aclose()
        assert watching.doubles == []

    asyncio.run(scenario())


def test_a_dead_workers_cameras_are_taken_over_within_ten_seconds(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        watching = Watching()
        settings = LeaseSettings()  # the defaults: ttl 5 s, heartbeat and scan every second
        managers = [manager(client, prefix, n, watching, settings) for n in ("w1", "w2", "w3")]
        try:
            for m in managers:
                await m.start()
            await until(lambda: balanced(watching, ["w1", "w2", "w3"]), 15)
            dead = managers[0]
            orphans = set(dead.held)
            await dead.abandon()  # no renewals, no release: as if killed
            # The dead worker's hooks are gone with it; what it watched is nobody's now.
            for cam in orphans:
                watching.by.pop(cam)
            took = await until(lambda: balanced(watching, ["w2", "w3"]), 10)
            assert set(managers[1].held) | set(managers[2].held) == set(CAMERAS)
            print(f"takeover of {len(orphans)} cameras in {took:.1f} s")
            # Never before the dead worker's lease could have expired.
            assert took >= settings.ttl_s - settings.heartbeat_s - 0.5
        finally:
            for m in managers[1:]:
                await m.stop()
            await clear(client, prefix)
            await client.aclose()
        assert watching.doubles == []

    asyncio.run(scenario())


def test_a_clean_stop_hands_over_at_once_and_a_new_worker_gets_its_share(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        watching = Watching()
        settings = LeaseSettings(ttl_s=30.0, heartbeat_s=0.5, scan_s=0.5)  # a long TTL: expiry cannot be what helps
        a, b = manager(client, prefix, "a", watching, settings), manager(client, prefix, "b", watching, settings)
        try:
            await a.start()
            await until(lambda: len(watching.by) == len(CAMERAS), 5)
            await b.start()  # joins late: a gives cameras back until both hold half
            await until(lambda: balanced(watching, ["a", "b"]), 15)
            await a.stop()
            took = await until(lambda: watching.counts() == {"b": len(CAMERAS)}, 5)
            assert took < settings.ttl_s / 5
        finally:
            await a.stop()
            await b.stop()
            await client.aclose()
        assert watching.doubles == []

    asyncio.run(scenario())


def test_only_the_owner_renews_or_releases(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        watching = Watching()
        a = manager(client, prefix, "a", watching)
        try:
            await a.start()
            await until(lambda: len(a.held) == len(CAMERAS), 5)
            # Someone else's lease now (as after an expiry and a takeover): a must let go, not renew it.
            await client.set(f"{prefix}:lease:cam-00", "other", px=60_000)
            await until(lambda: "cam-00" not in a.held, 3)
            assert await client.get(f"{prefix}:lease:cam-00") == "other"
            assert "cam-00" not in watching.by
            await a.stop()
            assert await client.get(f"{prefix}:lease:cam-00") == "other"  # its release leaves others' leases alone
        finally:
            await a.stop()
            await client.aclose()

    asyncio.run(scenario())


def test_a_worker_whose_renewals_hang_stops_its_cameras_before_the_leases_lapse(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        watching = Watching()
        a = manager(client, prefix, "a", watching)
        try:
            await a.start()
            await until(lambda: len(watching.by) == len(CAMERAS), 5)

            async def hang(**_: object) -> list[int]:  # Redis answers nothing, as if the link died
                await asyncio.sleep(3600)
                return []

            a._renew = hang
            renewed = max(a.held.values())
            await until(lambda: not watching.by, FAST.ttl_s + 1)
            stopped_after = time.monotonic() - renewed
            assert stopped_after < FAST.ttl_s, stopped_after  # before Redis could hand any of them on
            remaining = [await client.pttl(f"{prefix}:lease:{c}") for c in CAMERAS]
            assert all(ms > 0 for ms in remaining)  # the leases themselves are still there: stopped first
        finally:
            await a.abandon()
            await client.aclose()

    asyncio.run(scenario())


@pytest.mark.slow
def test_worker_processes_share_cameras_and_take_over_from_a_killed_one(prefix: str, tmp_path: Path) -> None:
    """Three `command-center worker` processes on twelve simulated cameras; one is killed
    with SIGKILL and the other two hold all its cameras within 10 s, never one camera twice."""
    cams = "\n".join(
        f"  - {{id: {c}, kind: sim, url: 'sim://street?seed={i}&width=64&height=64', fps: 1,"
        f" location: {{lon: 113.3, lat: 23.1}}}}"
        for i, c in enumerate(CAMERAS)
    )
    config = tmp_path / "workers.yaml"
    config.write_text(
        f"server: {{data_dir: {tmp_path / 'var'}}}\n"
        f"store: sqlite:///{tmp_path / 'var' / 'cc.db'}\n"
        f"bus: {REDIS}?prefix={prefix}\n"
        "city: {generator: {seed: 7, districts: 1}}\n"
        "detector: {backend: motion}\n"  # no model: the test measures leases, not inference
        "sharding: {enabled: true, lease_ttl_s: 5, heartbeat_s: 1, scan_s: 1}\n"
        f"cameras:\n{cams}\n",
        encoding="utf-8",
    )
    names = ["p1", "p2", "p3"]
    procs = {
        n: subprocess.Popen(
            [sys.executable, "-m", "command_center", "worker", "--config", str(config), "--id", n],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / f"{n}.log").open("wb"),
        )
        for n in names
    }
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    doubles: list[dict[str, list[str]]] = []

    def snapshot(live: list[str]) -> dict[str, list[str]]:
        """Each live worker's holdings, read in one round trip; any camera in two is recorded."""
        docs = client.mget([f"{prefix}:worker:{n}" for n in live])
        held = {n: json.loads(d)["cameras"] for n, d in zip(live, docs, strict=True) if d}
        cams = [c for h in held.values() for c in h]
        if len(cams) != len(set(cams)):
            doubles.append(held)
        return held

    def wait(live: list[str], timeout: float) -> float:
        began = time.monotonic()
        while True:
            held = snapshot(live)
            counts = sorted(len(h) for h in held.values())
            if len(held) == len(live) and sum(counts) == len(CAMERAS) and counts[-1] - counts[0] <= 1:
                return time.monotonic() - began
            for n in live:
                assert procs[n].poll() is None, (tmp_path / f"{n}.log").read_text()[-2000:]
            assert time.monotonic() - began < timeout, f"holdings {held} after {timeout} s"
            time.sleep(0.1)

    try:
        wait(names, 90)  # each process builds its runtime first (a few seconds on a busy machine)
        victim = max(names, key=lambda n: len(snapshot(names)[n]))
        orphans = set(snapshot(names)[victim])
        procs[victim].send_signal(signal.SIGKILL)
        procs[victim].wait(10)
        rest = [n for n in names if n != victim]
        took = wait(rest, 10)
        held = snapshot(rest)
        assert orphans <= {c for h in held.values() for c in h}
        owners_now = client.mget([f"{prefix}:lease:{c}" for c in CAMERAS])
        assert set(owners_now) <= set(rest)
        print(f"{len(orphans)} cameras of the killed worker taken over in {took:.1f} s")
        assert took < 10
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        client.close()
    assert doubles == []
    # Clean stops gave everything back at once; only the killed worker's liveness key may linger.
    assert all(v is None for v in redis.Redis.from_url(REDIS).mget([f"{prefix}:lease:{c}" for c in CAMERAS]))


def test_worker_refuses_the_memory_bus_and_sharding_needs_redis(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from command_center.cli import main
    from command_center.config import ConfigError, parse_config

    config = tmp_path / "memory.yaml"
    config.write_text(
        "bus: memory\ndetector: {backend: motion}\n"
        "cameras: [{id: a, kind: sim, url: 'sim://street', location: {lon: 113.3, lat: 23.1}}]\n",
        encoding="utf-8",
    )
    assert main(["worker", "--config", str(config)]) == 2
    assert "needs a shared bus" in capsys.readouterr().err
    with pytest.raises(ConfigError) as err:
        parse_config({"bus": "memory", "sharding": {"enabled": True}})
    assert "sharding.enabled needs a shared bus" in "\n".join(err.value.errors)
    with pytest.raises(ConfigError) as err:
        parse_config({"sharding": {"lease_ttl_s": 2, "heartbeat_s": 1}})
    assert "sharding" in "\n".join(err.value.errors)


def test_a_worker_runtime_starts_stops_and_restarts_one_camera(prefix: str, tmp_path: Path, small_city: City) -> None:
    from command_center.config import parse_config
    from command_center.runtime import Runtime

    cam = {"kind": "sim", "url": "sim://street?seed=3&width=64&height=64", "fps": 5, "location": {"lon": 113.3, "lat": 23.1}}
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "bus": f"{REDIS}?prefix={prefix}",
            "detector": {"backend": "motion"},
            "sharding": {"enabled": True},
            "cameras": [{**cam, "id": "a"}, {**cam, "id": "b"}],
        }
    )

    async def frames_grow(rt: Runtime, cam_id: str) -> bool:
        before = rt.cameras.pipelines[cam_id].frames
        await asyncio.sleep(1.0)
        return rt.cameras.pipelines[cam_id].frames > before

    async def scenario() -> None:
        rt = build_runtime(config, city=small_city)
        await rt.start_worker()
        try:
            assert not await frames_grow(rt, "a")  # no lease, no frames
            await rt.cameras.start_camera("a")
            await until(lambda: rt.cameras.pipelines["a"].frames > 0, 10)
            await rt.cameras.stop_camera("a")
            assert not await frames_grow(rt, "a")
            await rt.cameras.start_camera("a")  # a fresh runner numbers frames from 0 again: vision must follow
            assert await frames_grow(rt, "a") or await frames_grow(rt, "a")
            assert rt.cameras.pipelines["b"].frames == 0 and rt.cameras.watched == {"a"}
        finally:
            await rt.stop()

    asyncio.run(scenario())


def test_a_sharded_serve_node_watches_no_camera(prefix: str, tmp_path: Path, small_city: City) -> None:
    from command_center.config import parse_config

    cam = {"kind": "sim", "url": "sim://street?seed=3&width=64&height=64", "fps": 5, "location": {"lon": 113.3, "lat": 23.1}}
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "bus": f"{REDIS}?prefix={prefix}",
            "detector": {"backend": "motion"},
            "sharding": {"enabled": True},
            "cameras": [{**cam, "id": "a"}],
        }
    )

    async def scenario() -> None:
        rt = build_runtime(config, city=small_city)
        await rt.start()
        try:
            await asyncio.sleep(1.0)
            assert rt.cameras.watched == set() and rt.cameras.runners["a"].latest is None and rt.cameras.pipelines["a"].frames == 0
        finally:
            await rt.stop()

    asyncio.run(scenario())


def test_a_changed_camera_set_drops_the_removed_and_claims_the_new(prefix: str) -> None:
    """An admin removes two cameras and adds one (registry/cameras.py → worker.py)."""

    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        watching = Watching()
        one = manager(client, prefix, "w1", watching)
        try:
            await one.start()
            await until(lambda: len(watching.by) == len(CAMERAS), 10)
            wanted = [*CAMERAS[2:], "cam-new"]
            await one.set_cameras(wanted)
            assert set(watching.by) == set(CAMERAS[2:])  # the removed stopped at once
            assert (await owners(client, prefix, CAMERAS[:2])) == dict.fromkeys(CAMERAS[:2])  # and released
            await until(lambda: set(watching.by) == set(wanted), 5)  # the new one claimed at a scan
            assert watching.doubles == []
        finally:
            await one.stop()
            await client.aclose()

    asyncio.run(scenario())
