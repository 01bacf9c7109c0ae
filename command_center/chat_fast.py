"""Sending a chat message at the hub's speed (issue 22): delivered first, stored right after.

Why not store first: a message waited for its commit (a thread hop, PostgreSQL's round trips
and WAL flush, the group commit's queue) before anyone heard it, so delivery's p99 was the
store's p99, 2-15x the hub's own (docs/BENCHMARKS.md "bench chat"). What gates delivery runs
in memory on the loop instead, and the store has the last word:

1. The conversation (owner, grid, who answers, state) from a per-node cache (`chat_cache.Conversations`),
   filled on first use and ahead of it when a resident's socket opens or a list is read (on
   SQLite a read waits for the group commit's transaction; `bench chat` on SQLite: p99 160 ms
   with first use alone, 8.6 ms with the socket's, one run each on a loaded machine), updated by this node's writes (a handover, a worker taking
   over) and by other nodes' chat events over the bus (chat_bus.py). The sender's scope is
   checked on it: the resident owns it; staff's grids hold it.
2. The resident's flood limits counted in a per-node window (`chat_cache.Windows`); the store's counts
   stay authoritative at the commit.
3. The message published at once under a server-made id with `"pending": true` (its seq is
   not known yet), to the resident's `chat:<id>`, the worker's `tasks:<id>`, the hall's
   `chats` by grid; stored in the next group commit (chat_service.GroupCommit), where the
   conversation, the ref and the flood counts are read again (one statement). The socket
   reads the sender's next message meanwhile (chat_socket.py does not wait for the commit).
4. Stored: the sender's answer (`chat.sent` with the seq, or the HTTP 201) only now, then
   `chat.stored {id, seq}` to both sides (not to the socket it was sent on: its `chat.sent`
   says the same, and it was not sent its own message back either). Refused at the commit
   (a flood seen by the store alone, the conversation gone or closed) or failed: `chat.retracted {id, reason}` to both
   sides and the error to the sender; nothing stored. An acknowledged message is therefore
   always stored; a pending one may still be taken back, and the pages show it as pending.

A sender's `ref` (its own id for the message) makes a re-send idempotent: unique per
conversation and sender in the store (0033); one in flight is waited for, not delivered twice.
Offline delivery is unchanged (after the last seq seen, from the store: never a retracted one).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import HTTPConnection

from command_center.api.errors import ApiError
from command_center.auth.principal import Principal
from command_center.chat_cache import FastPath, fast_of
from command_center.chat_service import answerer, message_view, publish_to, staff_may
from command_center.store.chat_records import ChatRecords
from command_center.store.resident_records import iso
from residents.chat_rules import Flood

log = logging.getLogger(__name__)

GONE = "没有这个会话"
CLOSED = "会话已结束"
FAILED = "消息未能保存，请重发"


@dataclass(frozen=True)
class Sender:
    """Who sends: a resident (their id) or staff (their principal: a worker or the desk)."""

    kind: str  # resident, worker, staff
    id: str
    who: Principal | None = None


@dataclass(frozen=True)
class Refused:
    status: int
    reason: str


def sender_of_staff(who: Principal) -> Sender:
    return Sender("worker" if who.is_worker else "staff", who.actor, who)


async def _gate(fast: FastPath, sender: Sender, conversation_id: str) -> dict[str, Any]:
    """The conversation, if the sender may write in it (in memory after its first use)."""
    conversation = await fast.conversations.get(conversation_id)
    if conversation is None or (sender.kind == "resident" and conversation["resident_id"] != sender.id):
        raise ApiError(404, GONE, {"id": conversation_id})
    if sender.who is not None and not staff_may(sender.who, fast.city, conversation):
        raise ApiError(403, "该会话不属于您负责的网格", {"id": conversation_id, "grid_code": conversation["grid_code"]})
    if conversation["state"] != "open":
        raise ApiError(409, CLOSED, {"id": conversation_id})
    return conversation


def _rows(
    fast: FastPath, conversation: dict[str, Any], sender: Sender, ref: str | None, message: dict[str, Any], at: datetime
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the conversation as it will be, its new rows: a handover notice first, if any)."""
    notice = None
    if sender.kind == "resident":  # in memory: the roster, the hours
        worker, notice = answerer(fast.city, fast.config, at.astimezone(fast.desk.tz), conversation, first=False)
    elif sender.who is not None and sender.who.is_worker:
        worker = sender.who.worker_id  # a worker answering takes it over
    else:
        worker = conversation["worker_id"]
    moved = conversation | {"worker_id": worker}  # a copy: the commit reads it after later messages move the cache
    now = iso(at)

    def row(kind_of_sender: str, sender_id: str, kind: str, text: str, **more: Any) -> dict[str, Any]:
        return {"conversation_id": conversation["id"], "sender_kind": kind_of_sender, "sender_id": sender_id,
                "kind": kind, "body": text, "photo_id": more.get("photo_id"), "lon": more.get("lon"),
                "lat": more.get("lat"), "created_at": now, "read_at": None, "seq": None,
                "msg_id": "M" + secrets.token_hex(8), "ref": more.get("ref")}  # fmt: skip

    rows = [row(sender.kind, sender.id, ref=ref, **message)]  # kind, text and lon/lat or photo_id
    if notice is not None:
        rows.insert(0, row("system", "", "system", notice))
    return moved, rows


