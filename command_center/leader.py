"""One node of several runs each singleton job: the supervision sweep (督办), the hotspot
alerts. Run on every node, a sweep would announce each warning once per node, and the
hotspot watcher, whose consumer group splits the case events between the nodes, would
count only part of them on each.

Key `{prefix}:leader:{job}` = node id, `SET NX PX ttl`: whoever set it runs the job. The
holder renews it every heartbeat, its own only (the camera leases' compare-and-renew
script), and stops the job once `ttl - guard` has passed since its last renewal, before
Redis could let another node take it. A node that finds the key taken tries again every
`scan_s`. Without Redis (the memory bus: one process) the job simply runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from command_center.bus.redis_codec import raise_if_cancelled
from command_center.leases import RELEASE_SCRIPT, RENEW_SCRIPT, LeaseSettings

log = logging.getLogger(__name__)
Job = Callable[[], Coroutine[Any, Any, None]]


def leader_key(prefix: str, job: str) -> str:
    return f"{prefix}:leader:{job}"


class LeaderElection:
    """Leads one named job among the nodes sharing a Redis: `run(job)` runs it only while leading."""

    def __init__(
        self, redis: Any, prefix: str, node_id: str, job: str, settings: LeaseSettings | None = None
    ) -> None:
        self.redis = redis
        self.key = leader_key(prefix, job)
        self.node_id = node_id
        self.job = job
        self.settings = settings or LeaseSettings()
        self.leading = False
        self.terms = 0  # times this node became the leader
        self._renew = redis.register_script(RENEW_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)

    async def run(self, job: Job) -> None:
        """Forever: wait to lead, run `job` while leading; release on cancellation."""
        try:
            while True:
                if await self._acquire():
                    await self._lead(job)
                else:
                    await asyncio.sleep(self.settings.scan_s)
        finally:  # ours or not: the script deletes the key only if it holds our id
            self.leading = False
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release(keys=[self.key], args=[self.node_id]))

    async def _acquire(self) -> bool:
        ttl_ms = int(self.settings.ttl_s * 1000)
        try:
            taken = bool(await self.redis.set(self.key, self.node_id, nx=True, px=ttl_ms))
        except Exception as exc:  # Redis away: nobody can lead, try again later
            log.warning("leader %s: cannot reach Redis (%s)", self.job, exc)
            taken = False
        # redis-py can swallow a cancellation that lands inside the command: without this
        # check a node that is not leading would go on polling, and its shutdown would hang.
        raise_if_cancelled()
        return taken

    async def _lead(self, job: Job) -> None:
        settings = self.settings
        self.leading, self.terms = True, self.terms + 1
        log.info("leading %s (node %s)", self.job, self.node_id)
        renewed = time.monotonic()
        task = asyncio.create_task(job(), name=f"leader-{self.job}")
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=settings.heartbeat_s)
                if task.done():
                    break
                try:
                    still = await asyncio.wait_for(
                        self._renew(keys=[self.key], args=[self.node_id, int(settings.ttl_s * 1000)]),
                        settings.guard_s,
                    )
                    raise_if_cancelled()
                    if still and still[0] == 1:
                        renewed = time.monotonic()
                    else:
                        log.warning("leader %s: the lease went to another node", self.job)
                        break
                except Exception as exc:
                    if time.monotonic() - renewed >= settings.ttl_s - settings.guard_s:
                        log.warning("leader %s: not renewed in time (%s); stepping down", self.job, exc)
                        break
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            self.leading = False
        if task.done() and not task.cancelled():  # the job ended by itself: let any node start it again
            if task.exception() is not None:
                log.error("leader %s: the job failed", self.job, exc_info=task.exception())
            with contextlib.suppress(Exception):
                await self._release(keys=[self.key], args=[self.node_id])
            await asyncio.sleep(settings.scan_s)  # not a hot loop of failures
