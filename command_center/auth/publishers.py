"""Who may publish a stream (WHIP) or post a camera's telemetry, and the audit of both.

The policy lets /whip/* and the telemetry route through without a role (a drone has no
user); these checks demand a credential for the stream itself:

- a per-device publish key (`Authorization: Bearer cck_…`) made for that stream or camera;
- a worker's token, for their own stream `worker-<worker id>` only;
- a staff token (officer, emergency, admin) for a configured camera inside the user's
  jurisdiction (where the camera is installed), never a worker's own stream.

Missing or invalid (unknown, revoked, rotated, expired) → 401; valid but not for this
stream → 403.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import HTTPConnection

from command_center import audit
from command_center.api.errors import ApiError
from command_center.auth.middleware import bearer_of, signed_in
from command_center.auth.principal import Principal
from command_center.auth.publish_keys import PublishKey, PublishKeys, looks_like_key
from command_center.auth.scoping import Locate
from command_center.config import CameraConfig
from command_center.store import Store

WORKER_STREAM = "worker-"


@dataclass(frozen=True, slots=True)
class Publisher:
    """Whoever's credential came with a publish or a telemetry post."""

    owner: str  # `key:<id>` or `user:<name>`: what "the same publisher" means
    actor: str  # the audit log's actor
    role: str  # the user's role, or "device" for a key
    principal: Principal | None = None
    key: PublishKey | None = None

    @property
    def is_admin(self) -> bool:
        return self.principal is not None and self.principal.role == "admin"

    def may_replace(self, owner: str) -> bool:
        """A live publisher is replaced only by itself (a reconnect) or by an admin."""
        return owner == self.owner or self.is_admin

    @classmethod
    def of_key(cls, key: PublishKey) -> Publisher:
        return cls(f"key:{key.id}", f"key:{key.id}", "device", key=key)

    @classmethod
    def of_user(cls, principal: Principal) -> Publisher:
        return cls(f"user:{principal.user}", principal.user, principal.role, principal=principal)


async def credential(conn: HTTPConnection, keys: PublishKeys) -> Publisher:
    """The caller's publish key or signed-in user; 401 when there is neither.

    The middleware already dropped a bad or revoked user token on this public route
    (`signed_in` is then None), so a bad token reads as none, and a key is checked here.
    """
    token = bearer_of(conn.scope)  # a key only ever comes as a header, never from the cookie
    if token is not None and looks_like_key(token):
        key = await asyncio.to_thread(keys.verify, token)
        if key is None:
            raise ApiError(401, "invalid publish key", "unknown, revoked or rotated: ask an admin for the current key")
        return Publisher.of_key(key)
    principal = signed_in(conn)
    if principal is None:
        why = "the token is invalid, expired or revoked" if token else "no credential"
        raise ApiError(
            401, "credential required", f"{why}: send Authorization: Bearer <publish key cck_…> or a user's token"
        )
    return Publisher.of_user(principal)


def refusal(publisher: Publisher, stream_id: str, camera: CameraConfig | None, locate: Locate) -> str | None:
    """Why `publisher` may not publish `stream_id` (camera `camera`, None for a worker's
    stream not live yet), or None when it may."""
    if publisher.key is not None:
        names = (stream_id,) if camera is None else (stream_id, camera.id)
        return None if publisher.key.allows(*names) else f"this key is for {publisher.key.stream}, not {stream_id}"
    principal = publisher.principal
    assert principal is not None
    if stream_id.startswith(WORKER_STREAM):
        if principal.is_worker and principal.worker_id == stream_id.removeprefix(WORKER_STREAM):
            return None
        return f"{stream_id} is {stream_id.removeprefix(WORKER_STREAM)}'s own stream"
    if not principal.is_staff:
        return f"a {principal.role} may publish only their own stream {WORKER_STREAM}<worker id>"
    if camera is None:  # the caller answers 404 for a stream no camera has (removed, say)
        return f"no camera is fed by {stream_id}"
    area = locate(camera.location.lon, camera.location.lat)
    if not principal.sees_area(area):
        return f"camera {camera.id} is outside your jurisdiction {principal.jurisdiction}"
    return None


class Throttle:
    """At most one `due` per key and period: keeps the audit log to facts, not floods."""

    def __init__(self, every_s: float, size: int = 10_000) -> None:
        self.every_s = every_s
        self.size = size
        self._last: OrderedDict[str, float] = OrderedDict()

    def due(self, key: str) -> bool:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.every_s:
            return False
        self._last[key] = now
        self._last.move_to_end(key)
        while len(self._last) > self.size:
            self._last.popitem(last=False)
        return True


class IngressAudit:
    """Audit rows for publishes and telemetry. Refusals are written at most once per
    10 s per (action, target, address), accepted telemetry once a minute per camera."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.refusals = Throttle(10.0)
        self.telemetry = Throttle(60.0)

    async def write(
        self, conn: HTTPConnection | None, who: Publisher | None, action: str, target: str, detail: str | None = None
    ) -> None:
        ip = audit.client_ip(conn) if conn is not None else ""
        actor, role = (who.actor, who.role) if who is not None else ("anonymous", "")
        await audit.write(self.store, audit.entry(actor, role, action, target, ip, detail))

    async def refused(
        self, conn: HTTPConnection, who: Publisher | None, action: str, target: str, error: ApiError
    ) -> None:
        ip = audit.client_ip(conn)
        if self.refusals.due(f"{action}|{target}|{ip}|{who.owner if who else ''}"):
            await self.write(conn, who, action, target, f"{error.status_code} {error.error}: {error.payload_detail}")

    async def telemetry_accepted(self, conn: HTTPConnection, who: Publisher, camera_id: str, where: str) -> None:
        if self.telemetry.due(camera_id):
            await self.write(conn, who, "telemetry.accept", camera_id, f"{where} (audited once a minute)")
