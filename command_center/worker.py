"""`command-center worker`: a detection worker for the cameras it holds leases on.

Runs sources and vision only, publishing incidents to the shared bus; the API, hub and
dispatcher run on `serve` nodes. It follows the registry's cameras like any node (a camera
added in the console is claimed by some worker within seconds, a removed one released). Cameras spread over the workers by leases in the bus's
Redis (command_center/leases.py); the worker's holdings are readable there under
`{prefix}:worker:{id}` while it lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from command_center.config import Config
from command_center.leases import LeaseManager, LeaseSettings, new_worker_id

log = logging.getLogger(__name__)
SUMMARY_EVERY_S = 30.0  # holdings are logged on every change, and this often regardless


class WorkerError(Exception):
    """A configuration this worker cannot run with."""


def check_worker_config(config: Config) -> None:
    if config.bus == "memory":
        raise WorkerError(
            "command-center worker needs a shared bus to publish to and to hold camera leases in: "
            "set bus: redis://HOST:PORT/DB[?prefix=cc] (the same as the serve nodes')"
        )


def lease_settings(config: Config) -> LeaseSettings:
    s = config.sharding
    return LeaseSettings(ttl_s=s.lease_ttl_s, heartbeat_s=s.heartbeat_s, scan_s=s.scan_s)


async def run_worker(config: Config, worker_id: str | None = None, stop: asyncio.Event | None = None) -> None:
    """Watch leased cameras until `stop` is set (or SIGTERM/SIGINT), then hand them back."""
    import redis.asyncio as aredis

    from command_center.bus.redis_options import parse_redis_url
    from command_center.runtime import Runtime

    check_worker_config(config)
    options = parse_redis_url(config.bus)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    worker_id = worker_id or new_worker_id()
    rt = Runtime(config)
    settings = lease_settings(config)
    # Its own connection, timing out well within a lease: a hung Redis must not stall fencing.
    client = aredis.Redis.from_url(options.url, decode_responses=True, socket_timeout=settings.ttl_s / 2)
    leases = LeaseManager(
        client, options.prefix, worker_id, [c.id for c in config.cameras], rt.cameras.start_camera, rt.cameras.stop_camera, settings
    )

    async def follow_cameras() -> None:  # after the runtime's own applier changed config.cameras
        await leases.set_cameras(c.id for c in config.cameras)

    rt.registry.on("cameras", follow_cameras)
    await rt.start_worker()
    try:
        await leases.start()
        log.info("worker %s started: %d cameras configured, leases under %s:lease:*", worker_id, len(config.cameras), options.prefix)
        await _log_holdings(leases, stop)
    finally:
        await leases.stop()
        await rt.stop()
        await client.aclose()
        log.info("worker %s stopped; its cameras are free for the others", worker_id)


async def _log_holdings(leases: LeaseManager, stop: asyncio.Event) -> None:
    shown: list[str] | None = None
    last = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        held = sorted(leases.held)
        if held != shown or loop.time() - last >= SUMMARY_EVERY_S:
            log.info("worker %s holds %d camera(s): %s", leases.worker_id, len(held), ", ".join(held) or "none")
            shown, last = held, loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=leases.settings.scan_s)
