"""The MQTT export: incidents and case state changes published for other city systems.

Bus events of the `incidents` and `cases` topics become JSON messages on
`<prefix>/incidents/<id>` and `<prefix>/cases/<id>` (QoS 1; retained when
`export.retain`, so that a new subscriber gets each one's last state). What goes out is a
fixed list of fields per kind (`INCIDENT_FIELDS`, `CASE_FIELDS`): no description, notes,
photos or names of people: the topics serve systems outside the hall, and the broker's
ACL decides who reads them.

The bus consumer never waits for the broker: events go into a bounded buffer that the
publisher drains while connected. While the broker is down the buffer fills; past
`export.buffer` the oldest are dropped and counted (an incident's later state supersedes
an earlier one, so the newest are the ones worth keeping). A publish that failed goes
back to the front and is sent again after the reconnect: at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

import aiomqtt

from command_center.bus import Bus, Subscription, batches
from command_center.events import Event
from command_center.mqtt.config import MqttConfig
from command_center.mqtt.connect import Backoff, client_for, is_connected, lost

log = logging.getLogger(__name__)

BUS_TOPICS = ["incidents", "cases"]
SUBSCRIBER = "mqtt-export"  # with a Redis bus, the consumer group: one node of several publishes each event
EXPORTED_TYPES = frozenset({"incident.created", "incident.updated", "case.created", "case.updated"})
INCIDENT_FIELDS = (
    "id", "ts", "state", "source", "camera_id", "camera_name", "device_id", "device_kind", "rule", "rule_name",
    "label", "label_name", "zone", "score", "readings", "location", "grid_code", "matter_code", "matter_name",
    "urgency", "emergency_class", "case_id", "updated_at",
)  # fmt: skip
CASE_FIELDS = (
    "id", "state", "source", "matter_code", "matter_name", "grid_code", "grid_name", "location", "urgency",
    "level", "returns", "overdue", "deadline", "created_at", "updated_at", "version", "incident_ids",
    "merged_into", "department", "deferred_until", "confirm_by",
)  # fmt: skip
_FIELDS = {"incidents": INCIDENT_FIELDS, "cases": CASE_FIELDS}
_BAD_IN_TOPIC = frozenset("/+#\0")
IDLE_CHECK_S = 1.0


@dataclass
class ExportCounters:
    queued: int = 0  # events taken into the buffer
    published: int = 0  # acknowledged by the broker
    dropped: int = 0  # pushed out of a full buffer while the broker was away
    skipped: int = 0  # bus events of other types, or without a usable id
    errors: int = 0  # publishes that failed (each is tried again)
    connects: int = 0
    reconnects: int = 0
    connected: bool = False
    buffered: int = 0  # waiting now
    last_error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def message_of(event: Event, prefix: str) -> tuple[str, bytes] | None:
    """(topic, JSON payload) for an exported event; None for any other."""
    fields = _FIELDS.get(event.topic)
    item_id = event.data.get("id")
    if fields is None or event.type not in EXPORTED_TYPES or not isinstance(item_id, str) or not item_id:
        return None
    if _BAD_IN_TOPIC & set(item_id):
        return None
    data = {key: event.data[key] for key in fields if key in event.data}
    body = {"type": event.type, "event_id": event.id, "ts": event.ts, event.topic[:-1]: data}
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"), default=str)
    return f"{prefix}/{event.topic}/{item_id}", payload.encode("utf-8")


class Exporter:
    """`run(subscribe(bus))` as a task: the bus consumer and the publisher; cancel it to stop."""

    def __init__(self, config: MqttConfig, client_id: str | None = None) -> None:
        self.config = config
        self.client_id = client_id or f"{config.client_id}-export"
        self.counters = ExportCounters()
        self._buffer: deque[tuple[str, bytes]] = deque()
        self._waiting = asyncio.Event()
        self.connected = asyncio.Event()  # set while a connection is up (tests, health)

    def subscribe(self, bus: Bus) -> Subscription:
        """Subscribe now, before `run` starts (as the runtime's other consumers do): events
        published in between are not missed."""
        return bus.subscribe(BUS_TOPICS, SUBSCRIBER)

    async def run(self, subscription: Subscription) -> None:
        try:
            await asyncio.gather(self.consume(subscription), self.publish_loop())
        finally:
            await subscription.close()

    def offer(self, event: Event) -> bool:
        """Buffer the event's message; False when it is not exported."""
        message = message_of(event, self.config.export.prefix)
        if message is None:
            self.counters.skipped += 1
            return False
        self._push(message, front=False)
        self.counters.queued += 1
        return True

    async def consume(self, subscription: Subscription) -> None:
        async for events in batches(subscription, 256):
            for event in events:
                self.offer(event)
            await subscription.ack(*events)  # in the buffer now: the broker's outage is ours to bridge

    async def publish_loop(self) -> None:
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
        while True:
            try:
                async with client_for(self.config, self.client_id, persistent=False) as client:
                    self.counters.connected = True
                    self.counters.connects += 1
                    self.connected.set()
                    backoff.reset()
                    await self._drain(client)
            except Exception as exc:  # the broker, the network, TLS or password files: the loop goes on
                self.counters.last_error = lost("export", self.config, exc)
            finally:
                self.counters.connected = False
                self.connected.clear()
            pause = backoff.next()
            self.counters.reconnects += 1
            await asyncio.sleep(pause)

    async def _drain(self, client: aiomqtt.Client) -> None:
        retain, qos = self.config.export.retain, 1
        while True:
            while not self._buffer:  # idle: look at the connection now and then, to notice a lost broker
                self._waiting.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._waiting.wait(), IDLE_CHECK_S)
                if not is_connected(client):
                    raise aiomqtt.MqttError("connection lost")
            topic, payload = self._buffer.popleft()
            self.counters.buffered = len(self._buffer)
            try:
                await client.publish(topic, payload, qos=qos, retain=retain)
            except (ValueError, TypeError):  # paho refuses this message itself: sending it again cannot help
                self.counters.skipped += 1
                log.exception(
                    "mqtt export: %s refused by the client (%d bytes), dropped", topic, len(payload)
                )
                continue
            except (
                BaseException
            ) as exc:  # the connection failed (or we are stopping): it goes out first next time
                if isinstance(exc, Exception):
                    self.counters.errors += 1
                self._push((topic, payload), front=True)
                raise
            self.counters.published += 1

    def _push(self, message: tuple[str, bytes], front: bool) -> None:
        if len(self._buffer) >= self.config.export.buffer:
            self.counters.dropped += 1
            if front:  # a retried message is older than all that wait: it is the one to lose
                return
            self._buffer.popleft()
        if front:
            self._buffer.appendleft(message)
        else:
            self._buffer.append(message)
        self.counters.buffered = len(self._buffer)
        self._waiting.set()
