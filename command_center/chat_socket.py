"""`chat.send` over the hub's websocket: the live way to send a chat message (the HTTP POST
routes do the same for clients without a socket, api/chat.py).

A resident sends on their own socket (/api/residents/me/chats/ws, signed in when it opened),
a worker or the desk on /ws: `{"op": "chat.send", "ref": <the client's id>, "conversation":
"CV…", "kind": "text"|"location", "text": …, "lon": …, "lat": …}`. The same checks as over
HTTP (the conversation theirs or their grid's, the flood limits, the message's fields), the
same store-then-deliver; the sender is answered `{"type": "chat.sent", "ref", "seq",
"conversation_id"}`, or `{"type": "error", "op": "chat.send", "ref", "status", "error",
"detail"}` with nothing stored. A socket skips HTTP's per-request parsing, middleware and token
check: what a chat needs at scale.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.auth.middleware import signed_in
from command_center.chat_service import chat_config, resident_send, staff_send
from residents.chat_rules import BadMessage, Flood, message_of

if TYPE_CHECKING:
    from command_center.hub import Hub
    from command_center.hub_parts import Client

OP = "chat.send"


def register(hub: Hub) -> None:
    hub.ops[OP] = on_send


async def on_send(client: Client, msg: dict[str, Any]) -> None:
    hub = deps.hub(client.websocket)
    ref = msg.get("ref") if isinstance(msg.get("ref"), str | int) else None
    try:
        sent = await _send(client, msg)
    except ApiError as exc:
        said = {"type": "error", "op": OP, "ref": ref, "status": exc.status_code, "error": exc.error,
                "detail": exc.payload_detail}  # fmt: skip
        hub.offer(client, json.dumps(said, ensure_ascii=False))
        return
    hub.offer(client, json.dumps({"type": "chat.sent", "ref": ref, **sent}, ensure_ascii=False))


async def _send(client: Client, msg: dict[str, Any]) -> dict[str, Any]:
    ws = client.websocket
    try:
        kind, text, lon, lat = message_of(msg, chat_config(ws).text_max)
    except BadMessage as exc:
        raise ApiError(400, exc.reason, {"field": exc.field}) from None
    conversation_id = msg.get("conversation")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise ApiError(400, "请指定会话", {"field": "conversation"})
    message = {"kind": kind, "text": text, "lon": lon, "lat": lat}
    if client.access.role == "resident":
        sent = await resident_send(ws, client.access.user, conversation_id, **message)
        if sent is None:
            raise ApiError(404, "没有这个会话", {"id": conversation_id})
        if isinstance(sent, Flood):
            raise ApiError(429, sent.reason, {"retry_after_s": sent.retry_after_s})
    else:
        who = signed_in(ws)
        if who is None:
            raise ApiError(401, "sign in first", None)
        sent = await staff_send(ws, who, conversation_id, **message)
    return {"seq": sent[1]["seq"], "conversation_id": conversation_id}
