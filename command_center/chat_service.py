"""The chat with the grid worker (网格员客服窗口): who answers, what each side sees, and the
live delivery over the hub. The routes are api/chat.py; the rules residents/chat_rules.py;
the tables store/chat_records.py.

Delivery (chat_fast.py for a sender's message: delivered first, pending, then stored; the
system's notices here: stored first) on this node's hub, and over the bus on the others'
(chat_bus.py): to the resident's own channel `chat:<resident id>` (their socket may subscribe to nothing
else), to the answering worker's `tasks:<worker id>` (the terminal's channel), and to `chats`
under the grid's code (the hall and service desk, scoped by jurisdiction). A client that was
away asks for what came after the last seq it saw (offline delivery), so nothing depends on
the hub's history.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import HTTPConnection

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.auth.principal import Principal
from command_center.city_map import CityMap
from command_center.photos import PhotoStore
from command_center.store.chat_records import ChatRecords, Scope, chat_store
from command_center.store.resident_records import iso
from residents.chat_rules import ChatConfig, Flood, Route, flood, flood_window, handover_text, route

STATE = "chat_desk"
DESK_NAME = "网格服务台"
RESIDENT_CHANNEL = "chat:{}"
HALL_CHANNEL = "chats"
Posts = list[tuple[str, str, str | None]]  # (channel, its data as JSON, area): what `deliver` publishes
OUTBOX = "chat_outbox"  # app.state: chat_bus.Outbox where a Redis bus joins several nodes


class GroupCommit:
    """Group commit for the messages: what is sent while one transaction is being written waits
    and goes into the next one together, so a burst costs one fsync (store.batch: each write a
    savepoint of its own, a failed one undoes only itself), and a slow disk holds messages
    back for one commit, not for a queue of them."""

    def __init__(self, store: object) -> None:
        self.batch: Callable[[], AbstractContextManager[None]] = getattr(
            store, "batch", contextlib.nullcontext
        )
        self.pending: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self.flushing: asyncio.Task[None] | None = None

    async def run(self, write: Callable[[], Any]) -> Any:
        """`write()` (on a store thread) inside the next shared transaction; its result."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending.append((write, future))
        if self.flushing is None or self.flushing.done():
            self.flushing = asyncio.create_task(self._flush(), name="chat-group-commit")
        return await future

    async def _flush(self) -> None:
        while self.pending:
            taken, self.pending = self.pending, []
            try:
                results = await asyncio.to_thread(self._write, [write for write, _ in taken])
            except Exception as exc:  # the commit itself failed: nothing of this round is stored
                results = [exc] * len(taken)
            for (_, future), result in zip(taken, results, strict=True):
                if not future.done():
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)

    def _write(self, writes: list[Callable[[], Any]]) -> list[Any]:
        out: list[Any] = []
        with self.batch():
            for write in writes:
                try:
                    out.append(write())
                except Exception as exc:  # its savepoint rolled back; the others go on
                    out.append(exc)
        return out


@dataclass
class ChatDesk:
    """What the routes share: the records, the photos, the clock (tests freeze it)."""

    records: ChatRecords
    photos: PhotoStore
    tz: ZoneInfo
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    commits: GroupCommit = field(init=False)
    fast: Any = field(default=None, init=False)  # chat_fast.FastPath: the send path's cache, made on first use

    def __post_init__(self) -> None:
        self.commits = GroupCommit(self.records.store)

    def local_now(self) -> datetime:
        return self.clock().astimezone(self.tz)


def desk_of(conn: HTTPConnection) -> ChatDesk:
    found: ChatDesk | None = getattr(conn.app.state, STATE, None)
    if found is None:
        config = deps.config(conn)
        found = ChatDesk(
            chat_store(deps.store(conn)),
            PhotoStore(config.server.data_dir / "chat_photos"),
            ZoneInfo(config.dispatch.timezone),
        )
        setattr(conn.app.state, STATE, found)
    return found


def chat_config(conn: HTTPConnection) -> ChatConfig:
    return deps.config(conn).residents.chat


# ---------------------------------------------------------------- who answers


def on_duty(city: CityMap, grid_code: str, local: datetime) -> list[str]:
    return [w.id for w in city.city.workers_by_grid.get(grid_code, []) if w.on_duty(local)]


def worker_name(city: CityMap, worker_id: str | None) -> str:
    if not worker_id:
        return DESK_NAME
    found = city.grids_of(worker_id)
    return found[0].name if found else worker_id


def handover(
    conn: HTTPConnection, conversation: dict[str, Any], first: bool
) -> tuple[str | None, str | None]:
    """`answerer` for a request's app."""
    return answerer(deps.city(conn), chat_config(conn), desk_of(conn).local_now(), conversation, first)


