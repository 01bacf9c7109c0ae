"""Health and Prometheus metrics.

/api/health (public) checks what delivery depends on, each with a short timeout: the
store (a cheap query), the bus (Redis: a ping; in-process: always up), the hub's shared
history (degraded while Redis cannot number messages) and the audit log (degraded while
its latest write failed). Any of them down: {"status": "degraded"} with 503, so that a
load balancer takes the node out and the wall shows its banner. Sources (cameras
online/total) are listed but do not count: one dead camera must not take a node out.
Answers are reused for a second: the route is public, and a flood of it must not
become a flood of store queries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import int_param
from command_center.bus import redis_of

if TYPE_CHECKING:
    from command_center.bus import Bus
    from command_center.camera_status import Cameras
    from command_center.hub import Hub
    from command_center.store import Store

CHECK_TIMEOUT_S = 2.0
REUSE_S = 1.0
COUNTED = ("store", "bus", "hub", "audit")  # the checks that make the status


async def _timed(probe: Any) -> dict[str, Any]:
    start = time.monotonic()
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_S)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {CHECK_TIMEOUT_S:g} s"}
    except Exception as exc:
        return {"ok": False, "error": (str(exc) or type(exc).__name__)[:300]}
    return {"ok": True, "ms": round((time.monotonic() - start) * 1000, 1)}


async def _bus(bus: Bus) -> dict[str, Any]:
    found = redis_of(bus)
    if found is None:
        return {"ok": True, "kind": "memory"}
    result = await _timed(found[0].ping())
    stats = getattr(bus, "stats", None)
    connected = bool(getattr(bus, "connected", True))
    # Reachable again but still writing out what it buffered: not delivering yet.
    return {
        **result,
        "ok": result["ok"] and connected,
        "kind": "redis",
        "connected": connected,
        "buffered": getattr(stats, "buffered", 0),
    }


def _hub(hub: Hub) -> dict[str, Any]:
    shared = hub.shared
    return {"ok": True, "kind": "local"} if shared is None else {"kind": "redis", **shared.view()}


async def checks(store: Store, bus: Bus, hub: Hub, cameras: Cameras) -> dict[str, dict[str, Any]]:
    store_check, bus_check = await asyncio.gather(_timed(asyncio.to_thread(store.ping)), _bus(bus))
    states = [r.health.state() for r in cameras.runners.values()]
    return {
        "store": store_check,
        "bus": bus_check,
        "hub": _hub(hub),
        "audit": audit.health(),
        "sources": {"ok": True, "online": states.count("online"), "total": len(states)},
    }


@dataclass
class ReusedChecks:
    """The latest round of checks, and when it ran (one per app: tests build several)."""

    at: float = -REUSE_S
    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


async def current_checks(request: Request) -> dict[str, dict[str, Any]]:
    """The checks, run at most once a second however many ask."""
    state = request.app.state
    reused: ReusedChecks | None = getattr(state, "health_checks", None)
    if reused is None:  # no await since the look-up: no second one can slip in
        reused = state.health_checks = ReusedChecks()
    async with reused.lock:  # concurrent callers share one round of checks
        if time.monotonic() - reused.at >= REUSE_S:
            services = deps.store(request), deps.bus(request), deps.hub(request), deps.cameras(request)
            reused.found = await checks(*services)
            reused.at = time.monotonic()
        return reused.found


async def health(request: Request) -> JSONResponse:
    found = await current_checks(request)
    ok = all(found[name]["ok"] for name in COUNTED)
    sources, jobs, hub = found["sources"], deps.jobs(request), deps.hub(request)
    return JSONResponse(
        {
            "status": "ok" if ok else "degraded",
            "checks": found,
            "uptime_s": round(time.time() - jobs.started_at, 1),
            "cameras": {"online": sources["online"], "total": sources["total"]},
            "hub": hub.view(),
            **({"mqtt": iot.view()} if (iot := getattr(request.app.state, "iot", None)) else {}),
            **jobs.counters,
        },
        status_code=200 if ok else 503,
        headers=None if ok else {"Retry-After": "10"},
    )


async def metrics(request: Request) -> PlainTextResponse:
    lines = metric_lines(deps.cameras(request), deps.hub(request), deps.bus(request), deps.jobs(request).counters)
    return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


async def hub_stats(request: Request) -> JSONResponse:
    """The hub's stats object with the deepest client queues (backpressure, per client)."""
    return JSONResponse(deps.hub(request).view(per_client=int_param(request, "clients", 20, 0, 10_000)))


