"""In-process asyncio bus: the embedded default."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from command_center.events import Event

_CLOSED = object()
RELEASE_AFTER_S = 5.0  # a released event (its consumer failed) is queued again after this


class MemorySubscription:
    def __init__(self, bus: MemoryBus, topics: list[str], name: str) -> None:
        self.topics = frozenset(topics)
        self.name = name
        # Unbounded on purpose: in one process the publisher and subscribers share a
        # loop, and a bounded queue would either block producers or drop cases.
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._bus = bus
        self.released = 0  # events given back by a failing consumer, to come again

    def put(self, event: Event) -> None:
        self._queue.put_nowait(event)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, Event)
            yield item

    async def ack(self, *events: Event) -> None:
        # In one process nothing outlives a crash, so there is nothing to acknowledge.
        return None

    async def release(self, *events: Event) -> None:
        """Queue these again after a pause: the same objects, so memory stays bounded by
        what was published; a closed subscription drops them."""
        loop = asyncio.get_running_loop()
        self.released += len(events)
        for event in events:
            loop.call_later(RELEASE_AFTER_S, self._again, event)

    def _again(self, event: Event) -> None:
        if self in self._bus._subscriptions:
            self.put(event)

    async def close(self) -> None:
        self._bus._subscriptions.discard(self)
        self._queue.put_nowait(_CLOSED)


class MemoryBus:
    def __init__(self) -> None:
        self._subscriptions: set[MemorySubscription] = set()
        self.published = 0
        self.errors = 0  # in one process a publish cannot fail: for /metrics, like the Redis bus's

    async def start(self) -> None:
        return None

    async def publish(self, event: Event) -> None:
        self.published += 1
        for sub in list(self._subscriptions):
            if event.topic in sub.topics:
                sub.put(event)

    def subscribe(self, topics: list[str], name: str) -> MemorySubscription:
        sub = MemorySubscription(self, topics, name)
        self._subscriptions.add(sub)
        return sub

    async def close(self) -> None:
        for sub in list(self._subscriptions):
            await sub.close()
