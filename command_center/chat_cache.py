"""The send path's state on one node (chat_fast.py): the conversations it gates messages on,
each resident's recent sends for the flood limits, the messages in flight, and the app's
parts the path uses, looked up once: a message's checks run in memory on the loop, before
anything is delivered, so every lookup there is paid by the party waiting for it."""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import HTTPConnection

from command_center.api import deps
from command_center.chat_service import OUTBOX, ChatDesk, desk_of
from command_center.city_map import CityMap
from command_center.hub import Hub
from command_center.store.chat_records import ChatRecords
from command_center.store.chat_schema import chat_conversations
from residents.chat_rules import ChatConfig, Flood, flood, flood_window

CACHED = 50_000  # conversations kept per node (least recently used out first)
DONE_REFS = 20_000  # refs of stored messages remembered, for re-sends that lost their answer
LIGHT = [c.name for c in chat_conversations.c]


class Conversations:
    """This node's cache of conversations, light rows (no unread counts)."""

    def __init__(self, records: ChatRecords, most: int = CACHED) -> None:
        self.records, self.most = records, most
        self.rows: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def get(self, conversation_id: str) -> dict[str, Any] | None:
        found = self.rows.get(conversation_id)
        if found is not None:
            self.rows.move_to_end(conversation_id)
            return found
        found = await asyncio.to_thread(self.records.get_light, conversation_id)
        if found is not None:
            self.put(found)
        return found

    def put(self, conversation: dict[str, Any]) -> None:
        self.rows[conversation["id"]] = dict(conversation)
        self.rows.move_to_end(conversation["id"])
        while len(self.rows) > self.most:
            self.rows.popitem(last=False)

    def put_all(self, conversations: list[dict[str, Any]]) -> None:
        """Rows just read (a resident's socket opening, a list): light fields only."""
        for found in conversations:
            self.put({k: found[k] for k in LIGHT})

    def note(self, conversation: dict[str, Any]) -> None:
        """A change seen (this node's write, another node's event): kept only if cached."""
        found = self.rows.get(conversation.get("id", ""))
        if found is not None:
            found.update({k: conversation[k] for k in ("worker_id", "state", "case_id") if k in conversation})

    def forget(self, conversation_id: str) -> None:
        self.rows.pop(conversation_id, None)


class Windows:
    """Each resident's recent sends on this node, for the flood limits before delivery."""

    def __init__(self) -> None:
        self.sent: dict[str, deque[datetime]] = {}

    def counts(self, sender: str, limits: tuple[datetime, datetime]) -> tuple[int, int]:
        burst, minute = limits
        times = self.sent.get(sender)
        if not times:
            return 0, 0
        while times and times[0] <= minute:
            times.popleft()
        if not times:
            del self.sent[sender]
            return 0, 0
        return sum(1 for t in times if t > burst), len(times)

    def note(self, sender: str, at: datetime) -> None:
        self.sent.setdefault(sender, deque()).append(at)

    def undo(self, sender: str, at: datetime) -> None:
        times = self.sent.get(sender)
        if times is not None and at in times:
            times.remove(at)


@dataclass
class FastPath:
    """A node's in-memory state for the send path (one per ChatDesk), and the app's parts it uses."""

    desk: ChatDesk
    hub: Hub
    city: CityMap  # the same object when the map is re-drawn (CityMap.replace_city swaps its insides)
    config: ChatConfig
    state: Any  # app.state: the bus's outbox comes and goes with the app's lifespan (chat_bus.py)
    conversations: Conversations = field(init=False)
    windows: Windows = field(default_factory=Windows)
    flight: dict[tuple[str, str, str], asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    settling: set[asyncio.Future[dict[str, Any]]] = field(default_factory=set)  # held till done
    done: OrderedDict[tuple[str, str, str], dict[str, Any]] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.conversations = Conversations(self.desk.records)

    @property
    def outbox(self) -> Any:
        return getattr(self.state, OUTBOX, None)

    def remember(self, key: tuple[str, str, str], stored: dict[str, Any]) -> None:
        self.done[key] = stored
        while len(self.done) > DONE_REFS:
            self.done.popitem(last=False)

    def limits(self, now: datetime) -> tuple[datetime, datetime]:
        return flood_window(self.config, now)

    def refuse(self, burst: int, minute: int) -> Flood | None:
        return flood(self.config, burst, minute)


def fast_of(conn: HTTPConnection) -> FastPath:
    desk = desk_of(conn)
    found: FastPath | None = desk.fast
    if found is None:
        found = FastPath(desk, deps.hub(conn), deps.city(conn), deps.config(conn).residents.chat, conn.app.state)
        desk.fast = found
    return found
