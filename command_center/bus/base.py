"""The bus Protocol: topics of events, each subscriber gets every event of its topics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from command_center.events import Event


class Subscription(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    async def close(self) -> None: ...


class Bus(Protocol):
    async def start(self) -> None: ...

    async def publish(self, event: Event) -> None: ...

    def subscribe(self, topics: list[str], name: str) -> Subscription:
        """A named subscriber; with a durable backend the name is its consumer group."""
        ...

    async def close(self) -> None: ...