def answerer(
    city: CityMap, config: ChatConfig, local: datetime, conversation: dict[str, Any], first: bool
) -> tuple[str | None, str | None]:
    """(who answers now, the system notice to post, if any). A worker who has it keeps it while
    on duty within office hours; else the grid's on-duty worker; else the grid's desk. The
    resident is told when it changes hands, and on opening when the desk has it."""
    grid, current = conversation["grid_code"], conversation["worker_id"]
    hours = config.hours_of(grid)
    duty = on_duty(city, grid, local)
    if current is not None and current in duty and hours.open_at(local):
        return current, None
    now: Route = route(hours, duty, local)
    if now.worker_id == current and not first:
        return current, None
    if first and now.worker_id is not None:
        return now.worker_id, None  # the worker greets them: no machine message needed
    return now.worker_id, handover_text(now.reason, hours, worker_name(city, now.worker_id))


async def reroute(conn: HTTPConnection, conversation: dict[str, Any], first: bool) -> dict[str, Any]:
    """The conversation handed to whoever answers now (`handover`), the notice posted."""
    worker, notice = handover(conn, conversation, first)
    if worker != conversation["worker_id"]:
        await asyncio.to_thread(desk_of(conn).records.set_worker, conversation["id"], worker)
        conversation = conversation | {"worker_id": worker}
        if desk_of(conn).fast is not None:  # this node's write: the send path's cache follows it
            desk_of(conn).fast.conversations.note(conversation)
    if notice is not None:
        await post(conn, conversation, "system", "", "system", notice)
    return conversation


# ---------------------------------------------------------------- views


def photo_url(for_resident: bool, conversation_id: str, photo_id: str) -> str:
    base = "/api/residents/me/chats" if for_resident else "/api/chats"
    return f"{base}/{conversation_id}/photos/{photo_id}.jpg"


def message_view(city: CityMap, message: dict[str, Any], for_resident: bool) -> dict[str, Any]:
    kind = message["sender_kind"]
    if kind == "worker":
        sender = worker_name(city, message["sender_id"])
    else:
        sender = {"resident": "居民", "system": "系统消息"}.get(kind, DESK_NAME)
    photo = message.get("photo_id")
    location = None if message.get("lon") is None else {"lon": message["lon"], "lat": message["lat"]}
    return {
        "seq": message["seq"], "conversation_id": message["conversation_id"], "from": kind, "sender": sender,
        "kind": message["kind"], "text": message["body"], "location": location,
        "photo_url": photo_url(for_resident, message["conversation_id"], photo) if photo else None,
        "created_at": message["created_at"], "read_at": message.get("read_at"),
        "id": message.get("msg_id"), "pending": message["seq"] is None,
    }  # fmt: skip


def conversation_view(city: CityMap, conversation: dict[str, Any], for_resident: bool) -> dict[str, Any]:
    grid = city.city.areas.get(conversation["grid_code"])
    unread = conversation.get("unread_resident" if for_resident else "unread_staff", 0)
    return {
        "id": conversation["id"], "grid_code": conversation["grid_code"],
        "grid_name": None if grid is None else grid.name,
        "answered_by": worker_name(city, conversation["worker_id"]),
        "at_desk": conversation["worker_id"] is None, "state": conversation["state"],
        "case_id": conversation["case_id"], "created_at": conversation["created_at"],
        "updated_at": conversation["updated_at"], "last_seq": conversation["last_seq"],
        "last_text": conversation.get("last_text"), "unread": unread,
    }  # fmt: skip


# ---------------------------------------------------------------- who may see it


def worker_grids(city: CityMap, worker_id: str) -> tuple[str, ...]:
    """The grids a worker serves now, each once."""
    return tuple(dict.fromkeys(w.grid_code for w in city.grids_of(worker_id)))


def scope_of(who: Principal, city: CityMap) -> Scope:
    if who.is_worker:
        return Scope(worker_grids(city, who.worker_id or ""))
    return Scope((who.jurisdiction,))


def staff_may(who: Principal, city: CityMap, conversation: dict[str, Any]) -> bool:
    grid = conversation["grid_code"]
    if who.is_worker:
        return bool(who.worker_id) and grid in worker_grids(city, who.worker_id or "")
    return who.sees_area(grid)


async def staff_conversation(conn: HTTPConnection, who: Principal, conversation_id: str) -> dict[str, Any]:
    """The conversation if the caller's grids hold it: 404 for none, 403 for another grid's."""
    found = await asyncio.to_thread(desk_of(conn).records.get_light, conversation_id)
    if found is None:
        raise ApiError(404, "没有这个会话", {"id": conversation_id})
    if not staff_may(who, deps.city(conn), found):
        raise ApiError(
            403, "该会话不属于您负责的网格", {"id": conversation_id, "grid_code": found["grid_code"]}
        )
    return found


# ---------------------------------------------------------------- storing and delivering


