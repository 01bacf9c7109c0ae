"""The bus Protocol: topics of events, each subscriber gets every event of its topics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Protocol

from command_center.events import Event

log = logging.getLogger(__name__)


class BusUnavailable(RuntimeError):
    """The bus cannot take an event now: its backend is unreachable and the local buffer
    that bridges an outage is full. Raised rather than dropping the event silently."""


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]:
        """Events of the subscribed topics. With a durable backend an event handed out is
        acknowledged once the consumer comes back for more, so one that dies while
        handling it gets it again (here or in another process): consumers must be
        idempotent by `Event.id` (see bus/dedupe.py)."""
        ...

    async def ack(self, *events: Event) -> None:
        """Acknowledge now, before asking for more; a no-op where nothing is durable."""
        ...

    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, event: Event) -> None:
        """Hand the event on; raises BusUnavailable rather than lose it."""
        ...

    def subscribe(self, topics: list[str], name: str) -> Subscription:
        """A named subscriber; with a durable backend the name is its consumer group."""
        ...

    async def close(self) -> None: ...


async def release(subscription: Subscription, events: list[Event]) -> None:
    """Give events back unhandled, unacknowledged, to be handed out again later (a consumer
    whose work failed: finding 10). The in-process bus queues them again after a pause;
    Redis keeps them pending until the reclaim takes them (`reclaim_idle_s`), here or on
    another node."""
    give_back = getattr(subscription, "release", None)
    if give_back is None:  # a backend without it: say so rather than drop them quietly
        log.error("bus subscription %r cannot take back %d events; they are not handed out again",
                  subscription, len(events))  # fmt: skip
        return
    await give_back(*events)


async def batches(subscription: Subscription, most: int) -> AsyncIterator[list[Event]]:
    """What a subscriber has queued, up to `most` at a time; it waits only for the first."""
    batch: list[Event] = []
    async for event in subscription:
        batch.append(event)
        if len(batch) >= most or not getattr(subscription, "backlog", 0):
            yield batch
            batch = []
    if batch:
        yield batch
