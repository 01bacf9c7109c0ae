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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.errors import ApiError, json_body, read_capped
from command_center.api.viewers import once, open_view
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal
from command_center.auth.publish_keys import PublishKeys
from command_center.auth.publishers import WORKER_STREAM, IngressAudit, Publisher, credential, refusal
from command_center.auth.sessions import LiveSession
from command_center.config import CameraConfig, Config
from command_center.store import Store
from streams.config import Location
from streams.telemetry import TELEMETRY, parse_telemetry
from streams.webrtc import SdpError, UnknownStream
from streams.whep import WhepHub
from streams.whip import Occupied, Published, WhipHub, stream_id_of

if TYPE_CHECKING:
    from command_center.camera_status import Cameras
    from command_center.city_map import CityMap

SDP = "application/sdp"
STATE_KEY = "webrtc_hubs"  # where an app keeps its Hubs (app.state)


@dataclass
class Hubs:
    """One app's WebRTC sessions, and the audit of its ingress."""

    whip: WhipHub
    whep: WhepHub
    ingress_audit: IngressAudit  # per app: its refusal and telemetry throttles
    viewers: dict[str, str] = field(default_factory=dict)  # WHEP session id → its viewer's user name
    audits: set[asyncio.Task[None]] = field(default_factory=set)  # audit writes from session ends


def hubs(app: Starlette | State) -> Hubs:
    """The app's hubs (`app` or its `app.state`), made on first use from the services there."""
    state = app.state if isinstance(app, Starlette) else app
    found: Hubs | None = getattr(state, STATE_KEY, None)
    if found is None:
        found = _make_hubs(state.config, state.cameras, state.store)
        setattr(state, STATE_KEY, found)
    return found


async def close(app: Starlette | State) -> None:
    """End every WebRTC session of this app (`app` or its `app.state`); call before the
    services stop their sources: ending the publishers releases the WHIP sources' waits."""
    state = app.state if isinstance(app, Starlette) else app
    found: Hubs | None = getattr(state, STATE_KEY, None)
    if found is not None:
        delattr(state, STATE_KEY)
        await found.whip.close()
        await found.whep.close()
        await asyncio.gather(*found.audits, return_exceptions=True)  # the ends' audit rows


def _make_hubs(config: Config, cameras: Cameras, store: Store) -> Hubs:
    whip_cameras = [cam for cam in config.cameras if cam.kind == "whip" or cam.url.startswith("whip://")]
    streams = {stream: cam.id for cam in whip_cameras if (stream := _whip_stream(cam)) is not None}
    images = {cam.id: (_image_source(cameras, cam.id), cam.fps) for cam in config.cameras}
    mobile = [cam.id for cam in config.cameras if cam.mobile]
    whip = WhipHub(streams, config.webrtc, mobile=mobile)
    return Hubs(whip, WhepHub(images, config.webrtc), IngressAudit(store))


def _image_source(cameras: Cameras, cam_id: str) -> Callable[[], np.ndarray | None]:
    """What a WHEP viewer sees: the annotated frame, else the latest raw one."""

    def image() -> np.ndarray | None:  # None (a blank) once the camera is removed
        pipeline, runner = cameras.pipelines.get(cam_id), cameras.runners.get(cam_id)
        annotated = pipeline.annotated if pipeline is not None else None
        if annotated is not None:
            return annotated.image
        latest = runner.latest if runner is not None else None
        return latest.image if latest is not None else None

    return image


def _worker_goes_live(city: CityMap, cameras: Cameras, webrtc: Hubs, stream_id: str) -> None:
    """A worker's own stream, `worker-<id>`, becomes a camera on first publish (the caller
    checked it is that worker): it starts at their grid and follows the position the
    terminal sends, so it is mobile."""
    worker = city.workers[stream_id.removeprefix(WORKER_STREAM)]
    grid = city.city.areas.get(worker.grid_code)
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
    cameras.add_camera(cam)
    webrtc.whip.streams[stream_id] = cam.id
    webrtc.whip.mobile.add(cam.id)
    webrtc.whep.cameras[cam.id] = (_image_source(cameras, cam.id), cam.fps)


async def read_offer(request: Request) -> str:
    """The request's SDP offer; 415, 413 or 400 with the reason when it is not one."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != SDP:
        raise ApiError(415, "unsupported content type", f"send the SDP offer as {SDP}, not {content_type or 'nothing'}")
    body = await read_capped(request, deps.config(request).webrtc.max_offer_bytes, "offer")
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


def _whip_camera(config: Config, webrtc: Hubs, stream_id: str) -> CameraConfig | None:
    """The camera the stream feeds now: the registry changes cameras live, so the running
    configuration decides and the hub's map follows it (added: publishable; removed: not)."""
    for cam in config.cameras:
        if (cam.kind == "whip" or cam.url.startswith("whip://")) and _whip_stream(cam) == stream_id:
            webrtc.whip.streams[stream_id] = cam.id
            (webrtc.whip.mobile.add if cam.mobile else webrtc.whip.mobile.discard)(cam.id)
            return cam
    webrtc.whip.streams.pop(stream_id, None)
    return None