def _announce(
    fast: FastPath, conversation: dict[str, Any], type_: str, data: dict[str, Any], skip: Any = None
) -> None:
    publish_to(fast.hub, fast.outbox, conversation, type_, lambda _mine: data, None, skip)


def _deliver(fast: FastPath, conversation: dict[str, Any], rows: list[dict[str, Any]], origin: Any) -> None:
    """The rows, pending: the other party's channels first (chat_service.publish_to); the
    sender's own message not to the socket it came on (`origin`: chat.sent answers it)."""
    city, outbox, own = fast.city, fast.outbox, rows[-1]
    for m in rows:
        publish_to(fast.hub, outbox, conversation, "chat.message", lambda mine, m=m: message_view(city, m, mine),  # type: ignore[misc]
                   m["sender_kind"], origin if m is own else None)  # fmt: skip


def _store(
    records: ChatRecords,
    sender: Sender,
    moved: dict[str, Any],
    rows: list[dict[str, Any]],
    limits: tuple[datetime, datetime],
    refuse: Any,
) -> Any:
    """The commit's turn (a store thread, the group commit's transaction): the store's word on
    the conversation, the ref and the flood counts, then the rows; a Refused, a Flood, an
    earlier stored row (a re-send), or the stored rows."""
    ref = rows[-1]["ref"]
    with records.held() as db:
        current = records.check_in(db, moved["id"], sender.id, ref, limits)  # one round trip
        if current is None or (sender.kind == "resident" and current["resident_id"] != sender.id):
            return Refused(404, GONE)
        if current["state"] != "open":
            return Refused(409, CLOSED)
        if ref is not None and current["earlier"] is not None:
            return records.by_ref_in(db, moved["id"], sender.id, ref)
        if sender.kind == "resident" and (early := refuse(current["burst"], current["minute"])) is not None:
            return early
        if moved["worker_id"] != current["worker_id"]:
            records.set_worker_in(db, moved["id"], moved["worker_id"])
        return [records.add_in(db, {k: v for k, v in row.items() if k != "seq"}) for row in rows]


