"""Websocket hub: channels with per-channel seq, bounded history and replay.

A client subscribes to channels, optionally with the last seq it saw per channel;
the hub replays what it missed from history, or tells it to resync when the gap is
older than the history. Each client has a bounded send queue: a client that cannot
keep up is disconnected instead of slowing the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)

Filter = Callable[[str, dict[str, Any]], bool]  # (channel, data) → may this client see it?


@dataclass
class Channel:
    name: str
    history_size: int
    seq: int = 0
    history: deque[tuple[int, str]] = field(default_factory=deque)

    def append(self, message: str) -> None:
        self.history.append((self.seq, message))
        while len(self.history) > self.history_size:
            self.history.popleft()

    def since(self, seq: int) -> list[str] | None:
        """Messages after `seq`, or None when some of them have left the history."""
        if seq >= self.seq:
            return []
        oldest = self.history[0][0] if self.history else self.seq + 1
        if seq + 1 < oldest:
            return None
        return [message for s, message in self.history if s > seq]


class Client:
    def __init__(self, websocket: WebSocket, queue_size: int, allow: Filter | None) -> None:
        self.websocket = websocket
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.channels: set[str] = set()
        self.allow = allow
        self.slow = False
        self.task: asyncio.Task[None] | None = None


@dataclass
class HubStats:
    connected: int = 0
    published: int = 0
    sent: int = 0
    disconnected_slow: int = 0
    resyncs: int = 0
    max_queue_depth: int = 0


class Hub:
    def __init__(self, history: int = 1000, queue_size: int = 256, heartbeat_s: float = 15.0) -> None:
        self.history = history
        self.queue_size = queue_size
        self.heartbeat_s = heartbeat_s
        self.channels: dict[str, Channel] = {}
        self.clients: set[Client] = set()
        self.stats = HubStats()

    def channel(self, name: str) -> Channel:
        if name not in self.channels:
            self.channels[name] = Channel(name, self.history)
        return self.channels[name]

    def publish(self, channel: str, type_: str, data: dict[str, Any]) -> int:
        """Number the message, keep it in history and queue it for every subscriber.
        Call from the event loop."""
        chan = self.channel(channel)
        chan.seq += 1
        message = json.dumps({"channel": channel, "seq": chan.seq, "type": type_, "data": data}, ensure_ascii=False)
        chan.append(message)
        self.stats.published += 1
        for client in list(self.clients):
            if channel in client.channels and (client.allow is None or client.allow(channel, data)):
                self._offer(client, message)
        return chan.seq

    def _offer(self, client: Client, message: str) -> None:
        if client.slow:
            return
        try:
            client.queue.put_nowait(message)
        except asyncio.QueueFull:
            client.slow = True
            self.stats.disconnected_slow += 1
            log.warning("disconnecting slow websocket client (%d queued)", client.queue.qsize())
            # Its writer may be stuck in a send that never drains: stop the whole handler.
            if client.task is not None:
                client.task.cancel()
            return
        self.stats.max_queue_depth = max(self.stats.max_queue_depth, client.queue.qsize())

    async def serve(self, websocket: WebSocket, allow: Filter | None = None) -> None:
        await websocket.accept()
        client = Client(websocket, self.queue_size, allow)
        client.task = asyncio.current_task()
        self.clients.add(client)
        self.stats.connected += 1
        writer = asyncio.create_task(self._write(client))
        try:
            while True:
                try:
                    raw = await websocket.receive_text()
                except WebSocketDisconnect:
                    break
                self._handle(client, raw)
        except asyncio.CancelledError:
            if not client.slow:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]  # we cancelled it ourselves
        finally:
            self.clients.discard(client)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        if not client.slow:
            with contextlib.suppress(Exception):
                await websocket.close()

    def _handle(self, client: Client, raw: str) -> None:
        try:
            msg = json.loads(raw)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            self._offer(client, json.dumps({"type": "error", "error": "expected a JSON object with an 'op'"}))
            return
        if op == "ping":
            self._offer(client, json.dumps({"type": "pong"}))
        elif op == "subscribe":
            self._subscribe(client, msg.get("channels") or [], msg.get("since") or {})
        elif op == "unsubscribe":
            client.channels.difference_update(msg.get("channels") or [])
        elif op == "ack":
            pass  # case acks go through the HTTP API, which records who and when
        else:
            self._offer(client, json.dumps({"type": "error", "error": f"unknown op {op!r}"}))

    def _subscribe(self, client: Client, channels: list[Any], since: dict[str, Any]) -> None:
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            self._offer(client, json.dumps({"type": "error", "error": "channels must be a list of names"}))
            return
        # Replay and registration happen without an await in between, so nothing
        # published meanwhile can slip between the replayed and the live messages.
        for name in channels:
            chan = self.channel(name)
            last = since.get(name) if isinstance(since, dict) else None
            if isinstance(last, int):
                missed = chan.since(last)
                if missed is None:
                    self.stats.resyncs += 1
                    self._offer(client, json.dumps({"type": "resync", "channel": name, "seq": chan.seq}))
                else:
                    for message in missed:
                        if client.allow is None or client.allow(name, json.loads(message)["data"]):
                            self._offer(client, message)
            client.channels.add(name)
        seqs = {name: self.channel(name).seq for name in channels}
        self._offer(client, json.dumps({"type": "subscribed", "channels": channels, "seq": seqs}))

    async def _write(self, client: Client) -> None:
        while True:
            try:
                message = await asyncio.wait_for(client.queue.get(), timeout=self.heartbeat_s)
            except TimeoutError:
                message = json.dumps({"type": "heartbeat"})
            await client.websocket.send_text(message)
            self.stats.sent += 1
