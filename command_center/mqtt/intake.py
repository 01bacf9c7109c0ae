"""The MQTT intake: a long-running task that takes devices' readings from the broker.

It connects under a fixed client id with a persistent session (see connect.py), so the
broker queues QoS 1 readings while the service is down and hands them over when it comes
back; subscribes to the device and gateway topics; gives each message to one async
`Handler(topic, payload)`; and acknowledges it (PUBACK) only after the handler returned.
A reading the process took but had not finished handling when it died is therefore sent
again by the broker: at least once, never lost. What remains is a duplicate after a crash
between the handler's return and the PUBACK reaching the broker (a window of one message
per connection): the handler must be idempotent, by the reading's device and time.

A handler that raises is counted and logged with the topic, and the message is
acknowledged all the same: a payload that cannot be handled now cannot later either, and
must not come back forever. Messages are handled in order. With a `BatchHandler` (the IoT
loop) the intake takes, after each message, whatever else the client has already received
(up to `batch_max`), hands them over in one call (one transaction: a group commit) and then
acknowledges them all; the broker's in-flight window (Mosquitto's max_inflight_messages, 20 by
default) bounds both what waits and how large a batch can grow.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from typing import Any

from command_center.mqtt.config import MqttConfig
from command_center.mqtt.connect import Backoff, acknowledge, client_for, lost
from command_center.mqtt.handler import BatchHandler, Handler

log = logging.getLogger(__name__)


@dataclass
class IntakeCounters:
    """What /api/health can show of the intake."""

    received: int = 0  # messages taken from the broker
    handled: int = 0  # of them, handled without an error
    errors: int = 0  # of them, the handler raised
    batches: int = 0  # handler calls (a batch: what had arrived while the last one was handled)
    connects: int = 0  # sessions opened (the first included)
    reconnects: int = 0  # tries after a lost or refused connection
    connected: bool = False
    last_error: str | None = None  # the last connection problem, for an operator

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Intake:
    """Run `run()` as a task; cancel it to stop (the message being handled is then not
    acknowledged, and comes again)."""

    def __init__(
        self, config: MqttConfig, handler: Handler | BatchHandler, client_id: str | None = None
    ) -> None:
        self.config = config
        self.handler = handler
        self.batch_max = config.batch_max if isinstance(handler, BatchHandler) else 1
        self.client_id = client_id or config.client_id
        self.counters = IntakeCounters()
        self.subscribed = asyncio.Event()  # set while a session is subscribed (tests, health)

    async def run(self) -> None:
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
        while True:
            try:
                await self._session(backoff)
            except Exception as exc:  # the broker, the network, TLS or password files: the loop goes on
                self.counters.last_error = lost("intake", self.config, exc)
            finally:
                self.counters.connected = False
                self.subscribed.clear()
            pause = backoff.next()
            self.counters.reconnects += 1
            await asyncio.sleep(pause)

    async def _session(self, backoff: Backoff) -> None:
        client = client_for(self.config, self.client_id, manual_ack=True)
        async with client:
            self.counters.connected = True
            self.counters.connects += 1
            backoff.reset()
            filters: list[tuple[str, int]] = [(topic, self.config.qos) for topic in self.config.topics]
            await client.subscribe(filters)
            self.subscribed.set()
            log.info("mqtt intake subscribed to %s as %s", ", ".join(self.config.topics), self.client_id)
            async for message in client.messages:
                batch = [message]
                while len(batch) < self.batch_max and len(client.messages) > 0:  # already here: no wait
                    batch.append(await anext(client.messages))
                await self.take_many([(m.topic.value, _bytes(m.payload)) for m in batch])
                for taken in batch:
                    acknowledge(client, taken)  # only now: a crash before this gets them again

    async def take_many(self, messages: list[tuple[str, bytes]]) -> list[Exception | None]:
        """Hand messages to the handler (one call for a BatchHandler); each one's outcome, its
        failure counted and logged with the topic."""
        self.counters.received += len(messages)
        self.counters.batches += 1
        try:
            outcomes = await self._handle(messages)
        except Exception as exc:  # ours, for the lot
            outcomes = [exc] * len(messages)
        for (topic, payload), outcome in zip(messages, outcomes, strict=True):
            if outcome is None:
                self.counters.handled += 1
                continue
            self.counters.errors += 1
            if isinstance(
                outcome, ValueError
            ):  # the payload's fault (malformed, unknown device): its reason is enough
                log.warning(
                    "mqtt intake: a message of %s refused (%d bytes): %s", topic, len(payload), outcome
                )
            else:  # ours: with the traceback
                log.error("mqtt intake: the handler failed on a message of %s (%d bytes)", topic, len(payload),
                          exc_info=outcome)  # fmt: skip
        return outcomes

    async def take(self, topic: str, payload: bytes) -> bool:
        """Hand one message to the handler; False when it failed (counted and logged)."""
        [outcome] = await self.take_many([(topic, payload)])
        return outcome is None

    async def _handle(self, messages: list[tuple[str, bytes]]) -> list[Exception | None]:
        if isinstance(self.handler, BatchHandler):
            return await self.handler.handle_many(messages)
        outcomes: list[Exception | None] = []
        for topic, payload in messages:
            try:
                await self.handler(topic, payload)
                outcomes.append(None)
            except Exception as exc:
                outcomes.append(exc)
        return outcomes


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return b"" if payload is None else str(payload).encode("utf-8")
