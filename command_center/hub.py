"""Websocket hub: channels with per-channel seq, bounded history and replay, scoped delivery.

A client subscribes to channels, optionally with the last seq it saw per channel;
the hub replays what it missed from history, or tells it to resync when the gap is
older than the history. Each client has a bounded send queue: a client that cannot
keep up is disconnected instead of slowing the others down.

Scoping: every message may carry an area (a grid code) and every client an `Access`
(a jurisdiction prefix and the channels it may subscribe). A message is delivered
only where the area starts with the prefix, so a district officer never receives
another district's events; a message without an area (a city-wide notice) goes to
every subscriber of its channel. Replays are filtered the same way.

Cost per delivery is what matters at a thousand clients: a message is serialized
once, a channel knows its subscribers (no scan of every client), the per-client queue
is a plain deque, and a client's writer drains everything queued in one wake-up.

Batched frames (`/ws?batch=1`, as Centrifugo and Phoenix do): each websocket frame
costs the server far more than the JSON inside it, so a client that opts in gets what
has queued up for it in one frame, a JSON array of messages, at most MAX_BATCH of them.
Nothing waits to fill a batch: a lone message goes out at once, as a plain object.
Batches form only when the server is busy, which is when they help.

Slow client or busy server: a full queue means the client is slow only when its
writer is stuck in a send (the connection's buffers are full: it does not read).
When the writer is merely waiting for the CPU, the whole server is behind, and
dropping every client would turn a burst into a reconnect storm; the queue may then
grow to LAG_FACTOR times its size before the client is dropped all the same.

Several nodes (hub_history.py). Behind one address, every node's hub gets every bus
event (a fan-out group per process) and must deliver it under the same seq, so that a
client reconnecting to another node resumes with `since`. The seq is assigned once per
event, by whichever node handles it first: a Lua script in Redis numbers it (INCR),
stores the message in the channel's capped history and remembers the seq under the
event id; every other node gets that seq back. Each node reads a topic's stream in
order, so seqs follow stream order and have no holes. A node delivers a seq only once
and only above the last it delivered (a redelivered event is skipped). Replay on
`since` then reads the shared history, up to the seq Redis has now: a node may be
behind the others, or have started after the events, so the client also skips live
messages at or below what it was replayed (`Client.floors`). Live messages that come
while the replay is being read wait in `Client.holding`, behind it. With Redis
unreachable, a replay falls back to this node's own history (or a resync).

Bounds (a client is anyone signed in): a message over MAX_MESSAGE, a subscribe naming
more than `max_channels` channels, or one that would take a connection past that many,
is refused whole; only known channels (the bus topics and `tasks:<worker id>`) can be
subscribed, so a client never creates a channel, and a channel with neither subscribers
nor history is dropped when its last subscriber leaves. Each websocket is a live
session of its user (auth/sessions.py): capped per user, and closed with 4401 when the
token expires or is revoked (hub_connection.py: a connection's session, ops and close).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from json.encoder import encode_basestring as _quoted  # a JSON string, non-ASCII kept (ensure_ascii=False)
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket

from command_center.auth.sessions import Sessions
from command_center.hub_connection import MAX_MESSAGE as MAX_MESSAGE  # where the CLI and tests look
from command_center.hub_connection import serve_connection
from command_center.hub_parts import EVERYONE, Access, Channel, Client, known_channel
from command_center.hub_stats import HubStats, hub_view

if TYPE_CHECKING:
    from command_center.hub_history import Post, RedisHubHistory

log = logging.getLogger(__name__)
RATE_WINDOW_S = 5.0  # messages/s is measured over about this long
LAG_FACTOR = 8  # how far past queue_size a client may fall behind when the server, not it, is slow
MAX_BATCH = 64  # messages in one frame for a client that takes batches
MAX_CHANNELS = 64  # default cap on channels per subscribe message and per connection
ECHO = 10  # refused channel names echoed back in an error, at most


class Hub:
    def __init__(self, history: int = 1000, queue_size: int = 256, heartbeat_s: float = 15.0) -> None:
        self.history = history
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.channels: dict[str, Channel] = {}
        self.clients: set[Client] = set()
        self.stats = HubStats()
        self._rate: deque[tuple[float, int]] = deque()  # (monotonic time, stats.sent)
        self._ticker: asyncio.Task[None] | None = None
        self.shared: RedisHubHistory | None = None  # seq and history in Redis: several nodes
        self.max_channels = MAX_CHANNELS
        self.sessions: Sessions | None = None  # set by the runtime: per-user caps and revocation
        # Client ops beyond subscribe/unsubscribe/ping, by name, added by features (the residents'
        # chat's `chat.send`, chat_socket.py); each is awaited in its connection's reader.
        self.ops: dict[str, Callable[[Client, dict[str, Any]], Awaitable[None]]] = {}

    def channel(self, name: str) -> Channel:
        chan = self.channels.get(name)
        if chan is None:
            chan = self.channels[name] = Channel(name, self.history)
        return chan

    def publish(self, channel: str, type_: str, data: dict[str, Any], area: str | None = None) -> int:
        """Number the message, keep it in history and queue it for every subscriber that
        may see `area` (None: everyone). Call from the event loop. Numbered by this node
        alone: bus events go through `publish_all`, which numbers them for every node."""
        return self.publish_json(channel, type_, json.dumps(data, ensure_ascii=False), area)

    def publish_json(
        self, channel: str, type_: str, data: str, area: str | None = None, skip: Client | None = None
    ) -> int:
        """`publish` with the data already encoded as a JSON object: one encoding serves every
        channel a message goes to (the residents' chat sends each to three). `skip`: a client
        that has it already (the chat's sender on its own socket, answered by `chat.sent`)."""
        chan = self.channel(channel)
        seq = chan.seq + 1
        # json.dumps' own text for {"channel", "seq", "type", "data"}, without building a dict per message
        frame = f'{{"channel": {_quoted(channel)}, "seq": {seq}, "type": {_quoted(type_)}, "data": {data}}}'
        self._deliver(chan, seq, frame, area, skip)
        return seq

    async def publish_all(self, posts: list[Post]) -> None:
        """Bus events' messages, in order: numbered here, or once for all nodes in Redis."""
        if self.shared is None:
            for post in posts:
                self.publish(post.channel, post.type, post.data, post.area)
            return
        floors = [self.channel(post.channel).seq for post in posts]
        try:
            numbered = await self.shared.assign(posts, floors)  # waits out an outage
        except Exception:  # not an outage (a bug, a key of the wrong type): keep the feed going
            log.exception("hub: numbering %d messages in Redis failed; not delivered", len(posts))
            return
        for post, (seq, _fresh) in zip(posts, numbered, strict=True):
            chan = self.channel(post.channel)
            if seq <= chan.seq:
                continue  # delivered here already: a redelivery of the event
            head, tail = post.frame()
            self._deliver(chan, seq, f"{head}{seq}{tail}", post.area)

    def _deliver(
        self, chan: Channel, seq: int, message: str, area: str | None, skip: Client | None = None
    ) -> None:
        chan.seq = seq
        chan.append(message, area)
        self.stats.published += 1
        for client in tuple(chan.subscribers):
            if client is skip or not client.access.sees(area):
                continue
            if client.holding is None and client.floors is None:
                self.offer(client, message)
            else:
                self._offer_gated(client, chan.name, seq, message, area)

    def _offer_gated(self, client: Client, channel: str, seq: int, message: str, area: str | None) -> None:
        if client.holding is not None and channel in client.holding:
            client.holding[channel].append((seq, message, area))
            return
        floor = client.floors.get(channel) if client.floors is not None else None
        if floor is not None:
            if seq <= floor:
                return  # replayed from the shared history before this node got to it
            del client.floors[channel]  # type: ignore[union-attr]
            if not client.floors:
                client.floors = None
        self.offer(client, message)

    def offer(self, client: Client, message: str) -> None:
        if client.slow:
            return
        depth = len(client.pending)
        if depth >= self.queue_size and (client.in_send or depth >= self.queue_size * LAG_FACTOR):
            client.slow = True
            self.stats.disconnected_slow += 1
            log.warning("disconnecting slow websocket client %s (%d queued)", client.access.user or client.id, depth)
            # Its writer may be stuck in a send that never drains: stop the whole handler.
            if client.task is not None:
                client.task.cancel()
            return
        if depth == self.queue_size:
            self.stats.lagging += 1
        client.pending.append(message)
        if depth == 0:
            client.wake()
        if depth >= self.stats.max_queue_depth:
            self.stats.max_queue_depth = depth + 1

    async def serve(self, websocket: WebSocket, access: Access = EVERYONE) -> None:
        """One websocket, until it leaves (hub_connection.py: its session, ops and close)."""
        await serve_connection(self, websocket, access)

    def join(self, client: Client) -> None:
        self.clients.add(client)
        self.stats.connected += 1
        self._start_ticker()

    def forget(self, client: Client) -> None:
        self.clients.discard(client)
        for name in client.channels:
            self._leave(client, name)
        client.pending.clear()
        if not self.clients and self._ticker is not None:
            self._ticker.cancel()  # nothing to beat for; the next client starts it again
            self._ticker = None

    def _leave(self, client: Client, name: str) -> None:
        chan = self.channels.get(name)
        if chan is None:
            return
        chan.subscribers.discard(client)
        if not chan.subscribers and chan.seq == 0:
            del self.channels[name]  # nothing to keep: no one listens and nothing was said

    def error(self, client: Client, error: str, **more: Any) -> None:
        self.offer(client, json.dumps({"type": "error", "error": error, **more}, ensure_ascii=False))

    def unsubscribe(self, client: Client, names: list[Any]) -> None:
        for name in names:
            if isinstance(name, str) and name in client.channels:
                client.channels.discard(name)
                self._leave(client, name)

    def _admit(self, client: Client, channels: list[Any]) -> list[str] | None:
        """The channels of a subscribe this client may have; None (and an error sent) when
        the whole message is refused. Nothing is created for a refused name."""
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            self.error(client, "channels must be a list of names")
            return None
        if len(channels) > self.max_channels:
            self.error(client, "too many channels", limit=self.max_channels, asked=len(channels))
            return None
        channels = list(dict.fromkeys(channels))
        for test, error in ((known_channel, "unknown channels"), (client.access.may_subscribe, "not allowed to subscribe")):
            refused = [name for name in channels if not test(name)]
            if refused:
                self.stats.refused_channels += len(refused)
                self.error(client, error, channels=[name[:64] for name in refused[:ECHO]], refused=len(refused))
                channels = [name for name in channels if test(name)]
        if len(client.channels | set(channels)) > self.max_channels:
            self.error(client, "too many channels", limit=self.max_channels, subscribed=len(client.channels))
            return None
        return channels

    async def subscribe(self, client: Client, channels: list[Any], since: dict[str, Any]) -> None:
        admitted = self._admit(client, channels)
        if admitted is None:
            return
        channels = admitted
        lasts = {}
        for name in channels:
            last = since.get(name) if isinstance(since, dict) else None
            if isinstance(last, int) and not isinstance(last, bool):
                lasts[name] = last
        if self.shared is not None and lasts:
            await self._subscribe_shared(client, channels, lasts)
            return
        # Replay and registration happen without an await in between, so nothing
        # published meanwhile can slip between the replayed and the live messages.
        for name in channels:
            chan = self.channel(name)
            if name in lasts:
                self._replay(client, name, chan.since(lasts[name]), chan.seq)
            client.channels.add(name)
            chan.subscribers.add(client)
        seqs = {name: self.channel(name).seq for name in channels}
        self.offer(client, json.dumps({"type": "subscribed", "channels": channels, "seq": seqs}))

    def _replay(self, client: Client, name: str, missed: list[tuple[str, str | None]] | None, seq: int) -> None:
        if missed is None:
            self.stats.resyncs += 1
            self.offer(client, json.dumps({"type": "resync", "channel": name, "seq": seq}))
            return
        for message, area in missed:
            if client.access.sees(area):
                self.offer(client, message)

    async def _subscribe_shared(self, client: Client, channels: list[str], lasts: dict[str, int]) -> None:
        """Replay from the shared history: the client is registered first and its live
        messages of these channels are held until the replay, read with an await, is sent."""
        assert self.shared is not None
        holding = client.holding = client.holding or {}
        for name in channels:
            if name in lasts:
                holding[name] = []
            client.channels.add(name)
            self.channel(name).subscribers.add(client)
        try:
            found = await self.shared.since(lasts)
        except Exception as exc:  # Redis away: what this node remembers, or a resync
            log.warning("hub: shared history unreadable (%s); replaying from this node", exc)
            found = None
        if client not in self.clients:
            return  # gone while we read
        seqs = {}
        for name in channels:
            chan = self.channel(name)
            seqs[name] = chan.seq
            if name not in lasts:
                continue
            held = holding.pop(name, [])
            if found is None:
                upto = chan.seq
                self._replay(client, name, chan.since(lasts[name]), upto)
            else:
                upto, replay = found[name]
                self._replay(client, name, None if replay is None else [(m, a) for _, m, a in replay], upto)
            for seq, message, _area in held:  # already filtered by access when held
                if seq > upto:
                    self.offer(client, message)
            if upto > chan.seq:
                # Replayed (or covered by the resync) up to `upto`: this node, behind the
                # others, is still on its way to some of those seqs and must not send them again.
                client.floors = client.floors or {}
                client.floors[name] = upto
            seqs[name] = max(chan.seq, upto)
        if not holding:
            client.holding = None
        self.offer(client, json.dumps({"type": "subscribed", "channels": channels, "seq": seqs}))

    async def write(self, client: Client) -> None:
        loop = asyncio.get_running_loop()
        send = client.websocket.send_text
        pending = client.pending
        while True:
            sent = frames = 0
            while pending:
                client.in_send = True
                if client.batch and len(pending) > 1:
                    n = min(len(pending), MAX_BATCH)
                    await send("[" + ",".join([pending.popleft() for _ in range(n)]) + "]")
                    sent += n
                else:
                    await send(pending.popleft())
                    sent += 1
                client.in_send = False
                frames += 1
            if sent:
                client.sent += sent
                self.stats.sent += sent
                self.stats.frames += frames
                client.last_sent = time.monotonic()
            client.waiter = loop.create_future()
            await client.waiter
            client.waiter = None

    # heartbeats and the send rate, for every client from one task
    def _start_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="hub-ticker")

    async def _tick(self) -> None:
        heartbeat = json.dumps({"type": "heartbeat"})
        every = min(1.0, self.heartbeat_s / 2)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            self._sample_rate(now)
            for client in tuple(self.clients):
                if not client.pending and now - client.last_sent >= self.heartbeat_s:
                    client.last_sent = now
                    self.offer(client, heartbeat)

    def _sample_rate(self, now: float) -> None:
        self._rate.append((now, self.stats.sent))
        while len(self._rate) > 2 and now - self._rate[1][0] >= RATE_WINDOW_S:
            self._rate.popleft()

    def sent_per_s(self) -> float:
        if len(self._rate) < 2:
            return 0.0
        (t0, n0), (t1, n1) = self._rate[0], self._rate[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def view(self, per_client: int = 0) -> dict[str, Any]:
        """The stats object: totals, backpressure now, and the `per_client` deepest queues."""
        return hub_view(self, per_client)
