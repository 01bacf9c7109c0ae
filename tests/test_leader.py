"""Singleton jobs (leader election) across nodes against a real Redis: one leader at a time, a handover when
it stops or loses its lease, a restart when the job fails; and two runtimes on one Redis
bus sweep their cases from one node only."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import redis.asyncio as aredis

from command_center.config import parse_config
from command_center.leader import LeaderElection, leader_key
from command_center.leases import LeaseSettings
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import REDIS, build_runtime

FAST = LeaseSettings(ttl_s=1.0, heartbeat_s=0.2, scan_s=0.1)


class Runs:
    """Which node runs the job now, and every start; fails on two at once."""

    def __init__(self) -> None:
        self.now: set[str] = set()
        self.starts: list[str] = []
        self.overlaps = 0

    def job(self, node: str, fail_after: float | None = None):  # noqa: ANN201
        async def run() -> None:
            self.overlaps += bool(self.now)
            self.now.add(node)
            self.starts.append(node)
            try:
                if fail_after is not None:
                    await asyncio.sleep(fail_after)
                    raise RuntimeError("the job broke")
                await asyncio.Event().wait()
            finally:
                self.now.discard(node)

        return run


async def until(check, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_one_node_leads_and_another_takes_over(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        runs = Runs()
        nodes = {n: LeaderElection(client, prefix, n, "sweep", FAST) for n in ("a", "b", "c")}
        tasks = {n: asyncio.create_task(s.run(runs.job(n))) for n, s in nodes.items()}
        try:
            await until(lambda: runs.now, 2, "a leader")
            await asyncio.sleep(1.5)  # several heartbeats and scans: still one, the same one
            first = next(iter(runs.now))
            assert runs.starts == [first] and await client.get(leader_key(prefix, "sweep")) == first

            # A clean stop hands over at once (the key is released), not after the TTL.
            stopped = time.monotonic()
            tasks.pop(first).cancel()
            await until(lambda: runs.now and first not in runs.now, 2, "a new leader")
            assert time.monotonic() - stopped < FAST.ttl_s
            second = next(iter(runs.now))

            # The lease taken from under the leader (say a long pause let it expire): it
            # steps down at its next renewal; whoever holds the key leads.
            await client.set(leader_key(prefix, "sweep"), "someone-else", px=600)
            await until(lambda: not runs.now, 2, "the leader to step down")
            await until(lambda: runs.now, 2, "a leader after the stolen lease expired")
            assert runs.overlaps == 0 and runs.starts[:2] == [first, second]
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            await client.aclose()

    asyncio.run(scenario())


def test_a_failed_job_is_started_again(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        runs = Runs()
        node = LeaderElection(client, prefix, "a", "sweep", FAST)
        task = asyncio.create_task(node.run(runs.job("a", fail_after=0.1)))
        try:
            await until(lambda: len(runs.starts) >= 3, 3, "the job to be started again")
            assert node.terms >= 3
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.aclose()
        assert await aredis.Redis.from_url(REDIS).get(leader_key(prefix, "sweep")) is None  # released

    asyncio.run(scenario())


class SwallowingRedis:
    """A real client whose SET loses a cancellation that lands inside it, as redis-py's
    asyncio client sometimes does (issues #2028, #2551): the command returns normally."""

    def __init__(self, client: aredis.Redis) -> None:
        self.client = client
        self.swallowed = 0

    def register_script(self, script: str):  # noqa: ANN201
        return self.client.register_script(script)

    async def set(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        try:
            await asyncio.sleep(0.05)  # the window a cancellation lands in (the real one is shorter)
            return await self.client.set(*args, **kwargs)
        except asyncio.CancelledError:
            self.swallowed += 1
            return False


def test_a_waiting_node_stops_even_when_redis_swallows_the_cancellation(prefix: str) -> None:
    async def scenario() -> None:
        client = aredis.Redis.from_url(REDIS, decode_responses=True)
        await client.set(leader_key(prefix, "sweep"), "the-leader", px=30_000)  # someone else leads
        swallowing = SwallowingRedis(client)
        # A short scan: the node spends nearly all its time inside SET, where the cancel lands.
        node = LeaderElection(
            swallowing, prefix, "b", "sweep", LeaseSettings(ttl_s=1.0, heartbeat_s=0.2, scan_s=0.001)
        )
        try:
            for _ in range(10):
                task = asyncio.create_task(node.run(Runs().job("b")))
                await asyncio.sleep(0.12)
                task.cancel()
                done, _ = await asyncio.wait({task}, timeout=2)
                assert done, "the node went on polling after its cancellation was swallowed"
                if swallowing.swallowed:
                    break
            assert swallowing.swallowed, "no cancellation landed inside SET"
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_a_job_that_ignores_its_cancellation_does_not_hang_the_stop(caplog) -> None:  # noqa: ANN001
    from command_center.bus.memory import MemoryBus
    from command_center.jobs import Jobs

    let_go = asyncio.Event()

    async def stubborn() -> None:
        while not let_go.is_set():
            try:
                await asyncio.sleep(0.1)
            except asyncio.CancelledError:
                continue  # a broken job: ends only when the test lets it

    async def scenario() -> None:
        jobs = Jobs(MemoryBus())
        jobs.stop_wait_s = 0.3
        jobs.add("stubborn", stubborn)
        jobs.start()
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await jobs.stop()
        assert time.monotonic() - started < 2
        let_go.set()

    asyncio.run(scenario())
    assert "stubborn" in caplog.text


def test_two_runtimes_on_one_redis_bus_sweep_from_one_node(
    prefix: str, tmp_path: Path, small_city: City
) -> None:
    def runtime(name: str) -> Runtime:
        config = parse_config(
            {
                "server": {"data_dir": str(tmp_path / name)},
                "store": f"sqlite:///{tmp_path / 'shared.db'}",
                "bus": f"{REDIS}?prefix={prefix}",
                "dispatch": {"supervise_every_s": 0.1},
            }
        )
        return build_runtime(config, city=small_city)

    async def scenario() -> None:
        nodes = [runtime("a"), runtime("b")]
        sweeps = {id(rt): 0 for rt in nodes}
        for rt in nodes:
            real = rt.casework.supervise_once

            async def counted(rt: Runtime = rt, real=real) -> int:  # noqa: ANN001
                sweeps[id(rt)] += 1
                return await real()

            rt.casework.supervise_once = counted  # type: ignore[method-assign]
        for rt in nodes:
            await rt.start()
        try:
            await asyncio.sleep(1.5)
            assert sorted(sweeps.values())[0] == 0 and sorted(sweeps.values())[1] >= 5  # one node sweeps
            leader = next(rt for rt in nodes if sweeps[id(rt)])
            other = next(rt for rt in nodes if rt is not leader)
            await leader.stop()
            before = sweeps[id(other)]
            await asyncio.sleep(1.5)
            assert sweeps[id(other)] >= before + 5  # the other node took over
        finally:
            for rt in nodes:
                await rt.stop()

    asyncio.run(scenario())
