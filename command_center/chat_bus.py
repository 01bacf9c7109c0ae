"""The chat across nodes: each node's chat events over the bus to every other node's hub.

A chat event (`chat.message`, `chat.stored`, `chat.retracted`, `chat.read`) is published on
the hub of the node that handled it (chat_service.publish), at once, and, where a Redis bus
joins several nodes, handed to this node's `Outbox`: one task puts them on the bus's `chat`
topic in order (a send never waits for Redis). Every node reads the topic as a fan-out
subscriber (`hub`: a group of its own) and publishes each other node's event on its own hub,
to the same channels, with the views the sender's node made; its own it skips (by node id).
The conversation in each event (who answers, its state) also updates the node's cache of
conversations (chat_cache.Conversations), so a handover on one node gates the next message
on another.

Delivery over the bus is live delivery only: a node that misses an event (Redis down, its
subscription behind) loses nothing stored, since clients catch up by seq from the store.
With the in-process bus (one node) there is nothing to relay and no outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from starlette.applications import Starlette

from command_center.bus import Bus, batches, redis_of
from command_center.chat_service import OUTBOX, STATE, deliver
from command_center.events import Event

log = logging.getLogger(__name__)

TOPIC = "chat"
QUEUED = 10_000  # events waiting for the bus before new ones are dropped (live delivery only)
KEYS = ("id", "resident_id", "grid_code", "worker_id", "state")


class Outbox:
    """This node's chat events on their way to the bus, in order."""

    def __init__(self) -> None:
        self.node = secrets.token_hex(6)
        self.queue: asyncio.Queue[Event] = asyncio.Queue(QUEUED)
        self.dropped = 0

    def send(self, conversation: dict[str, Any], type_: str, mine: dict[str, Any], staff: dict[str, Any]) -> None:
        data = {"node": self.node, "conversation": {k: conversation.get(k) for k in KEYS},
                "resident": mine, "staff": staff}  # fmt: skip
        try:
            self.queue.put_nowait(Event(TOPIC, type_, data))
        except asyncio.QueueFull:
            self.dropped += 1  # the other nodes' clients catch up by seq

    async def forward(self, bus: Bus) -> None:
        while True:
            event = await self.queue.get()
            try:
                await bus.publish(event)
            except Exception:  # BusUnavailable, a bug: live delivery elsewhere lost, nothing stored lost
                log.warning("chat: event %s not relayed to the other nodes", event.type, exc_info=True)


async def relay(app: Starlette, subscription: Any, node: str) -> None:
    """Other nodes' chat events onto this node's hub (and its conversation cache)."""
    hub = app.state.hub
    async for events in batches(subscription, 256):
        for event in events:
            data = event.data
            if event.topic != TOPIC or data.get("node") == node:
                continue
            conversation = data.get("conversation") or {}
            fast = getattr(getattr(app.state, STATE, None), "fast", None)
            if fast is not None:
                fast.conversations.note(conversation)
            deliver(hub, conversation, event.type, data.get("resident") or {}, data.get("staff") or {})


async def feed(app: Starlette) -> None:
    """The job of a serve node (app.py): while it runs, chat events go both ways over a Redis
    bus; with the in-process bus it ends at once (one node, nothing to relay)."""
    bus: Bus = app.state.bus
    if redis_of(bus) is None:
        return
    outbox = Outbox()
    subscription = bus.subscribe([TOPIC], "hub")
    setattr(app.state, OUTBOX, outbox)
    try:
        await asyncio.gather(outbox.forward(bus), relay(app, subscription, outbox.node))
    finally:
        setattr(app.state, OUTBOX, None)
        with contextlib.suppress(Exception):
            await subscription.close()
