"""WebRTC endpoints: WHIP ingest, WHEP viewing, and drone telemetry over HTTP.

POST /whip/{stream_id}                 SDP offer → 201 answer, Location: /whip/{stream_id}/{session}
                                       (worker-<id>: that worker, signed in, going live from the terminal)
DELETE /whip/{stream_id}/{session}     ends the publish (its publisher, or an admin)
POST /whep/{camera_id}                 SDP offer → 201 answer, Location: /whep/{camera_id}/{session}
DELETE /whep/{camera_id}/{session}     ends the view (its viewer, or an admin)
POST /api/drones/{id}/telemetry        {lat, lon, alt?, heading?, ts?} → the camera's latest position

Publishing and telemetry need a credential for the stream (command_center.auth.publishers):
401 without one, 403 for another stream's, 409 while another owner's publisher is live;
a refused request changes nothing. Publishes, replacements, ends and refusals are audited.
Viewing (WHEP) is scoped like the MJPEG view: a camera outside the jurisdiction is 404.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from command_center.api.errors import ApiError, json_body, read_capped
from command_center.api.viewers import once, open_view
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.auth.publish_keys import PublishKeys
from command_center.auth.publishers import WORKER_STREAM, IngressAudit, Publisher, credential, refusal
from command_center.config import CameraConfig
from command_center.runtime import Runtime
from streams.config import Location
from streams.telemetry import TELEMETRY, parse_telemetry
from streams.webrtc import SdpError, UnknownStream
from streams.whep import WhepHub
from streams.whip import Occupied, WhipHub, stream_id_of

SDP = "application/sdp"


@dataclass
class Hubs:
    whip: WhipHub
    whep: WhepHub
    viewers: dict[str, str] = field(default_factory=dict)  # WHEP session id → its viewer's user name
    audits: set[asyncio.Task[None]] = field(default_factory=set)  # audit writes from session ends


# Per runtime, created with its routes and dropped when closed (see `close`). Weak keys, and
# hubs that hold no reference back to the runtime, so a runtime never closed still goes away.
_hubs: weakref.WeakKeyDictionary[Runtime, Hubs] = weakref.WeakKeyDictionary()


def hubs(rt: Runtime) -> Hubs:
    found = _hubs.get(rt)
    if found is None:
        found = _hubs[rt] = _make_hubs(rt)
    return found


async def close(rt: Runtime) -> None:
    """End every WebRTC session of this runtime (call before the runtime stops its sources)."""
    found = _hubs.pop(rt, None)
    if found is not None:
        await found.whip.close()
        await found.whep.close()
        await asyncio.gather(*found.audits, return_exceptions=True)  # the ends' audit rows


def _make_hubs(rt: Runtime) -> Hubs:
    streams = {}
    for cam in rt.config.cameras:
        if cam.kind == "whip" or cam.url.startswith("whip://"):
            try:
                streams[stream_id_of(cam.url)] = cam.id
            except ValueError:
                continue  # its source fails the same way and reports it on the camera

    cameras = {cam.id: (_image_source(rt, cam.id), cam.fps) for cam in rt.config.cameras}
    mobile = [cam.id for cam in rt.config.cameras if cam.mobile]
    return Hubs(WhipHub(streams, rt.config.webrtc, mobile=mobile), WhepHub(cameras, rt.config.webrtc))


def _image_source(rt: Runtime, cam_id: str) -> Callable[[], np.ndarray | None]:
    """What a WHEP viewer sees: the annotated frame, else the latest raw one."""

    def image() -> np.ndarray | None:
        annotated = rt.pipelines[cam_id].annotated
        if annotated is not None:
            return annotated.image
        latest = rt.runners[cam_id].latest
        return latest.image if latest is not None else None

    return image


def _worker_goes_live(rt: Runtime, the: Hubs, stream_id: str) -> None:
    """A worker's own stream, `worker-<id>`, becomes a camera on first publish (the caller
    checked it is that worker): it starts at their grid and follows the position the
    terminal sends, so it is mobile."""
    worker = rt.workers[stream_id.removeprefix(WORKER_STREAM)]
    grid = rt.city.areas.get(worker.grid_code)
    location = Location(lon=grid.lon, lat=grid.lat) if grid is not None else Location(lon=0.0, lat=0.0)
    cam = CameraConfig(
        id=stream_id,
        name=f"Live: {worker.name}",
        kind="whip",
        url=f"whip://{stream_id}",
        location=location,
        fps=5,
        mobile=True,
    )
    rt.add_camera(cam)
    the.whip.streams[stream_id] = cam.id
    the.whip.mobile.add(cam.id)
    the.whep.cameras[cam.id] = (_image_source(rt, cam.id), cam.fps)


def camera_config(rt: Runtime, cam_id: str) -> CameraConfig | None:
    return next((c for c in rt.config.cameras if c.id == cam_id), None)


async def read_offer(request: Request, limit: int) -> str:
    """The request's SDP offer; 415, 413 or 400 with the reason when it is not one."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != SDP:
        raise ApiError(415, "unsupported content type", f"send the SDP offer as {SDP}, not {content_type or 'nothing'}")
    body = await read_capped(request, limit, "offer")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad SDP offer", "not UTF-8 text") from None