def publish(
    conn: HTTPConnection,
    conversation: dict[str, Any],
    type_: str,
    data: Callable[[bool], dict[str, Any]],
    sender: str | None = None,
) -> None:
    """One event to both sides: the resident's channel, the worker's, the hall's (by grid); and
    to the other nodes' hubs over the bus where there are any (chat_bus.py). `sender`: `publish_to`."""
    publish_to(deps.hub(conn), getattr(conn.app.state, OUTBOX, None), conversation, type_, data, sender)


def publish_to(
    hub: Any,
    outbox: Any,
    conversation: dict[str, Any],
    type_: str,
    data: Callable[[bool], dict[str, Any]],
    sender: str | None = None,
    skip: Any = None,
) -> None:
    """`publish` on this hub, and through the bus's outbox where there is one (chat_bus.Outbox).
    With `sender` (a message's sender_kind: "resident", "worker" or "staff"), the other side's
    view is made, encoded and published before anything else, and the sender's side and the
    bus's copy follow on the loop's next turn, after the writers this woke: the party waiting
    for the message does not wait for the sender's echo (docs/BENCHMARKS.md "bench chat").
    None or "system" (a notice for both sides): all at once. `skip`: the sending socket, which
    `chat.sent` answers (Hub.publish_json)."""
    if sender is None or sender == "system":
        mine, staff = data(True), data(False)
        deliver(hub, conversation, type_, mine, staff, skip)
        if outbox is not None:
            outbox.send(conversation, type_, mine, staff)
        return
    to_resident = sender != "resident"
    first = data(to_resident)
    encoded = json.dumps(first, ensure_ascii=False)
    _send(hub, type_, _channels(conversation, to_resident, encoded), skip)

    def rest() -> None:
        own = data(not to_resident)
        _send(hub, type_, _channels(conversation, not to_resident, encoded if own == first else own), skip)
        if outbox is not None:
            outbox.send(conversation, type_, *((first, own) if to_resident else (own, first)))

    asyncio.get_running_loop().call_soon(rest)


def _channels(conversation: dict[str, Any], resident: bool, view: dict[str, Any] | str) -> Posts:
    """One side's channels with its view: the resident's own, or the worker's and the hall's."""
    data = view if isinstance(view, str) else json.dumps(view, ensure_ascii=False)
    if resident:
        return [(RESIDENT_CHANNEL.format(conversation["resident_id"]), data, None)]
    grid = conversation["grid_code"]  # under the grid, as the task posts are: staff see it by jurisdiction
    posts: Posts = [(HALL_CHANNEL, data, grid)]
    if conversation["worker_id"]:
        posts.insert(0, (f"tasks:{conversation['worker_id']}", data, grid))
    return posts


def _send(hub: Any, type_: str, posts: Posts, skip: Any = None) -> None:
    for channel, data, area in posts:
        hub.publish_json(channel, type_, data, area, skip)


def deliver(
    hub: Any,
    conversation: dict[str, Any],
    type_: str,
    mine: dict[str, Any],
    staff: dict[str, Any],
    skip: Any = None,
) -> None:
    """One event on this node's hub, to both sides at once: the resident's view on their
    channel, the staff's on the worker's and the hall's (by grid), each view encoded once."""
    resident = _channels(conversation, True, mine)
    _send(hub, type_, resident + _channels(conversation, False, resident[0][1] if staff == mine else staff), skip)


async def post(
    conn: HTTPConnection,
    conversation: dict[str, Any],
    sender_kind: str,
    sender_id: str,
    kind: str,
    text: str,
    photo_id: str | None = None,
    lon: float | None = None,
    lat: float | None = None,
    limits: tuple[datetime, datetime] | None = None,
    refuse: Callable[[int, int], object | None] | None = None,
) -> dict[str, Any] | object:
    """Store the message (refused by `refuse` over the flood limits: nothing stored, the
    refusal returned), then deliver it live; the stored row."""  # fmt: skip
    desk, city = desk_of(conn), deps.city(conn)
    row = {"conversation_id": conversation["id"], "sender_kind": sender_kind, "sender_id": sender_id,
           "kind": kind, "body": text, "photo_id": photo_id, "lon": lon, "lat": lat,
           "created_at": iso(desk.clock()), "msg_id": "M" + secrets.token_hex(8)}  # fmt: skip
    stored = await asyncio.to_thread(desk.records.add, row, limits, refuse)
    if not isinstance(stored, dict):
        return stored
    publish(conn, conversation, "chat.message", lambda mine: message_view(city, stored, mine))
    return stored


def flood_limits(
    conn: HTTPConnection,
) -> tuple[tuple[datetime, datetime], Callable[[int, int], Flood | None]]:
    """(the burst's and the minute's starts, the refusal for those counts)."""
    config = chat_config(conn)
    return flood_window(config, desk_of(conn).clock()), lambda b, m: flood(config, b, m)