async def send(
    conn: HTTPConnection, sender: Sender, conversation_id: str, ref: str | None = None, **message: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Deliver now, store next, answer after the commit: (the conversation, the stored message).
    Raises ApiError (nothing stored): 404/403 not theirs, 409 closed, 429 a flood, 503 failed."""
    moved, settled = await begin(conn, sender, conversation_id, ref, None, **message)
    return moved, await asyncio.shield(settled)


async def begin(
    conn: HTTPConnection,
    sender: Sender,
    conversation_id: str,
    ref: str | None,
    answer: Callable[[dict[str, Any]], None] | None,
    origin: Any = None,
    **message: Any,
) -> tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]:
    """The checks in memory and the delivery, now; (the conversation, the commit's outcome to
    come: the stored message, or the ApiError). `answer(stored)` is called once it is stored,
    before `chat.stored` goes to both sides. A socket does not wait for the outcome to read the
    sender's next message; `origin`, the socket's hub client, gets neither its own message
    nor its `chat.stored` (its answer has both: chat_socket.py). Raises ApiError for what is
    refused before delivery."""
    fast = fast_of(conn)
    conversation = await _gate(fast, sender, conversation_id)
    key = (conversation_id, sender.id, ref) if ref is not None else None
    if key is not None and (key in fast.done or key in fast.flight):  # a re-send: answered, not delivered again
        earlier: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if key in fast.done:
            earlier.set_result(fast.done[key])
        else:
            earlier = fast.flight[key]
        if answer is not None:
            earlier.add_done_callback(lambda f: None if f.cancelled() or f.exception() else answer(f.result()))
        return conversation, earlier
    at = fast.desk.clock()
    limits = fast.limits(at)
    if sender.kind == "resident" and (early := fast.refuse(*fast.windows.counts(sender.id, limits))) is not None:
        raise _flood(early)
    moved, rows = _rows(fast, conversation, sender, ref, message, at)
    if sender.kind == "resident":
        fast.windows.note(sender.id, at)
    fast.conversations.note(moved)  # this node's write: what the next message is gated on
    _deliver(fast, moved, rows, origin)  # pending: no seq yet
    # The rest runs on if the caller goes (a socket closed, a request dropped): what was
    # delivered is confirmed or retracted on both sides whatever becomes of the sender.
    settled = asyncio.ensure_future(_settle(fast, sender, moved, rows, (key, at, answer, origin), limits))
    fast.settling.add(settled)
    settled.add_done_callback(fast.settling.discard)
    settled.add_done_callback(_retrieved)
    if key is not None:
        fast.flight[key] = settled
    return moved, settled


def _retrieved(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # the caller raises it; no "never retrieved" when the caller went


async def _settle(
    fast: FastPath,
    sender: Sender,
    moved: dict[str, Any],
    rows: list[dict[str, Any]],
    how: tuple[tuple[str, str, str] | None, datetime, Callable[[dict[str, Any]], None] | None, Any],
    limits: tuple[datetime, datetime],
) -> dict[str, Any]:
    """Store, answer the sender, confirm on both sides; or retract and raise."""
    key, at, answer, origin = how
    try:
        result = await _commit(fast, sender, moved, rows, limits)
    except BaseException:
        if sender.kind == "resident":
            fast.windows.undo(sender.id, at)
        fast.conversations.forget(moved["id"])  # read again from the store next time
        if key is not None:
            fast.flight.pop(key, None)
        raise
    stored = result if isinstance(result, dict) else result[-1]
    if key is not None:
        fast.flight.pop(key, None)
        fast.remember(key, stored)
    if answer is not None:
        answer(stored)
    if isinstance(result, dict):  # stored before: this is a re-send
        _retract(fast, moved, rows, "duplicate", result)
    else:
        for row, done in zip(rows, result, strict=True):
            _announce(fast, moved, "chat.stored", {"id": row["msg_id"], "seq": done["seq"], "conversation_id": moved["id"]},
                      origin if row is rows[-1] else None)  # fmt: skip
    return stored


async def _commit(
    fast: FastPath,
    sender: Sender,
    moved: dict[str, Any],
    rows: list[dict[str, Any]],
    limits: tuple[datetime, datetime],
) -> list[dict[str, Any]] | dict[str, Any]:
    """The rows through the group commit: the stored rows, or an earlier one (a re-send); a
    refusal or failure is retracted on both sides and raised."""
    desk = fast.desk
    try:
        result = await desk.commits.run(lambda: _store(desk.records, sender, moved, rows, limits, fast.refuse))
    except Exception:
        log.exception("chat: storing %d messages of %s failed; retracted", len(rows), moved["id"])
        _retract(fast, moved, rows, "failed")
        raise ApiError(503, FAILED, {"id": moved["id"]}) from None
    if isinstance(result, Flood):
        _retract(fast, moved, rows, "flood")
        raise _flood(result)
    if isinstance(result, Refused):
        _retract(fast, moved, rows, "closed" if result.status == 409 else "gone")
        raise ApiError(result.status, result.reason, {"id": moved["id"]})
    out: list[dict[str, Any]] | dict[str, Any] = result
    return out


def _retract(
    fast: FastPath,
    conversation: dict[str, Any],
    rows: list[dict[str, Any]],
    reason: str,
    same_as: dict[str, Any] | None = None,
) -> None:
    for row in rows:
        data = {"id": row["msg_id"], "conversation_id": conversation["id"], "reason": reason}
        if same_as is not None:
            data |= {"same_as": same_as.get("msg_id"), "seq": same_as["seq"]}
        _announce(fast, conversation, "chat.retracted", data)


class FloodError(ApiError):
    """429: the flood limits (the HTTP answer adds Retry-After from `flood`)."""

    def __init__(self, flood: Flood) -> None:
        super().__init__(429, flood.reason, {"retry_after_s": flood.retry_after_s})
        self.flood = flood


def _flood(refusal: Flood) -> ApiError:
    return FloodError(refusal)
