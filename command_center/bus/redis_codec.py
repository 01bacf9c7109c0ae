"""How an Event lies in a stream entry, and what "Redis is unreachable" looks like."""

from __future__ import annotations

import asyncio
import json

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from command_center.events import Event

# Outages: retried, or buffered. Anything else (a wrong type, out of memory) is a real
# error and is raised.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)


def encode(event: Event) -> dict[str, str]:
    # id and type beside the JSON only so that XRANGE in redis-cli reads well.
    return {"id": event.id, "type": event.type, "event": json.dumps(event.to_dict(), ensure_ascii=False)}


def decode(fields: dict[str, str]) -> Event:
    return Event.from_dict(json.loads(fields["event"]))


def raise_if_cancelled() -> None:
    """Re-raise a cancellation that a redis-py command swallowed.

    Cancelled at the wrong moment inside a command, redis-py's asyncio client can lose
    the CancelledError and return normally (redis-py issues #2028, #2551; seen here with
    redis 8.1 on Python 3.11): a reading loop would then never end and a shutdown that
    awaits it would hang. The task still counts the request, so a loop checks it after
    each command.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
