"""The one interface between the transports and what readings mean: `Handler(topic, payload)`.

The MQTT intake calls it for each message, the HTTP intake (api/iot_intake.py) for each
post, under the topic the sender would have published to; the IoT service (the glue) gives
one that parses and applies the readings. Kept apart so that the HTTP side does not load the
MQTT client library.

A handler that can also take several messages at once (`BatchHandler.handle_many`: one
transaction for all, a group commit) lets the MQTT intake hand it what the broker has already
sent, and acknowledge them all after it returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, runtime_checkable

# (topic, payload) → handled. Raises ValueError for a payload it cannot take (counted, logged
# with the reason, acknowledged; over HTTP a 400); any other exception is counted and logged
# with its traceback (over HTTP a 503).
Handler = Callable[[str, bytes], Awaitable[None]]


@runtime_checkable
class BatchHandler(Protocol):
    async def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> list[Exception | None]:
        """Each message's outcome in order: None, or the ValueError that refused it. Any other
        exception is raised, for the lot."""
        ...
