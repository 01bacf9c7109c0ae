"""How an Event lies in a stream entry, and what "Redis is unreachable" looks like."""

from __future__ import annotations

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