def metric_lines(cameras: Cameras, hub: Hub, bus: Bus, counters: Mapping[str, int]) -> list[str]:
    return [
        *_camera_lines(cameras),
        "# TYPE cc_incidents_total counter",
        f"cc_incidents_total {counters['incidents']}",
        "# TYPE cc_cases_created_total counter",
        f"cc_cases_created_total {counters['cases_created']}",
        *_hub_lines(hub),
        *_fault_lines(bus, counters),
    ]


def _camera_lines(cameras: Cameras) -> list[str]:
    lines = [
        "# TYPE cc_camera_up gauge",
        "# TYPE cc_camera_frames_total counter",
        "# TYPE cc_camera_dropped_total counter",
        "# TYPE cc_camera_reconnects_total counter",
    ]
    for cam_id, runner in cameras.runners.items():
        h = runner.health
        label = f'{{camera="{cam_id}"}}'
        lines += [
            f"cc_camera_up{label} {int(h.state() == 'online')}",
            f"cc_camera_frames_total{label} {h.frames_in}",
            f"cc_camera_dropped_total{label} {h.dropped}",
            f"cc_camera_reconnects_total{label} {h.reconnects}",
        ]
    return lines


def _hub_lines(hub: Hub) -> list[str]:
    stats, view, shared = hub.stats, hub.view(), hub.shared
    return [
        "# TYPE cc_hub_clients gauge",
        f"cc_hub_clients {len(hub.clients)}",
        "# TYPE cc_hub_published_total counter",
        f"cc_hub_published_total {stats.published}",
        "# TYPE cc_hub_sent_total counter",
        f"cc_hub_sent_total {stats.sent}",
        "# TYPE cc_hub_frames_total counter",
        f"cc_hub_frames_total {stats.frames}",
        "# TYPE cc_hub_slow_disconnects_total counter",
        f"cc_hub_slow_disconnects_total {stats.disconnected_slow}",
        "# TYPE cc_hub_max_queue_depth gauge",
        f"cc_hub_max_queue_depth {stats.max_queue_depth}",
        # backpressure now: messages waiting in the clients' send queues, and the send rate
        "# TYPE cc_hub_queued_messages gauge",
        f"cc_hub_queued_messages {view['queued']}",
        "# TYPE cc_hub_queued_messages_max gauge",
        f"cc_hub_queued_messages_max {view['queued_max']}",
        "# TYPE cc_hub_sent_per_second gauge",
        f"cc_hub_sent_per_second {view['sent_per_s']}",
        "# TYPE cc_hub_resyncs_total counter",
        f"cc_hub_resyncs_total {stats.resyncs}",
        "# TYPE cc_hub_history_degraded gauge",
        f"cc_hub_history_degraded {int(shared is not None and shared.degraded)}",
    ]


def _fault_lines(bus: Bus, counters: Mapping[str, int]) -> list[str]:
    # The Redis bus keeps a stats object; the memory bus its own field.
    bus_stats = getattr(bus, "stats", bus)
    return [
        "# TYPE cc_audit_write_failures_total counter",
        f"cc_audit_write_failures_total {audit.failures}",
        # faults (command_center/faults.py): failed tries at store and bus writes, and lost incidents
        "# TYPE cc_store_errors_total counter",
        f"cc_store_errors_total {counters.get('store_errors', 0)}",
        "# TYPE cc_bus_errors_total counter",
        f"cc_bus_errors_total {counters.get('bus_errors', 0) + getattr(bus_stats, 'errors', 0)}",
        "# TYPE cc_incidents_failed_total counter",
        f"cc_incidents_failed_total {counters.get('incidents_failed', 0)}",
    ]


routes: list[BaseRoute] = [
    Route("/api/health", health),
    Route("/metrics", metrics),
    Route("/api/hub", hub_stats),
]
