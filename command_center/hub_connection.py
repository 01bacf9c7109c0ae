"""One websocket connection to the hub: its live session, the client's messages, its end.

The hub (hub.py) numbers, keeps and delivers messages; this module is a connection's
side of it: open the user's live session (capped per user, closed with 4401 when the
token expires or is revoked), read the client's ops (`subscribe`, `unsubscribe`,
`ping`) until it leaves, and close it with the reason: gone, too slow, or signed out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect

from command_center.auth.middleware import signed_in
from command_center.auth.sessions import LiveSession, TooManySessions
from command_center.hub_parts import Access, Client

if TYPE_CHECKING:
    from command_center.hub import Hub

MAX_MESSAGE = 64 * 1024  # characters in one client message: a subscribe to the cap takes ~5 KB


async def serve_connection(hub: Hub, websocket: WebSocket, access: Access) -> None:
    """The whole life of one websocket, from its session's opening to its close."""
    client = Client(websocket, access, batch=websocket.query_params.get("batch") in ("1", "true"))
    client.task = asyncio.current_task()
    try:
        session = _open_session(hub, client)
    except TooManySessions as exc:
        await _refuse(websocket, exc)
        return
    try:
        await websocket.accept()
        await _run(hub, client)
    finally:
        if session is not None:
            session.end()


def _open_session(hub: Hub, client: Client) -> LiveSession | None:
    principal = signed_in(client.websocket)
    if hub.sessions is None or principal is None:
        return None  # a hub without sign-in (tests, benchmarks)
    return hub.sessions.open(principal, "ws", lambda reason: _end(client, reason))


async def _refuse(websocket: WebSocket, exc: TooManySessions) -> None:
    await websocket.accept()
    detail = {"kind": exc.kind, "limit": exc.limit}
    await websocket.send_json({"type": "error", "status": 429, "error": "too many connections", "detail": detail})
    await websocket.close(code=4429, reason="too many connections")


async def _end(client: Client, reason: str) -> None:
    """The session's close (called by the sessions' sweep): stop the handler, which
    then tells the client why and closes with 4401."""
    client.ended = reason
    if client.task is not None and not client.task.done():
        client.task.cancel()


async def _run(hub: Hub, client: Client) -> None:
    websocket = client.websocket
    hub.join(client)
    writer = asyncio.create_task(hub.write(client))
    try:
        while True:
            try:
                raw = await websocket.receive_text()
            except WebSocketDisconnect:
                break
            await _handle(hub, client, raw)
    except asyncio.CancelledError:
        if not client.slow and client.ended is None:
            raise
        asyncio.current_task().uncancel()  # type: ignore[union-attr]  # we cancelled it ourselves
    finally:
        hub.forget(client)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer
    if client.ended is not None:
        await _close_ended(websocket, client.ended)
    elif not client.slow:
        with contextlib.suppress(Exception):
            await websocket.close()


async def _close_ended(websocket: WebSocket, reason: str) -> None:
    said = json.dumps({"type": "error", "status": 401, "error": "session ended", "detail": reason})
    with contextlib.suppress(Exception):  # a client that reads nothing does not hold us up
        await asyncio.wait_for(websocket.send_text(said), 2.0)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(websocket.close(code=4401, reason=reason[:100]), 2.0)


async def _handle(hub: Hub, client: Client, raw: str) -> None:
    if len(raw) > MAX_MESSAGE:
        hub.error(client, "message too large", limit=MAX_MESSAGE)
        return
    try:
        msg = json.loads(raw)
        op = msg["op"]
    except (ValueError, KeyError, TypeError):
        hub.offer(client, json.dumps({"type": "error", "error": "expected a JSON object with an 'op'"}))
        return
    if op == "ping":
        hub.offer(client, json.dumps({"type": "pong"}))
    elif op == "subscribe":
        await hub.subscribe(client, msg.get("channels") or [], msg.get("since") or {})
    elif op == "unsubscribe":
        names = msg.get("channels") or []
        hub.unsubscribe(client, names if isinstance(names, list) else [])
    elif op == "ack":
        pass  # case acks go through the HTTP API, which records who and when
    elif isinstance(op, str) and op in hub.ops:
        await hub.ops[op](client, msg)
    else:
        hub.offer(client, json.dumps({"type": "error", "error": f"unknown op {op!r}"}))
