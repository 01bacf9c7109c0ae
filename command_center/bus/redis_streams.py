"""Redis Streams bus: one stream per topic, consumer groups, at-least-once delivery.

- Keys: `{prefix}:stream:{topic}`, each bounded by `XADD MAXLEN ~ maxlen`.
- A subscriber's name is its consumer group; each subscription is one consumer in it
  (`host-pid-random`). A shared group (the dispatcher) splits the events among its
  processes; a fan-out name (`hub` by default) gets a group per process, so every node
  sees every event. See redis_subscription.py for reading, acking and reclaiming.
- URL options (redis_options.py): prefix, maxlen, buffer, batch, block_ms,
  reclaim_idle_s, reclaim_every_s, fanout, start, stale_s, backoff_max_s.
- `stats` (published, buffered, rejected, reconnects, redelivered, trimmed_unacked...)
  is for /metrics.
- While Redis is unreachable, `publish` keeps events in a bounded in-memory buffer that
  a background task writes out in order once Redis answers again; a full buffer raises
  BusUnavailable. Nothing is dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import deque
from dataclasses import asdict, dataclass
from itertools import islice

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from command_center.bus.base import BusUnavailable
from command_center.bus.redis_codec import UNREACHABLE, encode, raise_if_cancelled
from command_center.bus.redis_options import RedisBusOptions, parse_redis_url, redacted
from command_center.bus.redis_subscription import RedisSubscription
from command_center.events import Event

log = logging.getLogger(__name__)
FLUSH_CHUNK = 256  # buffered events written per round trip after an outage
FIRST_BACKOFF_S = 0.05


@dataclass
class BusStats:
    published: int = 0  # entries written to Redis (directly or from the buffer)
    buffered: int = 0  # waiting in the local buffer now
    buffered_total: int = 0  # ever put in the buffer
    rejected: int = 0  # publishes refused because the buffer was full
    reconnects: int = 0  # recoveries after Redis was unreachable (publisher and each reader)
    delivered: int = 0  # entries handed to consumers, redeliveries included
    redelivered: int = 0  # entries taken over from a consumer that went quiet (XAUTOCLAIM)
    acked: int = 0
    trimmed_unacked: int = 0  # pending entries trimmed by MAXLEN before anyone acked them: lost
    malformed: int = 0  # entries that were not our events: acknowledged and skipped
    errors: int = 0  # Redis calls that failed: publishes buffered instead, reads and acks retried
    released: int = 0  # entries a consumer gave back unhandled: left pending for the reclaim

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class RedisBus:
    def __init__(self, url: str) -> None:
        self.options: RedisBusOptions = parse_redis_url(url)
        opts = self.options
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            opts.url,
            decode_responses=True,
            # Our own loops retry with backoff and buffering; redis-py's hidden retries
            # would only stall a publish before it could be buffered.
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2.0,
            socket_timeout=opts.block_ms / 1000 + 5.0,  # a blocking read must not time out
        )
        # Each subscription adds a random part: it is one consumer of its group.
        self.node = f"{socket.gethostname()}-{os.getpid()}"
        self.stats = BusStats()
        self._buffer: deque[tuple[str, dict[str, str]]] = deque()
        self._up = True  # optimistic: the first failed call says otherwise
        self._down = asyncio.Event()
        self._keeper: asyncio.Task[None] | None = None
        self._subscriptions: set[RedisSubscription] = set()
        # Group creations in flight: a publish waits for them, so a fan-out group that
        # starts at "$" cannot miss an event this process publishes right after subscribing.
        self._setups: set[asyncio.Task[None]] = set()

    @property
    def published(self) -> int:
        return self.stats.published

    @property
    def connected(self) -> bool:
        return self._up

    def key(self, topic: str) -> str:
        return f"{self.options.prefix}:stream:{topic}"

    async def start(self) -> None:
        if self._keeper is None:
            self._keeper = asyncio.create_task(self._keep_connected(), name="redis-bus-reconnect")
        try:
            await self.client.ping()
        except UNREACHABLE as exc:
            # Start anyway: events are buffered and readers wait until Redis is back.
            self._went_down(exc)

    async def publish(self, event: Event) -> None:
        fields = encode(event)
        key = self.key(event.topic)
        await self.ready()
        # Once anything is buffered, everything after it queues behind it: order is kept.
        if self._up and not self._buffer:
            try:
                await self.client.xadd(key, fields, maxlen=self.options.maxlen, approximate=True)  # type: ignore[arg-type]
                self.stats.published += 1
                raise_if_cancelled()
                return
            except UNREACHABLE as exc:
                # The XADD may have landed before the connection broke: sending it again
                # can duplicate it, which consumers absorb by event id (at-least-once).
                self.stats.errors += 1
                self._went_down(exc)
        if len(self._buffer) >= self.options.buffer:
            self.stats.rejected += 1
            raise BusUnavailable(
                f"Redis at {redacted(self.options.url)} is unreachable and {len(self._buffer)} events already wait "
                f"in the local buffer (bus URL option buffer={self.options.buffer}); event {event.type} "
                f"{event.id} was not accepted"
            )
        self._buffer.append((key, fields))
        self.stats.buffered = len(self._buffer)
        self.stats.buffered_total += 1

    async def ready(self, timeout: float = 5.0) -> None:
        """Wait until the groups of the subscriptions made so far exist (or failed to be
        made: Redis down), so that what is published next reaches them."""
        if self._setups:
            await asyncio.wait(set(self._setups), timeout=timeout)

    def subscribe(self, topics: list[str], name: str) -> RedisSubscription:
        sub = RedisSubscription(self, topics, name)
        self._subscriptions.add(sub)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return sub  # no loop yet: the subscription sets its groups up when first read
        task = asyncio.create_task(sub.setup(), name=f"redis-bus-setup-{name}")
        self._setups.add(task)
        task.add_done_callback(self._setups.discard)
        return sub

    async def close(self) -> None:
        for task in list(self._setups):
            task.cancel()
        for sub in list(self._subscriptions):
            await sub.close()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        if self._buffer:
            with contextlib.suppress(*UNREACHABLE):
                await self._flush()
        if self._buffer:
            # Said loudly: these events exist nowhere else.
            log.error(
                "closing the Redis bus with %d events still unsent (Redis unreachable)", len(self._buffer)
            )
        await self.client.aclose()

    def forget(self, sub: RedisSubscription) -> None:
        self._subscriptions.discard(sub)

    # outage handling
    def _went_down(self, exc: BaseException) -> None:
        if self._up:
            log.warning(
                "Redis bus: %s unreachable (%s); buffering publishes", redacted(self.options.url), exc
            )
        self._up = False
        self._down.set()

    async def _keep_connected(self) -> None:
        """Waits for an outage, then pings with backoff and writes the buffer out in order."""
        while True:
            await self._down.wait()
            delay = FIRST_BACKOFF_S
            while True:
                try:
                    await self.client.ping()
                    await self._flush()
                    raise_if_cancelled()
                    break
                except UNREACHABLE:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.options.backoff_max_s)
                except Exception:  # e.g. a server still loading its data: try again later
                    log.exception("Redis bus: writing out buffered events")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, self.options.backoff_max_s)
            # No await between the buffer running empty and this: a publish in between
            # would otherwise pass the buffer.
            self._up = True
            self._down.clear()
            self.stats.reconnects += 1
            log.info("Redis bus: %s reachable again", redacted(self.options.url))

    async def _flush(self) -> None:
        opts = self.options
        while self._buffer:
            chunk = list(islice(self._buffer, FLUSH_CHUNK))
            async with self.client.pipeline(transaction=False) as pipe:
                for key, fields in chunk:
                    pipe.xadd(key, fields, maxlen=opts.maxlen, approximate=True)  # type: ignore[arg-type]
                await pipe.execute()
            # Publishers only append while we are down, so the chunk is still at the left.
            for _ in chunk:
                self._buffer.popleft()
            self.stats.published += len(chunk)
            self.stats.buffered = len(self._buffer)
