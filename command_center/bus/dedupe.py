"""Idempotent consumers: a durable bus delivers at least once, so the same event (same
`Event.id`) can come twice: after a consumer died before acknowledging it, or after a
publish was sent again across a connection loss.

`SeenIds` remembers the most recent ids in a process; `Deduped` wraps a subscription
and skips what it has already handed out. Neither survives the process: a redelivery to
another process (the usual case after a crash) must be caught by a check against what
the consumer wrote (the store), e.g. "does this incident already have a case?".
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any

from command_center.events import Event


class SeenIds:
    """A bounded set of ids: the oldest is forgotten first, so memory stays flat."""

    def __init__(self, capacity: int = 100_000) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, key: str) -> bool:
        """True the first time `key` is seen (within the last `capacity` ids)."""
        if key in self._ids:
            self._ids.move_to_end(key)
            return False
        self._ids[key] = None
        if len(self._ids) > self.capacity:
            self._ids.popitem(last=False)
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def event_id(event: Event) -> str:
    return event.id


class Deduped:
    """A subscription that hands each event out once (by `key`, the event id by default).

    An id is taken as seen when it is handed out: a consumer that must see an event again
    after failing to handle it should check `SeenIds` itself and add the id after its work.
    A skipped duplicate is acknowledged with the next read, like any event handed on.
    """

    def __init__(
        self, subscription: Any, seen: SeenIds | None = None, key: Callable[[Event], str] = event_id
    ) -> None:
        self.subscription = subscription
        self.seen = seen if seen is not None else SeenIds()
        self.key = key
        self.duplicates = 0

    @property
    def backlog(self) -> int:
        return getattr(self.subscription, "backlog", 0)

    async def __aiter__(self) -> AsyncIterator[Event]:
        async for event in self.subscription:
            if self.seen.add(self.key(event)):
                yield event
            else:
                self.duplicates += 1

    async def ack(self, *events: Event) -> None:
        await self.subscription.ack(*events)

    async def close(self) -> None:
        await self.subscription.close()
