"""HTTP intake of IoT readings, for gateways that cannot speak MQTT.

POST /api/iot/readings   body: the MQTT payload convention (docs/IOT.md) → 200 {topic}

The body goes to the same `Handler(topic, payload)` as a message from the broker, under
the topic the sender would have published to: a gateway's key posts as
`cc/gateways/<id>/readings`, a single device's as `cc/devices/<id>/readings`. The caller
proves who it is with a per-gateway (or per-device) publish key, `Authorization: Bearer
cck_…` (auth/publish_keys.py: 256 random bits, stored hashed, rotated and revoked like a
drone's), made for the stream name `gateway:<id>` or `device:<id>`.

The glue that runs the IoT service sets the handler (`set_handler`); until it does, the
route answers 503 `IoT intake not configured`, before looking at the credential. A
handler's ValueError (a payload it cannot parse) is the caller's 400 with the reason;
any other failure is logged and answered 503: the gateway keeps the readings and sends
them again.
"""

from __future__ import annotations

import asyncio
import logging
import re

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from command_center.api import deps
from command_center.api.errors import ApiError, read_capped
from command_center.auth.middleware import bearer_of
from command_center.auth.publish_keys import PublishKeys, looks_like_key
from command_center.mqtt.handler import Handler

log = logging.getLogger(__name__)

STATE = "iot_handler"  # app.state attribute holding the Handler
MAX_BODY = 1024 * 1024  # a gateway's batch of readings; the body-limit middleware bounds it as well
MEDIA = ("application/json", "application/senml+json")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # a device id (iot/payload.py): no "/", "+", "#"
TOPICS = {"gateway": "cc/gateways/{}/readings", "device": "cc/devices/{}/readings"}


def set_handler(app: Starlette, handler: Handler | None) -> None:
    """Where the glue plugs the readings handler in (None: not configured)."""
    setattr(app.state, STATE, handler)


def handler_of(request: Request) -> Handler | None:
    handler: Handler | None = getattr(request.app.state, STATE, None)
    return handler


async def topic_of(request: Request) -> str:
    """The topic the caller's key stands for; 401 without a valid key, 403 for a key made
    for something else (a camera's stream)."""
    token = bearer_of(request.scope)
    if token is None or not looks_like_key(token):
        raise ApiError(
            401, "gateway key required", "send Authorization: Bearer <publish key cck_… for gateway:<id>>"
        )
    key = await asyncio.to_thread(PublishKeys(deps.store(request)).verify, token)
    if key is None:
        raise ApiError(
            401, "invalid publish key", "unknown, revoked or rotated: ask an admin for the current key"
        )
    kind, _, name = key.stream.partition(":")
    if kind not in TOPICS or not NAME.match(name):
        raise ApiError(
            403, "not an IoT key", f"this key is for {key.stream}, not gateway:<id> or device:<id>"
        )
    return TOPICS[kind].format(name)


async def post_readings(request: Request) -> JSONResponse:
    handler = handler_of(request)
    if handler is None:
        raise ApiError(503, "IoT intake not configured", "this server runs no IoT service to take readings")
    topic = await topic_of(request)
    media = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media not in MEDIA:
        raise ApiError(415, "unsupported content type", f"send {' or '.join(MEDIA)}")
    body = await read_capped(request, MAX_BODY, "readings")
    if not body.strip():
        raise ApiError(400, "empty body", "send the readings as JSON (docs/IOT.md)")
    try:
        await handler(topic, body)
    except ValueError as exc:  # the payload cannot be taken: json, SenML, readings
        raise ApiError(400, "bad readings", str(exc)[:500]) from None
    except Exception:
        log.exception("iot http intake: the handler failed on %s (%d bytes)", topic, len(body))
        raise ApiError(503, "readings not taken", "the IoT service failed on them: send them again") from None
    return JSONResponse({"topic": topic})


routes = [Route("/api/iot/readings", post_readings, methods=["POST"])]