def created(answer_sdp: str, location: str) -> Response:
    return Response(
        answer_sdp,
        status_code=201,
        media_type=SDP,
        headers={"Location": location, "Cache-Control": "no-store", "Access-Control-Expose-Headers": "Location"},
    )


@dataclass
class _Ingress:
    """What the routes share: the runtime, its hubs, the keys and the audit."""

    rt: Runtime
    the: Hubs
    keys: PublishKeys
    audit: IngressAudit

    def publish_target(self, stream_id: str) -> CameraConfig | None:
        """The camera a stream feeds; None for a worker's stream not live yet; 404 for no stream."""
        cam_id = self.the.whip.streams.get(stream_id)
        if cam_id is not None:
            return camera_config(self.rt, cam_id)
        if stream_id.startswith(WORKER_STREAM):
            worker_id = stream_id.removeprefix(WORKER_STREAM)
            if self.rt.config.workers.live_video and worker_id in self.rt.workers:
                return None
        raise ApiError(404, "unknown stream", f"no whip camera has url whip://{stream_id}")

    def on_publish_end(self, who: Publisher, stream_id: str, box: dict[str, str]) -> Callable[[str], None]:
        """The session's end, audited: deleted, replaced, or the connection went."""

        def ended(why: str) -> None:
            detail = f"session {box.get('id', '?')}: {why}"
            task = asyncio.get_running_loop().create_task(self.audit.write(None, who, "whip.end", stream_id, detail))
            self.the.audits.add(task)
            task.add_done_callback(self.the.audits.discard)

        return ended

    async def _start(self, stream_id: str, offer: str, who: Publisher, ended: Callable[[str], None], live: Any) -> Any:
        """The WHIP publish; a user's live session is freed again when it does not start."""
        try:
            return await self.the.whip.publish(stream_id, offer, who.owner, who.may_replace, ended)
        except BaseException:
            if live is not None:
                live.end()
            raise

    async def publish(self, request: Request, who: Publisher, stream_id: str, offer: str) -> Response:
        the = self.the
        box: dict[str, str] = {}
        ended = self.on_publish_end(who, stream_id, box)
        live = None
        if who.principal is not None:  # a user's publish lives no longer than their token
            async def close(_reason: str) -> None:
                if "id" in box:
                    await the.whip.end(box["id"], "the publisher's token expired or was revoked")

            live = open_view(self.rt, who.principal, "whip", close)
            ended = _and_then(ended, live.end)
        try:
            published = await self._start(stream_id, offer, who, ended, live)
        except Occupied as exc:
            raise ApiError(
                409, "stream is live", f"{stream_id} is live from another publisher; only it or an admin may replace it"
            ) from exc
        except SdpError as exc:
            raise ApiError(400, "bad SDP offer", str(exc)) from None
        except UnknownStream:
            raise ApiError(404, "unknown stream", stream_id) from None
        except RuntimeError as exc:  # shutting down
            raise ApiError(503, "unavailable", str(exc)) from None
        box["id"] = published.session_id
        if published.replaced is not None:
            old_id, old_owner = published.replaced
            detail = f"session {old_id} of {old_owner or '?'} replaced by {published.session_id}"
            await self.audit.write(request, who, "whip.replace", stream_id, detail)
        await self.audit.write(request, who, "whip.publish", stream_id, f"session {published.session_id}")
        return created(published.answer_sdp, f"/whip/{stream_id}/{published.session_id}")


def _and_then(first: Callable[[str], None], then: Callable[[], None]) -> Callable[[str], None]:
    def both(why: str) -> None:
        try:
            first(why)
        finally:
            then()

    return both


