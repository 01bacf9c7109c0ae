"""The hub's parts: who may see what (Access), a channel with its history, a client with
its send queue, and which channel names exist at all (clients never create one)."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.websockets import WebSocket

from command_center.community_live import known as community_channel

# The bus topics the hub relays (hub_feed.TOPICS) and each worker's own task channel.
TOPICS = frozenset({"incidents", "cases", "cameras", "drones", "grids", "hotspots", "emergency", "verifications", "care", "devices", "community"})
TASK_CHANNEL = re.compile(r"tasks:[A-Za-z0-9_.@-]{1,58}")
# The residents' chat (command_center/chat_service.py): `chats` for the hall by grid, and each
# resident's own `chat:<resident id>`, the only channel a resident's socket may subscribe.
CHAT_CHANNELS = frozenset({"chats"})
RESIDENT_PREFIXES = ("chat:", "market:", "forum:")
CHAT_CHANNEL = re.compile(r"chat:RS[0-9a-f]{16}")


def known_channel(name: str) -> bool:
    return (
        name in TOPICS
        or name in CHAT_CHANNELS
        or TASK_CHANNEL.fullmatch(name) is not None
        or CHAT_CHANNEL.fullmatch(name) is not None
        or community_channel(name)  # 服务超市 and 论坛: market:<resident>, forum:<community>, community
    )


@dataclass(frozen=True, slots=True)
class Access:
    """What one connection may see: areas under `prefix` ("" is everywhere) and, when
    `only` is set, nothing but those channels (a worker's own `tasks:<id>`)."""

    prefix: str = ""
    only: frozenset[str] | None = None
    user: str = ""
    role: str = ""

    def may_subscribe(self, channel: str) -> bool:
        if self.only is not None:
            return channel in self.only
        # A resident's own channels (their chat, their requests, their community's board) carry
        # no area: they are for the resident's socket, which names them in `only`, never for staff.
        return not channel.startswith(RESIDENT_PREFIXES)

    def sees(self, area: str | None) -> bool:
        return area is None or not self.prefix or area.startswith(self.prefix)


EVERYONE = Access()


@dataclass
class Channel:
    name: str
    history_size: int
    seq: int = 0
    history: deque[tuple[int, str, str | None]] = field(default_factory=deque)  # (seq, message, area)
    subscribers: set[Client] = field(default_factory=set)

    def append(self, message: str, area: str | None) -> None:
        self.history.append((self.seq, message, area))
        while len(self.history) > self.history_size:
            self.history.popleft()

    def since(self, seq: int) -> list[tuple[str, str | None]] | None:
        """(message, area) after `seq`, or None when some of them have left the history."""
        if seq >= self.seq:
            return []
        oldest = self.history[0][0] if self.history else self.seq + 1
        if seq + 1 < oldest:
            return None
        out = [(message, area) for s, message, area in self.history if s > seq]
        # One node of several may have a hole (Redis lost its counter): not a full replay.
        return out if len(out) == self.seq - seq else None


class Client:
    _ids = itertools.count(1)

    def __init__(self, websocket: WebSocket, access: Access, batch: bool = False) -> None:
        self.id = next(self._ids)
        self.websocket = websocket
        self.access = access
        self.batch = batch  # it takes several messages per frame, as a JSON array
        self.channels: set[str] = set()
        self.pending: deque[str] = deque()
        self.waiter: asyncio.Future[None] | None = None
        self.slow = False
        self.in_send = False  # the writer is suspended inside a send: flow control holds it
        self.sent = 0
        self.last_sent = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        self.ended: str | None = None  # why the server ended it (token expired or revoked)
        # Shared history only: live messages held back while a replay is read (channel →
        # (seq, message, area)), and per channel the last seq replayed (not to send twice).
        self.holding: dict[str, list[tuple[int, str, str | None]]] | None = None
        self.floors: dict[str, int] | None = None

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)