def _publish_target(request: Request, webrtc: Hubs, stream_id: str) -> CameraConfig | None:
    """The camera a stream feeds; None for a worker's stream not live yet; 404 for no stream."""
    config = deps.config(request)
    camera = _whip_camera(config, webrtc, stream_id)
    if camera is not None:
        return camera
    if stream_id.startswith(WORKER_STREAM):
        worker_id = stream_id.removeprefix(WORKER_STREAM)
        if config.workers.live_video and worker_id in deps.city(request).workers:
            return None
    raise ApiError(404, "unknown stream", f"no whip camera has url whip://{stream_id}")


def _on_publish_end(webrtc: Hubs, who: Publisher, stream_id: str, box: dict[str, str]) -> Callable[[str], None]:
    """The session's end, audited: deleted, replaced, or the connection went."""

    def ended(why: str) -> None:
        detail = f"session {box.get('id', '?')}: {why}"
        write = webrtc.ingress_audit.write(None, who, "whip.end", stream_id, detail)
        task = asyncio.get_running_loop().create_task(write)
        webrtc.audits.add(task)
        task.add_done_callback(webrtc.audits.discard)

    return ended


def _and_then(first: Callable[[str], None], then: Callable[[], None]) -> Callable[[str], None]:
    def both(why: str) -> None:
        try:
            first(why)
        finally:
            then()

    return both


async def _start_publish(
    webrtc: Hubs, stream_id: str, offer: str, who: Publisher, ended: Callable[[str], None], live: LiveSession | None
) -> Published:
    """The WHIP publish; a user's live session is freed again when it does not start."""
    try:
        return await webrtc.whip.publish(stream_id, offer, who.owner, who.may_replace, ended)
    except BaseException:
        if live is not None:
            live.end()
        raise


async def _publish(request: Request, webrtc: Hubs, who: Publisher, stream_id: str, offer: str) -> Response:
    box: dict[str, str] = {}
    ended = _on_publish_end(webrtc, who, stream_id, box)
    live = None
    if who.principal is not None:  # a user's publish lives no longer than their token

        async def close_publish(_reason: str) -> None:
            if "id" in box:
                await webrtc.whip.end(box["id"], "the publisher's token expired or was revoked")

        live = open_view(deps.auth(request).sessions, who.principal, "whip", close_publish)
        ended = _and_then(ended, live.end)
    try:
        published = await _start_publish(webrtc, stream_id, offer, who, ended, live)
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
        await webrtc.ingress_audit.write(request, who, "whip.replace", stream_id, detail)
    await webrtc.ingress_audit.write(request, who, "whip.publish", stream_id, f"session {published.session_id}")
    return created(published.answer_sdp, f"/whip/{stream_id}/{published.session_id}")


async def whip_publish(request: Request) -> Response:
    stream_id = request.path_params["stream_id"]
    webrtc = hubs(request.app)
    who: Publisher | None = None
    try:
        who = await credential(request, PublishKeys(deps.store(request)))
        camera = _publish_target(request, webrtc, stream_id)
        why = refusal(who, stream_id, camera, deps.city(request).area_of)
        if why is not None:
            raise ApiError(403, "forbidden", why)
        offer = await read_offer(request)
        if camera is None:
            _worker_goes_live(deps.city(request), deps.cameras(request), webrtc, stream_id)
        return await _publish(request, webrtc, who, stream_id, offer)
    except ApiError as exc:
        if exc.status_code in (401, 403, 409):
            await webrtc.ingress_audit.refused(request, who, "whip.refuse", stream_id, exc)
        raise


async def whip_end(request: Request) -> Response:
    stream_id, session_id = request.path_params["stream_id"], request.path_params["session_id"]
    webrtc = hubs(request.app)
    who: Publisher | None = None
    try:
        who = await credential(request, PublishKeys(deps.store(request)))
        if webrtc.whip.session_stream(session_id) != stream_id:
            raise ApiError(404, "unknown session", session_id)
        if not who.may_replace(webrtc.whip.session_owner(session_id) or ""):
            raise ApiError(403, "forbidden", "only the session's publisher or an admin may end it")
    except ApiError as exc:
        if exc.status_code in (401, 403):
            await webrtc.ingress_audit.refused(request, who, "whip.refuse", f"{stream_id}/{session_id}", exc)
        raise
    if not await webrtc.whip.end(session_id, f"ended by {who.actor}"):
        raise ApiError(404, "unknown session", session_id)
    return Response(status_code=200)


