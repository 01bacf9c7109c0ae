"""Camera leases in Redis: each camera is watched by one detection worker at a time.

Keys (under the bus's prefix):
- `{prefix}:lease:{camera}` = worker id, `SET NX PX ttl`: whoever set it watches the camera.
- `{prefix}:worker:{worker}` = JSON `{"cameras": [...], "pid", "host", "ts"}`, PX ttl: the
  worker is alive, and what it holds (for `serve` and operators to read).

A worker renews its leases every `heartbeat_s` with a compare-and-renew script, so only the
owner can extend or release a lease. It claims unowned cameras up to its fair share
(ceil(cameras ÷ live workers)) every `scan_s`, and gives one back when it holds more than
its share or when another live worker holds fewer than the floor, so a new worker gets
cameras without anyone dying. A worker that cannot renew a lease stops that camera once
`ttl - guard` has passed since its last successful renewal, i.e. before Redis could let
another worker take it: a camera is watched twice only if clocks run that far apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

# Renew only one's own lease: GET then PEXPIRE in one step, so a lease that expired and
# was taken by another worker meanwhile is never extended by the old owner.
RENEW_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""
RELEASE_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

CameraHook = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    ttl_s: float = 5.0
    heartbeat_s: float = 1.0
    scan_s: float = 1.0

    @property
    def guard_s(self) -> float:
        # Stop a camera this long before its lease could expire: one heartbeat's slack for
        # the renewal round trip and the camera's own stop.
        return min(self.heartbeat_s, self.ttl_s / 3)


def lease_key(prefix: str, camera_id: str) -> str:
    return f"{prefix}:lease:{camera_id}"


def worker_key(prefix: str, worker_id: str) -> str:
    return f"{prefix}:worker:{worker_id}"


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{random.randrange(16**4):04x}"


class LeaseManager:
    """Claims, renews and releases camera leases for one worker; starts and stops its
    cameras through `on_acquire` / `on_release`, which run before a claim is announced and
    before a lease is given up."""

    def __init__(
        self,
        redis: Any,  # redis.asyncio.Redis (decode_responses=True)
        prefix: str,
        worker_id: str,
        cameras: Iterable[str],
        on_acquire: CameraHook | None = None,
        on_release: CameraHook | None = None,
        settings: LeaseSettings | None = None,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.worker_id = worker_id
        self.cameras = sorted(set(cameras))
        self.on_acquire = on_acquire
        self.on_release = on_release
        self.settings = settings or LeaseSettings()
        self.held: dict[str, float] = {}  # camera → monotonic time its lease was last set or renewed
        self._renew = redis.register_script(RENEW_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)
        self._tasks: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()  # claims, renewals and releases never interleave
        self.takeovers = 0  # leases claimed after they had been someone else's

    @property
    def ttl_ms(self) -> int:
        return int(self.settings.ttl_s * 1000)

    # lifecycle
    async def start(self) -> None:
        await self._announce()
        self._tasks = [
            asyncio.create_task(self._every(self.settings.heartbeat_s, self.heartbeat), name="lease-heartbeat"),
            asyncio.create_task(self._every(self.settings.scan_s, self.scan), name="lease-scan"),
            # Apart from the heartbeat: a renewal stuck on a hung Redis must not delay fencing.
            asyncio.create_task(self._every(self.settings.guard_s / 4, self._fence), name="lease-fence"),
        ]

    async def stop(self) -> None:
        """Clean stop: every camera stopped, then its lease deleted, so others take it at once."""
        await self._cancel()
        async with self._lock:
            for cam in list(self.held):
                await self._give_up(cam, release=True)
            with contextlib.suppress(Exception):
                await self.redis.delete(worker_key(self.prefix, self.worker_id))

    async def abandon(self) -> None:
        """Stop heartbeating without releasing anything (a crash, for tests): the leases
        and the liveness key stay until their TTL runs out."""
        await self._cancel()

    async def _cancel(self) -> None:
        # Cancelled until done: on Python 3.11, asyncio.wait_for can swallow a cancellation
        # that lands as its inner step finishes, and the loop would go on renewing for ever
        # (a stop that never returned, seen once under load).
        while pending := [task for task in self._tasks if not task.done()]:
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=0.5)
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                task.result()
        self._tasks = []

    async def _every(self, period_s: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                # A hung Redis must not hold the loop past the point where leases need fencing.
                await asyncio.wait_for(step(), timeout=max(period_s, self.settings.ttl_s / 2))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next round tries again; fencing covers the gap
                log.warning("lease %s failed: %s", step.__name__, exc)
            await asyncio.sleep(period_s * random.uniform(0.9, 1.1))

    # one round each
    async def heartbeat(self) -> None:
        async with self._lock:
            if self.held:
                cams = list(self.held)
                sent = time.monotonic()
                kept = await self._renew(keys=[lease_key(self.prefix, c) for c in cams], args=[self.worker_id, self.ttl_ms])
                for cam, ok in zip(cams, kept, strict=True):
                    if ok:
                        self.held[cam] = sent
                    else:
                        log.warning("worker %s lost the lease of camera %s", self.worker_id, cam)
                        await self._give_up(cam, release=False)
            await self._announce()

    async def set_cameras(self, cameras: Iterable[str]) -> None:
        """The camera set changed (an admin added or removed cameras: registry/cameras.py):
        new ones are claimed at the next scans, like any free camera; held ones that are
        gone are stopped and their leases released."""
        async with self._lock:
            self.cameras = sorted(set(cameras))
            for cam in [c for c in self.held if c not in self.cameras]:
                log.info("worker %s drops camera %s: it is no longer configured", self.worker_id, cam)
                await self._give_up(cam, release=True)

    async def scan(self) -> None:
        async with self._lock:
            live = await self.live_workers()
            workers = max(1, len(live.keys() | {self.worker_id}))
            share = math.ceil(len(self.cameras) / workers)
            floor = len(self.cameras) // workers
            if len(self.held) < share:
                await self._claim(share - len(self.held))
                return
            starved = any(len(cams) < floor for w, cams in live.items() if w != self.worker_id)
            # Over the share: give one back. At the share while another is under the floor: maybe,
            # at random, so that several workers at their share do not all let go at once.
            if len(self.held) > share or (len(self.held) > floor and starved and random.random() < 0.5):
                cam = random.choice(list(self.held))
                log.info("worker %s hands camera %s over (holds %d, share %d)", self.worker_id, cam, len(self.held), share)
                await self._give_up(cam, release=True)

    async def _claim(self, wanted: int) -> None:
        free = [c for c in self.cameras if c not in self.held]
        random.shuffle(free)  # workers scanning at once should not race for the same keys
        owners = await self.redis.mget([lease_key(self.prefix, c) for c in free]) if free else []
        for cam, owner in zip(free, owners, strict=True):
            if wanted <= 0:
                break
            if owner is not None:
                continue
            now = time.monotonic()
            if not await self.redis.set(lease_key(self.prefix, cam), self.worker_id, nx=True, px=self.ttl_ms):
                continue
            self.held[cam] = now
            wanted -= 1
            if self.on_acquire is not None:
                try:
                    await self.on_acquire(cam)
                except Exception:  # a camera that cannot start goes back for someone else
                    log.exception("worker %s could not start camera %s", self.worker_id, cam)
                    await self._give_up(cam, release=True)
                    continue
            log.info("worker %s holds camera %s", self.worker_id, cam)
        await self._announce()

    async def _fence(self) -> None:
        """Stop every camera whose lease may expire before the next renewal could land."""
        limit = self.settings.ttl_s - self.settings.guard_s
        now = time.monotonic()
        for cam, renewed in list(self.held.items()):
            if now - renewed >= limit:
                log.warning("worker %s could not renew camera %s in time: stopping it", self.worker_id, cam)
                await self._give_up(cam, release=False)

    async def _give_up(self, cam: str, release: bool) -> None:
        if self.held.pop(cam, None) is None:
            return
        if self.on_release is not None:
            try:
                await self.on_release(cam)
            except Exception:
                log.exception("worker %s stopping camera %s", self.worker_id, cam)
        if release:  # only after the camera stopped and the holdings say so: whoever claims it next watches alone
            with contextlib.suppress(Exception):
                await self._announce()
                await self._release(keys=[lease_key(self.prefix, cam)], args=[self.worker_id])

    async def _announce(self) -> None:
        doc = {"cameras": sorted(self.held), "pid": os.getpid(), "host": socket.gethostname(), "ts": time.time()}
        await self.redis.set(worker_key(self.prefix, self.worker_id), json.dumps(doc), px=self.ttl_ms)

    async def live_workers(self) -> dict[str, list[str]]:
        return await holdings(self.redis, self.prefix)


async def holdings(redis: Any, prefix: str) -> dict[str, list[str]]:
    """Live worker → the cameras it says it holds (from the liveness keys)."""
    keys = [k async for k in redis.scan_iter(match=worker_key(prefix, "*"), count=1000)]
    docs = await redis.mget(keys) if keys else []
    start = len(worker_key(prefix, ""))
    out: dict[str, list[str]] = {}
    for key, doc in zip(keys, docs, strict=True):
        if doc is not None:
            key = key.decode() if isinstance(key, bytes) else key
            out[key[start:]] = list(json.loads(doc).get("cameras", []))
    return out


async def owners(redis: Any, prefix: str, cameras: Iterable[str]) -> dict[str, str | None]:
    """Camera → the worker holding its lease now (None: unowned), straight from the lease keys."""
    cams = list(cameras)
    found = await redis.mget([lease_key(prefix, c) for c in cams]) if cams else []
    return {c: (o.decode() if isinstance(o, bytes) else o) for c, o in zip(cams, found, strict=True)}


async def clear(redis: Any, prefix: str) -> int:
    """Delete every lease and liveness key under `prefix` (tests, or a fresh start)."""
    keys = [k async for k in redis.scan_iter(match=f"{prefix}:lease:*", count=1000)]
    keys += [k async for k in redis.scan_iter(match=f"{prefix}:worker:*", count=1000)]
    return int(await redis.delete(*keys)) if keys else 0
