"""Per-channel seq and history shared by every node, in Redis (see hub.py for the design).

Keys, under the bus's prefix:
- `{prefix}:hub:seq:{channel}`: the channel's last seq (INCR).
- `{prefix}:hub:hist:{channel}`: a stream holding the channel's recent messages, each
  under the entry id `{seq}-0`, so that XRANGE reads a seq range directly; capped at
  `history` entries (exact MAXLEN: `since` older than that is a resync).
- `{prefix}:hub:evt:{event_id}:{channel}`: the seq given to one event on one channel,
  kept `EVENT_TTL_S`: the window in which every node must have handled the event to
  deliver it under the same seq (a node further behind numbers it afresh).

One Lua script numbers a message and stores it, atomically and once per event: the
first node to handle the event assigns the seq, every other node reads it back.

While Redis cannot number messages the hub delivers nothing (the order every node
agrees on comes from Redis), yet its heartbeats go on: `degraded` says so, for
/api/health and the wall's banner, so that a quiet wall is not taken for a calm city.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from command_center.bus import redis_of

log = logging.getLogger(__name__)
EVENT_TTL_S = 600
FIRST_BACKOFF_S = 0.05
BACKOFF_MAX_S = 5.0

# KEYS: seq counter, history stream, event marker.
# ARGV: message head, message tail, has area ("1"/"0"), area, floor, history cap, marker ttl.
# Returns {seq, fresh}. The floor (the caller's own last seq on the channel) and the
# stream's last id keep the counter from going back if Redis lost it (restart without
# persistence): a seq a node has delivered is never handed out again.
_ASSIGN = """
local seen = redis.call('GET', KEYS[3])
if seen then return {tonumber(seen), 0} end
local seq = redis.call('INCR', KEYS[1])
local low = tonumber(ARGV[5])
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)[1]
if last then low = math.max(low, tonumber(string.match(last[1], '^(%d+)'))) end
if seq <= low then
  seq = low + 1
  redis.call('SET', KEYS[1], seq)
end
local message = ARGV[1] .. seq .. ARGV[2]
if ARGV[3] == '1' then
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[6], seq .. '-0', 'm', message, 'a', ARGV[4])
else
  redis.call('XADD', KEYS[2], 'MAXLEN', ARGV[6], seq .. '-0', 'm', message)
end
redis.call('SET', KEYS[3], seq, 'EX', ARGV[7])
return {seq, 1}
"""


@dataclass(frozen=True, slots=True)
class Post:
    """One message for one channel, made from one bus event."""

    event_id: str
    channel: str
    type: str
    data: dict[str, Any]
    area: str | None = None

    def frame(self) -> tuple[str, str]:
        """The message around its seq: head + str(seq) + tail is what clients receive,
        byte for byte what json.dumps of {channel, seq, type, data} gives."""
        head = '{"channel": ' + json.dumps(self.channel, ensure_ascii=False) + ', "seq": '
        tail = (
            ', "type": ' + json.dumps(self.type, ensure_ascii=False)
            + ', "data": ' + json.dumps(self.data, ensure_ascii=False) + "}"
        )
        return head, tail


# (message, area) of each seq after the one asked for, or None: some already left history
Replay = list[tuple[int, str, str | None]] | None


class RedisHubHistory:
    def __init__(self, client: Any, prefix: str, history: int, event_ttl_s: int = EVENT_TTL_S) -> None:
        self.client = client  # redis.asyncio.Redis with decode_responses=True (the bus's)
        self.prefix = prefix
        self.history = history
        self.event_ttl_s = event_ttl_s
        self._assign = client.register_script(_ASSIGN)
        self.degraded_since: float | None = None  # wall-clock time numbering began to fail

    @property
    def degraded(self) -> bool:
        """Messages wait, undelivered, because Redis cannot number them."""
        return self.degraded_since is not None

    def view(self) -> dict[str, object]:
        since = self.degraded_since
        return {"ok": since is None, "degraded_for_s": None if since is None else round(time.time() - since, 1)}

    def _keys(self, channel: str) -> tuple[str, str]:
        return f"{self.prefix}:hub:seq:{channel}", f"{self.prefix}:hub:hist:{channel}"

    async def assign(self, posts: list[Post], floors: list[int]) -> list[tuple[int, bool]]:
        """(seq, fresh) per post; fresh: this call numbered it. While Redis is unreachable
        it retries: the bus feeding the hub stalls then too, and a message cannot be
        numbered anywhere else without breaking the order every node agrees on."""
        # Imported here: this module is imported with a memory bus too, which needs no redis.
        from command_center.bus.redis_codec import UNREACHABLE, raise_if_cancelled

        delay = FIRST_BACKOFF_S
        while True:
            try:
                numbered = await self._assign_once(posts, floors)
                raise_if_cancelled()  # redis-py may swallow a cancel: a shutdown must not hang here
                if self.degraded_since is not None:
                    log.info("hub: numbering in Redis again after %.1f s", time.time() - self.degraded_since)
                    self.degraded_since = None
                return numbered
            except UNREACHABLE as exc:
                raise_if_cancelled()
                if self.degraded_since is None:
                    self.degraded_since = time.time()
                log.warning("hub: cannot number %d messages in Redis (%s); retrying", len(posts), exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX_S)

    async def _assign_once(self, posts: list[Post], floors: list[int]) -> list[tuple[int, bool]]:
        async with self.client.pipeline(transaction=False) as pipe:
            for post, floor in zip(posts, floors, strict=True):
                seq_key, hist_key = self._keys(post.channel)
                head, tail = post.frame()
                args = [head, tail, "0" if post.area is None else "1", post.area or "", floor, self.history, self.event_ttl_s]
                await self._assign(keys=[seq_key, hist_key, f"{self.prefix}:hub:evt:{post.event_id}:{post.channel}"],
                                   args=args, client=pipe)
            results = await pipe.execute()
        return [(int(seq), bool(int(fresh))) for seq, fresh in results]

    async def since(self, channels: dict[str, int]) -> dict[str, tuple[int, Replay]]:
        """Per channel: (its seq now, what came after the given seq or None for a resync)."""
        names = list(channels)
        async with self.client.pipeline(transaction=False) as pipe:
            for name in names:
                seq_key, hist_key = self._keys(name)
                pipe.get(seq_key)
                pipe.xrange(hist_key, f"{channels[name] + 1}-0", "+", count=self.history + 1)
            results = await pipe.execute()
        out: dict[str, tuple[int, Replay]] = {}
        for i, name in enumerate(names):
            current, entries = int(results[2 * i] or 0), results[2 * i + 1]
            if entries:  # another node may have added some between the GET and the XRANGE
                current = max(current, int(entries[-1][0].split("-", 1)[0]))
            out[name] = (current, _contiguous(channels[name], current, entries))
        return out


def _contiguous(last: int, current: int, entries: list[tuple[str, dict[str, str]]]) -> Replay:
    if last > current:
        return None  # the client saw seqs Redis no longer knows (it lost its data): start over
    got = [(int(entry_id.split("-", 1)[0]), fields["m"], fields.get("a")) for entry_id, fields in entries]
    # Every seq up to `current` was stored with it, so only trimming makes holes.
    if [s for s, _, _ in got] != list(range(last + 1, last + 1 + len(got))) or len(got) < current - last:
        return None
    return got


def shared_history(bus: object, history: int) -> RedisHubHistory | None:
    """A Redis history when the bus is Redis (same client and prefix), else None: the
    hub then numbers and keeps messages in memory, as a single node needs."""
    found = redis_of(bus)
    return None if found is None else RedisHubHistory(*found, history)
