"""The hub's counters, and the stats object /api/hub and /metrics show."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from command_center.hub import Hub


@dataclass
class HubStats:
    connected: int = 0  # connections accepted, ever
    published: int = 0
    sent: int = 0  # messages
    frames: int = 0  # websocket frames they went out in (a batch is one frame)
    disconnected_slow: int = 0
    lagging: int = 0  # times a queue overflowed while the server, not the client, was behind
    resyncs: int = 0
    max_queue_depth: int = 0  # the deepest any client's queue has been
    refused_channels: int = 0


def hub_view(hub: Hub, per_client: int = 0) -> dict[str, Any]:
    """The stats object: totals, backpressure now, and the `per_client` deepest queues."""
    depths = [len(c.pending) for c in hub.clients]
    out: dict[str, Any] = {
        "clients": len(hub.clients),
        "history": "memory" if hub.shared is None else "redis",  # redis: seq shared by every node
        "channels": len(hub.channels),
        "published": hub.stats.published,
        "sent": hub.stats.sent,
        "frames": hub.stats.frames,
        "sent_per_s": round(hub.sent_per_s(), 1),
        "queued": sum(depths),
        "queued_max": max(depths, default=0),
        "queue_limit": hub.queue_size,
        "max_queue_depth": hub.stats.max_queue_depth,
        "disconnected_slow": hub.stats.disconnected_slow,
        "lagging": hub.stats.lagging,
        "resyncs": hub.stats.resyncs,
        "connected_total": hub.stats.connected,
        "refused_channels": hub.stats.refused_channels,
    }
    if per_client:
        deepest = sorted(hub.clients, key=lambda c: len(c.pending), reverse=True)[:per_client]
        out["per_client"] = [
            {
                "id": c.id,
                "user": c.access.user,
                "role": c.access.role,
                "queued": len(c.pending),
                "sent": c.sent,
                "channels": sorted(c.channels),
            }
            for c in deepest
        ]
    return out