async def whep_view(request: Request) -> Response:
    camera_id = request.path_params["camera_id"]
    webrtc = hubs(request.app)
    principal = principal_of(request)
    cameras = deps.cameras(request)
    camera = cameras.config_of(camera_id) if camera_id in cameras.runners else None
    if camera is None or not _visible(request, principal, camera_id):
        webrtc.whep.cameras.pop(camera_id, None)  # removed from the registry: no new viewer
        raise ApiError(404, "camera not found", camera_id)
    # As it runs now: added or changed since the hub was made (the console, a worker going live).
    webrtc.whep.cameras[camera_id] = (_image_source(cameras, camera_id), camera.fps)
    offer = await read_offer(request)
    box: dict[str, str] = {}

    async def close_view(_reason: str) -> None:  # the token expired or was revoked
        if "id" in box:
            await webrtc.whep.end(box["id"])

    live = open_view(deps.auth(request).sessions, principal, "whep", close_view)

    def finished() -> None:
        live.end()
        webrtc.viewers.pop(box.get("id", ""), None)

    done = once(finished)
    try:
        answer_sdp, session_id = await _view(webrtc, camera_id, offer, done)
    except BaseException:
        done()
        raise
    box["id"] = session_id
    webrtc.viewers[session_id] = principal.user
    return created(answer_sdp, f"/whep/{camera_id}/{session_id}")


async def whep_end(request: Request) -> Response:
    camera_id, session_id = request.path_params["camera_id"], request.path_params["session_id"]
    webrtc = hubs(request.app)
    principal = principal_of(request)
    viewer = webrtc.viewers.get(session_id)
    mine = viewer == principal.user or principal.role == "admin"
    if webrtc.whep.session_camera(session_id) != camera_id or not mine or not await webrtc.whep.end(session_id):
        raise ApiError(404, "unknown session", session_id)  # someone else's is not told apart
    webrtc.viewers.pop(session_id, None)
    return Response(status_code=200)


async def drone_telemetry(request: Request) -> JSONResponse:
    camera_id = request.path_params["id"]
    ingress_audit = hubs(request.app).ingress_audit
    who: Publisher | None = None
    try:
        who = await credential(request, PublishKeys(deps.store(request)))
        cameras = deps.cameras(request)
        camera = cameras.config_of(camera_id) if camera_id in cameras.runners else None
        if camera is None:
            raise ApiError(404, "camera not found", camera_id)
        why = refusal(who, _stream_of(camera), camera, deps.city(request).area_of)
        if why is not None:
            raise ApiError(403, "forbidden", why)
        if not camera.mobile:
            raise ApiError(409, "fixed camera", f"{camera_id} is not mobile: telemetry never moves it")
    except ApiError as exc:
        if exc.status_code in (401, 403, 409):
            await ingress_audit.refused(request, who, "telemetry.refuse", camera_id, exc)
        raise
    body = await json_body(request, required=True)
    try:
        telemetry = parse_telemetry(body)
    except ValueError as exc:
        raise ApiError(400, "bad telemetry", str(exc)) from None
    TELEMETRY.set(camera_id, telemetry)
    await ingress_audit.telemetry_accepted(request, who, camera_id, f"lat {telemetry.lat:.6f} lon {telemetry.lon:.6f}")
    position = {k: getattr(telemetry, k) for k in ("lat", "lon", "alt", "heading", "ts")}
    return JSONResponse({"id": camera_id, "telemetry": position})


async def _view(webrtc: Hubs, camera_id: str, offer: str, on_end: Callable[[], None]) -> tuple[str, str]:
    try:
        return await webrtc.whep.view(camera_id, offer, on_end=on_end)
    except SdpError as exc:
        raise ApiError(400, "bad SDP offer", str(exc)) from None
    except UnknownStream:
        raise ApiError(404, "camera not found", camera_id) from None
    except RuntimeError as exc:
        raise ApiError(503, "unavailable", str(exc)) from None


def _visible(request: Request, principal: Principal, camera_id: str) -> bool:
    """Is the camera (where it is now) in the caller's jurisdiction? As the MJPEG view checks."""
    view = deps.cameras(request).camera_view(camera_id)
    if view is None:  # not (or no longer) a camera here
        return False
    where = view["location"]
    return principal.sees_area(deps.city(request).area_of(where["lon"], where["lat"]))


def _whip_stream(camera: CameraConfig) -> str | None:
    try:
        return stream_id_of(camera.url)
    except ValueError:
        return None  # its source fails the same way and reports it on the camera


def _stream_of(camera: CameraConfig) -> str:
    """The WHIP stream id feeding a camera, else its own id (a key may name either)."""
    return _whip_stream(camera) or camera.id


routes: list[BaseRoute] = [
    Route("/whip/{stream_id}", whip_publish, methods=["POST"]),
    Route("/whip/{stream_id}/{session_id}", whip_end, methods=["DELETE"]),
    Route("/whep/{camera_id}", whep_view, methods=["POST"]),
    Route("/whep/{camera_id}/{session_id}", whep_end, methods=["DELETE"]),
    Route("/api/drones/{id}/telemetry", drone_telemetry, methods=["POST"]),
]
