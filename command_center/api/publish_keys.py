"""Per-device publish keys, for admins (the policy lets only admins reach /api/publish-keys).

GET    /api/publish-keys                    every key (never a secret)
POST   /api/publish-keys                    {name, stream, note?} → 201 the key and its token, shown once
POST   /api/publish-keys/{id}/rotate        a new token, shown once; the old one stops now
DELETE /api/publish-keys/{id}               revoke; the row stays for the audit log

Rotating or revoking also ends the key's live publishes on this node, so the device
must come back with the new token (or not at all). Every change is audited.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from command_center import audit
from command_center.api import webrtc
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.auth.publish_keys import MAX_NAME, MAX_NOTE, PublishKey, PublishKeys
from command_center.runtime import Runtime
from streams.whip import stream_id_of

STREAM_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def publishable(rt: Runtime) -> set[str]:
    """What a key may be made for: every configured camera's id, and each WHIP camera's stream id."""
    names = {cam.id for cam in rt.config.cameras}
    for cam in rt.config.cameras:
        try:
            names.add(stream_id_of(cam.url))
        except ValueError:
            continue
    return names


def _text(body: dict[str, Any], name: str, limit: int, required: bool) -> str:
    value = body.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        need = f"a string of 1 to {limit} characters" if required else f"a string of at most {limit} characters"
        raise ApiError(400, f"bad field {name!r}", need)
    return value.strip()


def routes(rt: Runtime) -> list[Route]:
    keys = PublishKeys(rt.store)

    async def list_keys(_request: Request) -> JSONResponse:
        items = [k.to_dict() for k in await asyncio.to_thread(keys.list)]
        return JSONResponse({"items": items, "total": len(items)})

    async def create_key(request: Request) -> JSONResponse:
        principal = principal_of(request)
        body = await json_body(request, required=True)
        unknown = sorted(set(body) - {"name", "stream", "note"})
        if unknown:
            raise ApiError(400, "unknown field(s)", unknown)
        name = _text(body, "name", MAX_NAME, required=True)
        stream = _text(body, "stream", 64, required=True)
        note = _text(body, "note", MAX_NOTE, required=False)
        if not STREAM_ID.match(stream) or stream not in publishable(rt):
            raise ApiError(400, "unknown stream", f"{stream!r} is not a configured camera id or whip stream id")
        key, token = await asyncio.to_thread(keys.create, name, stream, note, principal.user)
        await audit.record(rt.store, request, principal, "publish_key.create", key.id, f"{name} for {stream}")
        return JSONResponse(key.to_dict() | {"token": token}, status_code=201)

    async def rotate_key(request: Request) -> JSONResponse:
        principal = principal_of(request)
        key_id = request.path_params["id"]
        rotated = await asyncio.to_thread(keys.rotate, key_id)
        if rotated is None:
            raise ApiError(404, "publish key not found", f"no active key {key_id}")
        key, token = rotated
        ended = await _end_publishes(rt, key, "its key was rotated")
        await audit.record(rt.store, request, principal, "publish_key.rotate", key.id, f"{ended} live publish(es) ended")
        return JSONResponse(key.to_dict() | {"token": token})

    async def revoke_key(request: Request) -> JSONResponse:
        principal = principal_of(request)
        key_id = request.path_params["id"]
        key = await asyncio.to_thread(keys.revoke, key_id)
        if key is None:
            raise ApiError(404, "publish key not found", f"no active key {key_id}")
        ended = await _end_publishes(rt, key, "its key was revoked")
        await audit.record(rt.store, request, principal, "publish_key.revoke", key.id, f"{ended} live publish(es) ended")
        return JSONResponse(key.to_dict())

    return [
        Route("/api/publish-keys", list_keys, methods=["GET"]),
        Route("/api/publish-keys", create_key, methods=["POST"]),
        Route("/api/publish-keys/{id}/rotate", rotate_key, methods=["POST"]),
        Route("/api/publish-keys/{id}", revoke_key, methods=["DELETE"]),
    ]


async def _end_publishes(rt: Runtime, key: PublishKey, why: str) -> int:
    """End this node's live publishes made with `key`; how many."""
    whip = webrtc.hubs(rt).whip
    owner = f"key:{key.id}"
    ended = 0
    for session in whip.sessions.all():
        if whip.owners.get(session.id) == owner and await whip.end(session.id, why):
            ended += 1
    return ended
