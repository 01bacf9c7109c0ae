"""`chat.send` over the hub's websocket: the live way to send a chat message (the HTTP POST
routes do the same for clients without a socket, api/chat.py).

A resident sends on their own socket (/api/residents/me/chats/ws, signed in when it opened),
a worker or the desk on /ws: `{"op": "chat.send", "ref": <the client's id>, "conversation":
"CV…", "kind": "text"|"location", "text": …, "lon": …, "lat": …}`. The same checks as over
HTTP (the conversation theirs or their grid's, the flood limits, the message's fields), the
same path (chat_fast.py): delivered at once as pending, stored in the next group commit; the
sender is answered after the commit, `{"type": "chat.sent", "ref", "seq", "id",
"conversation_id"}`, or `{"type": "error", "op": "chat.send", "ref", "status", "error",
"detail"}` with nothing stored (a message already delivered is then retracted on both sides).
The `ref` is the sender's id for the message: sent again with the same ref (the answer was
lost), it is stored once and answered with the first one's seq. The sending socket is not sent
its own message back, nor its `chat.stored`: `chat.sent` carries the id and seq they would
(the sender's other sockets, and the hall, get both as for any message). A socket skips HTTP's
per-request parsing, middleware and token check: what a chat needs at scale.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.auth.middleware import signed_in
from command_center.chat_fast import Sender, begin, sender_of_staff
from command_center.chat_service import chat_config
from residents.chat_rules import BadMessage, message_of

if TYPE_CHECKING:
    from command_center.hub import Hub
    from command_center.hub_parts import Client

OP = "chat.send"
REF_MAX = 64


def register(hub: Hub) -> None:
    hub.ops[OP] = on_send


async def on_send(client: Client, msg: dict[str, Any]) -> None:
    """Checked and delivered before the next frame of this socket is read; answered once
    stored (or refused), without holding up that socket meanwhile."""
    hub = deps.hub(client.websocket)
    ref = msg.get("ref") if isinstance(msg.get("ref"), str | int) else None

    def sent(stored: dict[str, Any]) -> None:  # after the commit, before `chat.stored` to both sides
        said = {"type": "chat.sent", "ref": ref, "seq": stored["seq"], "id": stored.get("msg_id"),
                "conversation_id": stored["conversation_id"]}  # fmt: skip
        hub.offer(client, json.dumps(said, ensure_ascii=False))

    def refused(exc: ApiError) -> None:
        said = {"type": "error", "op": OP, "ref": ref, "status": exc.status_code, "error": exc.error,
                "detail": exc.payload_detail}  # fmt: skip
        hub.offer(client, json.dumps(said, ensure_ascii=False))

    def settled(outcome: asyncio.Future[dict[str, Any]]) -> None:
        if not outcome.cancelled() and isinstance(exc := outcome.exception(), ApiError):
            refused(exc)

    try:
        (await _send(client, msg, sent)).add_done_callback(settled)
    except ApiError as exc:
        refused(exc)


async def _send(
    client: Client, msg: dict[str, Any], answer: Callable[[dict[str, Any]], None]
) -> asyncio.Future[dict[str, Any]]:
    ws = client.websocket
    try:
        kind, text, lon, lat = message_of(msg, chat_config(ws).text_max)
    except BadMessage as exc:
        raise ApiError(400, exc.reason, {"field": exc.field}) from None
    conversation_id = msg.get("conversation")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise ApiError(400, "请指定会话", {"field": "conversation"})
    ref = msg.get("ref")
    if ref is not None and (isinstance(ref, bool) or not isinstance(ref, str | int) or len(str(ref)) > REF_MAX):
        raise ApiError(400, "ref 须为不超过64个字符的字符串或整数", {"field": "ref"})
    message = {"kind": kind, "text": text, "lon": lon, "lat": lat}
    if client.access.role == "resident":
        sender = Sender("resident", client.access.user)
    else:
        who = signed_in(ws)
        if who is None:
            raise ApiError(401, "sign in first", None)
        sender = sender_of_staff(who)
    _, outcome = await begin(ws, sender, conversation_id, None if ref is None else str(ref), answer, client, **message)
    return outcome
