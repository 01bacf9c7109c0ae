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
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps, webrtc
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.auth.publish_keys import MAX_NAME, MAX_NOTE, PublishKey, PublishKeys
from command_center.config import Config
from command_center.store.device_records import device_store
from streams.whip import WhipHub, stream_id_of

STREAM_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# An IoT sender posting readings over HTTP (api/iot_intake.py): a gateway by its own name, or
# one registered device.
IOT_SENDER = re.compile(r"^(gateway|device):([A-Za-z0-9_.-]{1,64})$")


def publishable(config: Config) -> set[str]:
    """What a key may be made for: every configured camera's id, and each WHIP camera's stream id."""
    names = {cam.id for cam in config.cameras}
    for cam in config.cameras:
        try:
            names.add(stream_id_of(cam.url))
        except ValueError:
            continue
    return names


async def _may_publish(request: Request, stream: str) -> bool:
    sender = IOT_SENDER.match(stream)
    if sender is None:
        return bool(STREAM_ID.match(stream)) and stream in publishable(deps.config(request))
    if sender.group(1) == "gateway":
        return True
    device = await asyncio.to_thread(device_store(deps.store(request)).get, sender.group(2))
    return device is not None


def _text(body: dict[str, Any], name: str, limit: int, required: bool) -> str:
    value = body.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        need = (
            f"a string of 1 to {limit} characters" if required else f"a string of at most {limit} characters"
        )
        raise ApiError(400, f"bad field {name!r}", need)
    return value.strip()


def _keys(request: Request) -> PublishKeys:
    return PublishKeys(deps.store(request))  # no state of its own: the rows are in the store


async def list_publish_keys(request: Request) -> JSONResponse:
    items = [k.to_dict() for k in await asyncio.to_thread(_keys(request).list)]
    return JSONResponse({"items": items, "total": len(items)})


async def create_publish_key(request: Request) -> JSONResponse:
    principal = principal_of(request)
    body = await json_body(request, required=True)
    unknown = sorted(set(body) - {"name", "stream", "note"})
    if unknown:
        raise ApiError(400, "unknown field(s)", unknown)
    name = _text(body, "name", MAX_NAME, required=True)
    stream = _text(body, "stream", 64, required=True)
    note = _text(body, "note", MAX_NOTE, required=False)
    if not await _may_publish(request, stream):
        raise ApiError(
            400, "unknown stream",
            f"{stream!r} is not a configured camera id, a whip stream id, gateway:<name> or device:<registered device id>",
        )  # fmt: skip
    key, token = await asyncio.to_thread(_keys(request).create, name, stream, note, principal.user)
    await audit.record(
        deps.store(request), request, principal, "publish_key.create", key.id, f"{name} for {stream}"
    )
    return JSONResponse(key.to_dict() | {"token": token}, status_code=201)


async def rotate_publish_key(request: Request) -> JSONResponse:
    principal = principal_of(request)
    key_id = request.path_params["id"]
    rotated = await asyncio.to_thread(_keys(request).rotate, key_id)
    if rotated is None:
        raise ApiError(404, "publish key not found", f"no active key {key_id}")
    key, token = rotated
    ended = await _end_publishes(webrtc.hubs(request.app).whip, key, "its key was rotated")
    detail = f"{ended} live publish(es) ended"
    await audit.record(deps.store(request), request, principal, "publish_key.rotate", key.id, detail)
    return JSONResponse(key.to_dict() | {"token": token})


async def revoke_publish_key(request: Request) -> JSONResponse:
    principal = principal_of(request)
    key_id = request.path_params["id"]
    key = await asyncio.to_thread(_keys(request).revoke, key_id)
    if key is None:
        raise ApiError(404, "publish key not found", f"no active key {key_id}")
    ended = await _end_publishes(webrtc.hubs(request.app).whip, key, "its key was revoked")
    detail = f"{ended} live publish(es) ended"
    await audit.record(deps.store(request), request, principal, "publish_key.revoke", key.id, detail)
    return JSONResponse(key.to_dict())


async def _end_publishes(whip: WhipHub, key: PublishKey, why: str) -> int:
    """End this node's live publishes made with `key`; how many."""
    owner = f"key:{key.id}"
    ended = 0
    for session in whip.sessions.all():
        if whip.owners.get(session.id) == owner and await whip.end(session.id, why):
            ended += 1
    return ended


routes: list[BaseRoute] = [
    Route("/api/publish-keys", list_publish_keys, methods=["GET"]),
    Route("/api/publish-keys", create_publish_key, methods=["POST"]),
    Route("/api/publish-keys/{id}/rotate", rotate_publish_key, methods=["POST"]),
    Route("/api/publish-keys/{id}", revoke_publish_key, methods=["DELETE"]),
]
