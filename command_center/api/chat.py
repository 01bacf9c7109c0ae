"""The chat with the grid worker (网格员客服窗口), docs/RESIDENTS.md "Chat".

Residents (their own token, api/residents.py) under /api/residents/me/chats…: open a
conversation with a grid (chosen by code, from the public worker card, or by a point), send
text, a location or a photo, read the history in pages, catch up after the last seq they saw,
mark what they read, and a websocket of their own that hears only their conversations.
Staff under /api/chats…: a worker their grids' conversations, others their jurisdiction's; one
outside gets 403 and nothing is stored. A conversation becomes a case in one tap (chat_case.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from command_center import audit
from command_center.api import deps
from command_center.api.cases import read_photo
from command_center.api.errors import ApiError, json_body
from command_center.api.limits import SMALL_BODY
from command_center.api.residents import current_resident, resident_of
from command_center.auth.middleware import principal_of
from command_center.chat_cache import fast_of
from command_center.chat_case import to_case
from command_center.chat_fast import FloodError, Sender, send, sender_of_staff
from command_center.chat_service import (
    chat_config,
    conversation_view,
    desk_of,
    flood_limits,
    message_view,
    publish,
    reroute,
    scope_of,
    staff_conversation,
)
from command_center.hub_parts import Access
from command_center.photos import NotAnImage, clean_photo
from command_center.store.chat_records import MAX_PAGE, PAGE
from command_center.store.resident_records import Resident, iso
from residents.chat_rules import BadMessage, Flood, message_of


def _int(request: Request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise ApiError(
            400, f"bad field {name!r}", {"field": name, "reason": f"an integer within {low}..{high}"}
        )
    return int(raw)


def _flooded(refusal: Flood) -> JSONResponse:
    body = {"error": refusal.reason, "detail": {"retry_after_s": refusal.retry_after_s}}
    return JSONResponse(body, status_code=429, headers={"Retry-After": str(refusal.retry_after_s)})


# ---------------------------------------------------------------- residents


async def _mine(request: Request) -> tuple[Resident, dict[str, Any]]:
    resident = await resident_of(request)
    found = await asyncio.to_thread(desk_of(request).records.get_light, request.path_params["id"])
    if found is None or found["resident_id"] != resident.id:
        raise ApiError(404, "没有这个会话", {"id": request.path_params["id"]})
    return resident, found


async def my_chats(request: Request) -> Response:
    resident = await resident_of(request)
    rows = await asyncio.to_thread(desk_of(request).records.of_resident, resident.id)
    fast_of(request).conversations.put_all(rows)
    city = deps.city(request)
    return JSONResponse(
        {"items": [conversation_view(city, c, True) for c in rows], "resident_id": resident.id}
    )


def _grid_of(request: Request, body: dict[str, Any]) -> str:
    city = deps.city(request)
    code = body.get("grid_code")
    if code is not None:
        area = city.city.areas.get(code) if isinstance(code, str) else None
        if area is None or area.level != "grid":
            raise ApiError(400, "没有这个网格", {"field": "grid_code"})
        return area.code
    lon, lat = body.get("lon"), body.get("lat")
    for name, value, bound in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not -bound <= value <= bound:
            raise ApiError(400, "请选择网格或提供位置", {"field": name})
    located = city.index.locate(float(lon), float(lat))  # type: ignore[arg-type]
    if located is None or not located.grid_code:
        raise ApiError(400, "此位置不在本市网格内", {"field": "lon"})
    return str(located.grid_code)


async def open_chat(request: Request) -> Response:
    """A conversation with the grid's worker (its on-duty one, else its desk); the open one
    with that grid when there is one. A named worker (the card's number) must serve the grid."""
    resident = await resident_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    grid = _grid_of(request, body)
    named = body.get("worker")
    if named is not None:
        workers = deps.city(request).city.workers_by_grid.get(grid, [])
        if not isinstance(named, str) or not any(named in (w.id, w.code) for w in workers):
            raise ApiError(403, "该网格员不负责此网格", {"field": "worker", "grid_code": grid})
    desk = desk_of(request)
    conversation, made = await asyncio.to_thread(
        desk.records.open_conversation, resident.id, grid, None, desk.clock()
    )
    conversation = await reroute(request, conversation, first=made)
    fresh = await asyncio.to_thread(desk.records.get, conversation["id"])
    assert fresh is not None
    view = conversation_view(deps.city(request), fresh, True)
    return JSONResponse(view | {"created": made}, status_code=201 if made else 200)


async def _page(request: Request, conversation_id: str, for_resident: bool) -> Response:
    before = _int(request, "before", None, 1, 2**62)
    after = _int(request, "after", 0, 0, 2**62) or 0
    limit = _int(request, "limit", PAGE, 1, MAX_PAGE) or PAGE
    rows = await asyncio.to_thread(
        desk_of(request).records.history, conversation_id, before, after, limit + 1
    )
    more = len(rows) > limit
    rows = rows[-limit:] if more else rows
    city = deps.city(request)
    return JSONResponse({"items": [message_view(city, m, for_resident) for m in rows], "more": more})


async def my_messages(request: Request) -> Response:
    _, conversation = await _mine(request)
    return await _page(request, conversation["id"], True)


async def my_catch_up(request: Request) -> Response:
    """Everything after the last seq this client saw, over all the resident's conversations."""
    resident = await resident_of(request)
    after = _int(request, "after", 0, 0, 2**62) or 0
    rows = await asyncio.to_thread(desk_of(request).records.after_resident, resident.id, after)
    city = deps.city(request)
    return JSONResponse({"items": [message_view(city, m, True) for m in rows], "more": len(rows) >= MAX_PAGE})


async def _resident_post(
    request: Request, resident: Resident, conversation_id: str, **message: Any
) -> Response:
    try:
        _, stored = await send(request, Sender("resident", resident.id), conversation_id, **message)
    except FloodError as exc:
        return _flooded(exc.flood)
    return JSONResponse(message_view(deps.city(request), stored, True), status_code=201)


async def _message_body(request: Request) -> dict[str, Any]:
    body = await json_body(request, required=True, limit=SMALL_BODY)
    try:
        kind, text, lon, lat = message_of(body, chat_config(request).text_max)
    except BadMessage as exc:
        raise ApiError(400, exc.reason, {"field": exc.field}) from None
    return {"kind": kind, "text": text, "lon": lon, "lat": lat}


async def my_send(request: Request) -> Response:
    resident = await resident_of(request)
    message = await _message_body(request)
    return await _resident_post(request, resident, request.path_params["id"], **message)


async def _photo(request: Request, conversation_id: str) -> str:
    """The body's photo checked (type, size, decodes), re-encoded and stored; its id."""
    raw = await read_photo(request, chat_config(request).photo_max_bytes)
    try:
        photo = await asyncio.to_thread(clean_photo, raw)
    except NotAnImage as exc:
        raise ApiError(415, "只能发送JPEG、PNG或WebP照片", {"field": "photo", "reason": exc.reason}) from None
    return await asyncio.to_thread(desk_of(request).photos.save, conversation_id, photo.jpeg)


async def my_photo(request: Request) -> Response:
    resident, conversation = await _mine(request)
    limits, refuse = flood_limits(request)  # counted before the upload is read: a flood stores no file
    if (
        refusal := refuse(*await asyncio.to_thread(desk_of(request).records.recent, resident.id, limits))
    ) is not None:
        return _flooded(refusal)
    photo_id = await _photo(request, conversation["id"])
    return await _resident_post(
        request, resident, conversation["id"], kind="photo", text="", photo_id=photo_id
    )


async def _read(request: Request, conversation: dict[str, Any], by_resident: bool, reader: str) -> Response:
    body = await json_body(request, required=True, limit=SMALL_BODY)
    upto = body.get("upto")
    if isinstance(upto, bool) or not isinstance(upto, int) or not 0 <= upto <= 2**62:
        raise ApiError(400, "bad field 'upto'", {"field": "upto", "reason": "the last seq read"})
    desk = desk_of(request)
    now = desk.clock()
    marked = await asyncio.to_thread(desk.records.mark_read, conversation["id"], by_resident, upto, now)
    if marked:
        data = {"conversation_id": conversation["id"], "upto": upto, "read_at": iso(now), "by": reader}
        publish(request, conversation, "chat.read", lambda _mine: data)
    return JSONResponse({"marked": marked, "read_at": iso(now)})


async def my_read(request: Request) -> Response:
    _, conversation = await _mine(request)
    return await _read(request, conversation, True, "resident")


async def _serve_photo(request: Request, conversation_id: str) -> Response:
    name = request.path_params["photo"]
    path = desk_of(request).photos.path(conversation_id, name.removesuffix(".jpg"))
    if path is None:
        raise ApiError(404, "没有这张照片", {"photo": name})
    return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


async def my_photo_file(request: Request) -> Response:
    _, conversation = await _mine(request)
    return await _serve_photo(request, conversation["id"])


async def resident_socket(websocket: WebSocket) -> None:
    """The resident's live socket: the hub, with their own `chat:<id>` as the only channel."""
    resident = await current_resident(websocket)
    if resident is None:
        await websocket.close(code=4401, reason="sign in as a resident")
        return
    # Their conversations cached now, so that their first message is gated in memory too.
    fast_of(websocket).conversations.put_all(
        await asyncio.to_thread(desk_of(websocket).records.open_of_resident, resident.id)
    )
    access = Access("", frozenset({f"chat:{resident.id}"}), resident.id, "resident")
    await deps.hub(websocket).serve(websocket, access)


# ---------------------------------------------------------------- staff


async def _staff(request: Request) -> tuple[Any, dict[str, Any]]:
    who = principal_of(request)
    return who, await staff_conversation(request, who, request.path_params["id"])


async def chats(request: Request) -> Response:
    who = principal_of(request)
    city = deps.city(request)
    rows = await asyncio.to_thread(desk_of(request).records.in_scope, scope_of(who, city))
    fast_of(request).conversations.put_all(rows)  # what the worker is about to answer
    items = [conversation_view(city, c, False) for c in rows]
    return JSONResponse({"items": items, "unread": sum(i["unread"] for i in items)})


async def chat(request: Request) -> Response:
    _, light = await _staff(request)
    conversation = await asyncio.to_thread(desk_of(request).records.get, light["id"]) or light
    resident = await asyncio.to_thread(_resident_phone, request, conversation["resident_id"])
    return JSONResponse(conversation_view(deps.city(request), conversation, False) | {"resident": resident})


def _resident_phone(conn: HTTPConnection, resident_id: str) -> str | None:
    from command_center.store.resident_records import resident_store

    found = resident_store(deps.store(conn)).get(resident_id)
    return None if found is None else found.phone_masked


async def staff_messages(request: Request) -> Response:
    _, conversation = await _staff(request)
    return await _page(request, conversation["id"], False)


async def staff_catch_up(request: Request) -> Response:
    who = principal_of(request)
    after = _int(request, "after", 0, 0, 2**62) or 0
    scope = scope_of(who, deps.city(request))
    rows = await asyncio.to_thread(desk_of(request).records.after_scope, scope, after)
    city = deps.city(request)
    return JSONResponse(
        {"items": [message_view(city, m, False) for m in rows], "more": len(rows) >= MAX_PAGE}
    )


async def _staff_post(request: Request, who: Any, conversation_id: str, **message: Any) -> Response:
    _, stored = await send(request, sender_of_staff(who), conversation_id, **message)
    return JSONResponse(message_view(deps.city(request), stored, False), status_code=201)


async def staff_message(request: Request) -> Response:
    who = principal_of(request)
    message = await _message_body(request)
    return await _staff_post(request, who, request.path_params["id"], **message)


async def staff_photo(request: Request) -> Response:
    who, conversation = await _staff(request)
    photo_id = await _photo(request, conversation["id"])
    return await _staff_post(request, who, conversation["id"], kind="photo", text="", photo_id=photo_id)


async def staff_read(request: Request) -> Response:
    who, conversation = await _staff(request)
    return await _read(request, conversation, False, who.actor)


async def staff_photo_file(request: Request) -> Response:
    _, conversation = await _staff(request)
    return await _serve_photo(request, conversation["id"])


async def make_case(request: Request) -> Response:
    who, conversation = await _staff(request)
    body = await json_body(request, required=False, limit=SMALL_BODY)
    view = await to_case(request, who, conversation, body.get("matter_code"))
    await audit.record(
        deps.store(request), request, who, "chat.case", conversation["id"], f"case={view['id']}"
    )
    return JSONResponse(view, status_code=201)


routes: list[BaseRoute] = [
    Route("/api/residents/me/chats", my_chats, methods=["GET"]),
    Route("/api/residents/me/chats", open_chat, methods=["POST"]),
    Route("/api/residents/me/chats/messages", my_catch_up, methods=["GET"]),
    WebSocketRoute("/api/residents/me/chats/ws", resident_socket),
    Route("/api/residents/me/chats/{id}/messages", my_messages, methods=["GET"]),
    Route("/api/residents/me/chats/{id}/messages", my_send, methods=["POST"]),
    Route("/api/residents/me/chats/{id}/photos", my_photo, methods=["POST"]),
    Route("/api/residents/me/chats/{id}/photos/{photo}", my_photo_file, methods=["GET"]),
    Route("/api/residents/me/chats/{id}/read", my_read, methods=["POST"]),
    Route("/api/chats", chats, methods=["GET"]),
    Route("/api/chats/messages", staff_catch_up, methods=["GET"]),
    Route("/api/chats/{id}", chat, methods=["GET"]),
    Route("/api/chats/{id}/messages", staff_messages, methods=["GET"]),
    Route("/api/chats/{id}/messages", staff_message, methods=["POST"]),
    Route("/api/chats/{id}/photos", staff_photo, methods=["POST"]),
    Route("/api/chats/{id}/photos/{photo}", staff_photo_file, methods=["GET"]),
    Route("/api/chats/{id}/read", staff_read, methods=["POST"]),
    Route("/api/chats/{id}/case", make_case, methods=["POST"]),
]
