"""One subscriber of the Redis Streams bus: a consumer in a consumer group.

Groups. A shared name (the dispatcher) is one group for all processes: each event goes
to one of them. A new shared group starts at "0", so an event published before any
consumer existed (a camera node that came up first) is not lost; its processes then
resume from the group's position, whatever restarts. A fan-out name (`hub`) gets a group
per process, `hub@host-pid-rand`, starting at "$": a node's websocket clients want what
happens from now on (their history is the hub's business), and every node sees every
event. A fan-out group is destroyed on a clean close; one left by a crash is removed by
the next node to subscribe once all its consumers have been quiet for `stale_s`.

Acknowledgement. An event handed out is held until the consumer comes back for more;
the acknowledgements (XACK) are sent when nothing read ahead is left, before the next
read. A consumer taking one event at a time has finished with all of them by then, and
so has one that gathers what was read ahead into a batch and handles it before asking
again (`bus.batches` does, using `backlog`). `ack()` acknowledges at once; setting
`auto_ack = False` leaves acknowledging to it alone. A close acknowledges only when the
consumer is waiting for more: one closed while handling an event leaves it pending.

Reclaim. Entries pending for longer than `reclaim_idle_s` (their consumer died, or hangs)
are taken over with XAUTOCLAIM every `reclaim_every_s` and handed out again: delivery is
at least once, and consumers dedupe by event id (bus/dedupe.py).

Outages. A read or ack that cannot reach Redis is retried with backoff; a group that
vanished (Redis restarted without persistence) is created again from "0", since all
that stream now holds arrived after the restart.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, cast

from redis.exceptions import ResponseError

from command_center.bus.redis_codec import UNREACHABLE, decode, raise_if_cancelled
from command_center.events import Event

if TYPE_CHECKING:
    from command_center.bus.redis_streams import RedisBus

log = logging.getLogger(__name__)
FIRST_BACKOFF_S = 0.05
CLEANUP_EVERY = 12  # reclaim rounds between sweeps for quiet consumers (a minute by default)

Entry = tuple[str, str]  # (stream key, entry id)


class RedisSubscription:
    def __init__(self, bus: RedisBus, topics: list[str], name: str) -> None:
        self.name = name
        self.topics = list(dict.fromkeys(topics))
        self.fanout = name in bus.options.fanout
        # Per subscription, not per process: two subscriptions of one name in a process
        # share its events as two processes would.
        self.consumer = f"{bus.node}-{secrets.token_hex(3)}"
        self.group = f"{name}@{self.consumer}" if self.fanout else name
        self.auto_ack = True
        self._bus = bus
        self._streams = [bus.key(t) for t in self.topics]
        self._start = "$" if self.fanout else bus.options.start
        self._ahead: deque[tuple[Entry, Event]] = deque()  # read, not yet handed out
        self._held: dict[Entry, Event] = {}  # handed out, not yet done
        self._due: list[Entry] = []  # done, acknowledgement not yet sent
        self._given: dict[Entry, Event] = {}  # handed out, acknowledgement not yet sent (for release)
        self._yielded: Entry | None = None
        self._ready = False
        self._waiting = False  # the consumer asked for more and nothing was read ahead
        self._closed = False
        self._setup_lock = asyncio.Lock()
        self._last_reclaim = 0.0
        self._reclaims = 0
        self._cursors: dict[str, str] = {}

    @property
    def backlog(self) -> int:
        """Events read ahead, not yet handed out (lets a consumer gather a batch)."""
        return len(self._ahead)

    @property
    def pending(self) -> int:
        """Handed out or done, but not yet acknowledged to Redis."""
        return len(self._held) + len(self._due)

    async def setup(self) -> None:
        """Create the groups (idempotent); a failure leaves it to the first read to retry."""
        try:
            await self._ensure_groups()
        except UNREACHABLE as exc:
            log.warning("Redis bus: cannot set up group %s yet (%s)", self.group, exc)

    async def __aiter__(self) -> AsyncIterator[Event]:
        delay = FIRST_BACKOFF_S
        failing = False
        while not self._closed:
            if self._yielded is not None:  # the consumer came back: the last one is done
                entry, self._yielded = self._yielded, None
                if self.auto_ack and self._held.pop(entry, None) is not None:
                    self._due.append(entry)
            if self._ahead:
                entry, event = self._ahead.popleft()
                self._held[entry] = event
                self._given[entry] = event
                self._yielded = entry
                self._bus.stats.delivered += 1
                yield event
                continue
            raise_if_cancelled()
            self._waiting = True
            try:
                await self._send_acks()
                await self._fill()
                raise_if_cancelled()
            except UNREACHABLE as exc:
                self._bus.stats.errors += 1
                if not failing:
                    log.warning("Redis bus: reader %s lost Redis (%s); retrying", self.group, exc)
                failing = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._bus.options.backoff_max_s)
                continue
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                log.warning("Redis bus: group %s is gone (Redis restarted?); creating it again", self.group)
                self._ready, self._start, self._cursors = False, "0", {}
                continue
            finally:
                self._waiting = False
            if failing:
                failing, delay = False, FIRST_BACKOFF_S
                self._bus.stats.reconnects += 1
                log.info("Redis bus: reader %s reading again", self.group)

    async def ack(self, *events: Event) -> None:
        for entry in [e for e, held in self._held.items() if any(held is ev for ev in events)]:
            del self._held[entry]
            self._due.append(entry)
        try:
            await self._send_acks()
        except UNREACHABLE:  # kept in _due: sent with the next read
            self._bus.stats.errors += 1

    async def release(self, *events: Event) -> None:
        """Give these back unhandled: never acknowledged here, they stay pending in Redis
        and the reclaim (XAUTOCLAIM after `reclaim_idle_s`) hands them out again, to this
        consumer or another node's."""
        ids = {id(e) for e in events}
        entries = {entry for entry, event in self._given.items() if id(event) in ids}
        for entry in entries:
            self._held.pop(entry, None)
            del self._given[entry]
        self._due = [entry for entry in self._due if entry not in entries]
        if self._yielded in entries:
            self._yielded = None
        self._bus.stats.released += len(entries)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bus.forget(self)
        try:
            if self._waiting:
                await self._send_acks()
            if self.fanout:
                for stream in self._streams:
                    await self._bus.client.xgroup_destroy(stream, self.group)
            else:
                await self._leave_group()
        except (*UNREACHABLE, ResponseError) as exc:
            log.info("Redis bus: closing %s without cleanup (%s)", self.group, exc)

    # reading
    async def _fill(self) -> None:
        if not self._ready:
            await self._ensure_groups()
        opts = self._bus.options
        now = time.monotonic()
        # A fan-out group has one consumer: nobody else's entries to take over.
        if not self.fanout and now - self._last_reclaim >= opts.reclaim_every_s:
            self._last_reclaim = now
            await self._reclaim()
            if self._ahead:
                return
        reply = await self._bus.client.xreadgroup(
            self.group,
            self.consumer,
            dict.fromkeys(self._streams, ">"),
            count=opts.batch,
            block=opts.block_ms,
        )
        # redis-py types the reply for every protocol and encoding; this client speaks RESP2
        # with decode_responses: [[stream, [(entry id, fields or None), ...]], ...] or None.
        streams = cast("list[tuple[str, list[tuple[str, dict[str, str] | None]]]] | None", reply)
        for stream, entries in streams or []:
            for entry_id, fields in entries:
                self._take((stream, entry_id), fields)

    def _take(self, entry: Entry, fields: dict[str, str] | None) -> bool:
        if not fields:  # deleted meanwhile
            return False
        try:
            event = decode(fields)
        except (KeyError, TypeError, ValueError):
            # Not ours, or corrupt: acknowledged so that it is not handed round forever.
            self._bus.stats.malformed += 1
            log.error("Redis bus: skipping malformed entry %s in %s", entry[1], entry[0])
            self._due.append(entry)
            return False
        self._ahead.append((entry, event))
        return True

    async def _ensure_groups(self) -> None:
        async with self._setup_lock:
            if self._ready:
                return
            client = self._bus.client
            for stream in self._streams:
                try:
                    await client.xgroup_create(stream, self.group, id=self._start, mkstream=True)
                except ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):  # exists already: keep its position
                        raise
            if self.fanout:
                await self._remove_stale_fanout_groups()
            self._ready = True

    async def _send_acks(self) -> None:
        if not self._due:
            return
        due = self._due
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id in due:
            by_stream.setdefault(stream, []).append(entry_id)
        try:
            async with self._bus.client.pipeline(transaction=False) as pipe:
                for stream, ids in by_stream.items():
                    pipe.xack(stream, self.group, *ids)
                await pipe.execute()
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # The group went with a Redis restart: nothing is pending there any more.
        self._bus.stats.acked += len(due)
        self._due = []
        for entry in due:
            self._given.pop(entry, None)

    # reclaim
    async def _reclaim(self) -> None:
        """Take over entries that another consumer read but did not acknowledge in time."""
        opts = self._bus.options
        client = self._bus.client
        idle_ms = int(opts.reclaim_idle_s * 1000)
        mine = set(self._held) | set(self._due) | {entry for entry, _ in self._ahead}
        for stream in self._streams:
            cursor = self._cursors.get(stream, "0-0")
            next_cursor, entries, deleted = await client.xautoclaim(
                stream, self.group, self.consumer, idle_ms, cursor, count=opts.batch
            )
            self._cursors[stream] = next_cursor
            if deleted:
                # Trimmed by MAXLEN while pending: the stream was too short for the backlog.
                self._bus.stats.trimmed_unacked += len(deleted)
                log.error(
                    "Redis bus: %d pending entries of %s were trimmed before being acknowledged",
                    len(deleted),
                    stream,
                )
            for entry_id, fields in entries:
                if (stream, entry_id) in mine:
                    continue  # our own, still in hand
                if self._take((stream, entry_id), fields):
                    self._bus.stats.redelivered += 1
        self._reclaims += 1
        if not self.fanout and self._reclaims % CLEANUP_EVERY == 0:
            await self._remove_quiet_consumers()

    # housekeeping: a consumer name is per process, so crashed ones would pile up
    async def _remove_quiet_consumers(self) -> None:
        client = self._bus.client
        stale_ms = self._bus.options.stale_s * 1000
        for stream in self._streams:
            for info in await client.xinfo_consumers(stream, self.group):
                if info["name"] != self.consumer and info["pending"] == 0 and info["idle"] > stale_ms:
                    await client.xgroup_delconsumer(stream, self.group, info["name"])

    async def _remove_stale_fanout_groups(self) -> None:
        client = self._bus.client
        stale_ms = self._bus.options.stale_s * 1000
        for stream in self._streams:
            for group in await client.xinfo_groups(stream):
                name = group["name"]
                if not name.startswith(f"{self.name}@") or name == self.group:
                    continue
                consumers = await client.xinfo_consumers(stream, name)
                if consumers and all(c["idle"] > stale_ms for c in consumers):
                    log.info("Redis bus: removing fan-out group %s of a node gone quiet", name)
                    await client.xgroup_destroy(stream, name)

    async def _leave_group(self) -> None:
        """Drop this consumer from its shared group, unless it still owns pending entries
        (deleting it would delete them; they stay for another consumer to reclaim)."""
        client = self._bus.client
        for stream in self._streams:
            infos = await client.xinfo_consumers(stream, self.group)
            mine = next((c for c in infos if c["name"] == self.consumer), None)
            if mine is not None and mine["pending"] == 0:
                await client.xgroup_delconsumer(stream, self.group, self.consumer)