def routes(rt: Runtime) -> list[Route]:
    the = hubs(rt)
    limit = rt.config.webrtc.max_offer_bytes
    ingress = _Ingress(rt, the, PublishKeys(rt.store), IngressAudit(rt.store))
    audit = ingress.audit

    async def whip_publish(request: Request) -> Response:
        stream_id = request.path_params["stream_id"]
        who: Publisher | None = None
        try:
            who = await credential(request, ingress.keys)
            camera = ingress.publish_target(stream_id)
            why = refusal(who, stream_id, camera, rt.area_of)
            if why is not None:
                raise ApiError(403, "forbidden", why)
            offer = await read_offer(request, limit)
            if camera is None:
                _worker_goes_live(rt, the, stream_id)
            return await ingress.publish(request, who, stream_id, offer)
        except ApiError as exc:
            if exc.status_code in (401, 403, 409):
                await audit.refused(request, who, "whip.refuse", stream_id, exc)
            raise

    async def whip_end(request: Request) -> Response:
        stream_id, session_id = request.path_params["stream_id"], request.path_params["session_id"]
        who: Publisher | None = None
        try:
            who = await credential(request, ingress.keys)
            if the.whip.session_stream(session_id) != stream_id:
                raise ApiError(404, "unknown session", session_id)
            if not who.may_replace(the.whip.session_owner(session_id) or ""):
                raise ApiError(403, "forbidden", "only the session's publisher or an admin may end it")
        except ApiError as exc:
            if exc.status_code in (401, 403):
                await audit.refused(request, who, "whip.refuse", f"{stream_id}/{session_id}", exc)
            raise
        if not await the.whip.end(session_id, f"ended by {who.actor}"):
            raise ApiError(404, "unknown session", session_id)
        return Response(status_code=200)

    async def whep_view(request: Request) -> Response:
        camera_id = request.path_params["camera_id"]
        principal = principal_of(request)
        if camera_id not in the.whep.cameras or not _visible(rt, principal, camera_id):
            raise ApiError(404, "camera not found", camera_id)
        offer = await read_offer(request, limit)
        box: dict[str, str] = {}

        async def close(_reason: str) -> None:  # the token expired or was revoked
            if "id" in box:
                await the.whep.end(box["id"])

        live = open_view(rt, principal, "whep", close)

        def finished() -> None:
            live.end()
            the.viewers.pop(box.get("id", ""), None)

        done = once(finished)
        try:
            answer_sdp, session_id = await _view(the, camera_id, offer, done)
        except BaseException:
            done()
            raise
        box["id"] = session_id
        the.viewers[session_id] = principal.user
        return created(answer_sdp, f"/whep/{camera_id}/{session_id}")

    async def whep_end(request: Request) -> Response:
        camera_id, session_id = request.path_params["camera_id"], request.path_params["session_id"]
        principal = principal_of(request)
        viewer = the.viewers.get(session_id)
        mine = viewer == principal.user or principal.role == "admin"
        if the.whep.session_camera(session_id) != camera_id or not mine or not await the.whep.end(session_id):
            raise ApiError(404, "unknown session", session_id)  # someone else's is not told apart
        the.viewers.pop(session_id, None)
        return Response(status_code=200)

    async def drone_telemetry(request: Request) -> JSONResponse:
        camera_id = request.path_params["id"]
        who: Publisher | None = None
        try:
            who = await credential(request, ingress.keys)
            camera = camera_config(rt, camera_id) if camera_id in rt.runners else None
            if camera is None:
                raise ApiError(404, "camera not found", camera_id)
            stream_id = _stream_of(camera)
            why = refusal(who, stream_id, camera, rt.area_of)
            if why is not None:
                raise ApiError(403, "forbidden", why)
            if not camera.mobile:
                raise ApiError(409, "fixed camera", f"{camera_id} is not mobile: telemetry never moves it")
        except ApiError as exc:
            if exc.status_code in (401, 403, 409):
                await audit.refused(request, who, "telemetry.refuse", camera_id, exc)
            raise
        body = await json_body(request, required=True)
        try:
            telemetry = parse_telemetry(body)
        except ValueError as exc:
            raise ApiError(400, "bad telemetry", str(exc)) from None
        TELEMETRY.set(camera_id, telemetry)
        await audit.telemetry_accepted(request, who, camera_id, f"lat {telemetry.lat:.6f} lon {telemetry.lon:.6f}")
        position = {k: getattr(telemetry, k) for k in ("lat", "lon", "alt", "heading", "ts")}
        return JSONResponse({"id": camera_id, "telemetry": position})

    return [
        Route("/whip/{stream_id}", whip_publish, methods=["POST"]),
        Route("/whip/{stream_id}/{session_id}", whip_end, methods=["DELETE"]),
        Route("/whep/{camera_id}", whep_view, methods=["POST"]),
        Route("/whep/{camera_id}/{session_id}", whep_end, methods=["DELETE"]),
        Route("/api/drones/{id}/telemetry", drone_telemetry, methods=["POST"]),
    ]


async def _view(the: Hubs, camera_id: str, offer: str, on_end: Callable[[], None]) -> tuple[str, str]:
    try:
        return await the.whep.view(camera_id, offer, on_end=on_end)
    except SdpError as exc:
        raise ApiError(400, "bad SDP offer", str(exc)) from None
    except UnknownStream:
        raise ApiError(404, "camera not found", camera_id) from None
    except RuntimeError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None


def _visible(rt: Runtime, principal: Principal, camera_id: str) -> bool:
    """Is the camera (where it is now) in the caller's jurisdiction? As the MJPEG view checks."""
    where = rt.camera_view(camera_id)["location"]
    return principal.sees_area(rt.area_of(where["lon"], where["lat"]))


def _stream_of(camera: CameraConfig) -> str:
    """The WHIP stream id feeding a camera, else its own id (a key may name either)."""
    try:
        return stream_id_of(camera.url)
    except ValueError:
        return camera.id
