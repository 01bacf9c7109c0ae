"""Health and Prometheus metrics."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from command_center import audit
from command_center.api.errors import int_param
from command_center.runtime import Runtime


def routes(rt: Runtime) -> list[Route]:
    async def health(_request: Request) -> JSONResponse:
        states = [r.health.state() for r in rt.runners.values()]
        return JSONResponse(
            {
                "status": "ok",
                "uptime_s": round(time.time() - rt.started_at, 1),
                "cameras": {"online": states.count("online"), "total": len(states)},
                "hub": rt.hub.view(),
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
        stats, hub = rt.hub.stats, rt.hub.view()
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
            "# TYPE cc_hub_frames_total counter",
            f"cc_hub_frames_total {stats.frames}",
            "# TYPE cc_hub_slow_disconnects_total counter",
            f"cc_hub_slow_disconnects_total {stats.disconnected_slow}",
            "# TYPE cc_hub_max_queue_depth gauge",
            f"cc_hub_max_queue_depth {stats.max_queue_depth}",
            # backpressure now: messages waiting in the clients' send queues, and the send rate
            "# TYPE cc_hub_queued_messages gauge",
            f"cc_hub_queued_messages {hub['queued']}",
            "# TYPE cc_hub_queued_messages_max gauge",
            f"cc_hub_queued_messages_max {hub['queued_max']}",
            "# TYPE cc_hub_sent_per_second gauge",
            f"cc_hub_sent_per_second {hub['sent_per_s']}",
            "# TYPE cc_hub_resyncs_total counter",
            f"cc_hub_resyncs_total {stats.resyncs}",
            "# TYPE cc_audit_write_failures_total counter",
            f"cc_audit_write_failures_total {audit.failures}",
        ]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    async def hub_stats(request: Request) -> JSONResponse:
        """The hub's stats object with the deepest client queues (backpressure, per client)."""
        return JSONResponse(rt.hub.view(per_client=int_param(request, "clients", 20, 0, 10_000)))

    return [Route("/api/health", health), Route("/metrics", metrics), Route("/api/hub", hub_stats)]
