"""Health and Prometheus metrics."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from command_center.runtime import Runtime


def routes(rt: Runtime) -> list[Route]:
    async def health(_request: Request) -> JSONResponse:
        states = [r.health.state() for r in rt.runners.values()]
        return JSONResponse(
            {
                "status": "ok",
                "uptime_s": round(time.time() - rt.started_at, 1),
                "cameras": {"online": states.count("online"), "total": len(states)},
                "hub": {"clients": len(rt.hub.clients), "published": rt.hub.stats.published},
                **rt.counters,
            }
        )

    async def metrics(_request: Request) -> PlainTextResponse:
        lines = [
            "# TYPE cc_camera_up gauge",
            "# TYPE cc_camera_frames_total counter",
            "# TYPE cc_camera_dropped_total counter",
            "# TYPE cc_camera_reconnects_total counter",
        ]
        for cam_id, runner in rt.runners.items():
            h = runner.health
            label = f'{{camera="{cam_id}"}}'
            lines += [
                f"cc_camera_up{label} {int(h.state() == 'online')}",
                f"cc_camera_frames_total{label} {h.frames_in}",
                f"cc_camera_dropped_total{label} {h.dropped}",
                f"cc_camera_reconnects_total{label} {h.reconnects}",
            ]
        stats = rt.hub.stats
        lines += [
            "# TYPE cc_incidents_total counter",
            f"cc_incidents_total {rt.counters['incidents']}",
            "# TYPE cc_cases_created_total counter",
            f"cc_cases_created_total {rt.counters['cases_created']}",
            "# TYPE cc_hub_clients gauge",
            f"cc_hub_clients {len(rt.hub.clients)}",
            "# TYPE cc_hub_published_total counter",
            f"cc_hub_published_total {stats.published}",
            "# TYPE cc_hub_sent_total counter",
            f"cc_hub_sent_total {stats.sent}",
            "# TYPE cc_hub_slow_disconnects_total counter",
            f"cc_hub_slow_disconnects_total {stats.disconnected_slow}",
            "# TYPE cc_hub_max_queue_depth gauge",
            f"cc_hub_max_queue_depth {stats.max_queue_depth}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    return [Route("/api/health", health), Route("/metrics", metrics)]
