"""WebRTC endpoints: WHIP ingest, WHEP viewing, and drone telemetry over HTTP.

POST /whip/{stream_id}                 SDP offer → 201 answer, Location: /whip/{stream_id}/{session}
                                       (worker-<id>: that worker, signed in, going live from the terminal)
DELETE /whip/{stream_id}/{session}     ends the publish
POST /whep/{camera_id}                 SDP offer → 201 answer, Location: /whep/{camera_id}/{session}
DELETE /whep/{camera_id}/{session}     ends the view
POST /api/drones/{id}/telemetry        {lat, lon, alt?, heading?, ts?} → the camera's latest position
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import signed_in
from command_center.config import CameraConfig
from command_center.runtime import Runtime
from streams.telemetry import TELEMETRY, parse_telemetry
from streams.webrtc import SdpError, UnknownStream
from streams.whep import WhepHub
from streams.whip import WhipHub, stream_id_of

SDP = "application/sdp"


@dataclass
class Hubs:
    whip: WhipHub
    whep: WhepHub


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


def _make_hubs(rt: Runtime) -> Hubs:
    streams = {}
    for cam in rt.config.cameras:
        if cam.kind == "whip" or cam.url.startswith("whip://"):
            try:
                streams[stream_id_of(cam.url)] = cam.id
            except ValueError:
                continue  # its source fails the same way and reports it on the camera

    cameras = {cam.id: (_image_source(rt, cam.id), cam.fps) for cam in rt.config.cameras}
    return Hubs(WhipHub(streams, rt.config.webrtc), WhepHub(cameras, rt.config.webrtc))


def _image_source(rt: Runtime, cam_id: str) -> Callable[[], np.ndarray | None]:
    """What a WHEP viewer sees: the annotated frame, else the latest raw one."""

    def image() -> np.ndarray | None:
        annotated = rt.pipelines[cam_id].annotated
        if annotated is not None:
            return annotated.image
        latest = rt.runners[cam_id].latest
        return latest.image if latest is not None else None

    return image


WORKER_STREAM = "worker-"


def _worker_goes_live(rt: Runtime, the: Hubs, request: Request, stream_id: str) -> None:
    """A worker's own stream, `worker-<id>`, becomes a camera on first publish: the worker
    must be signed in as that worker; the camera starts at their grid and follows the
    position the terminal sends."""
    worker_id = stream_id.removeprefix(WORKER_STREAM)
    worker = rt.workers.get(worker_id)
    if not rt.config.workers.live_video or worker is None:
        raise ApiError(404, "unknown stream", f"no whip camera has url whip://{stream_id}")
    principal = signed_in(request)  # a public route (drones publish without a user)
    if principal is None:
        raise ApiError(401, "sign in required", f"{stream_id} is {worker_id}'s own stream: send their token")
    if principal.worker_id != worker_id:
        raise ApiError(403, "forbidden", f"{stream_id} is {worker_id}'s own stream")
    grid = rt.city.areas.get(worker.grid_code)
    location = {"lon": grid.lon, "lat": grid.lat} if grid is not None else {"lon": 0.0, "lat": 0.0}
    cam = CameraConfig(
        id=stream_id, name=f"Live: {worker.name}", kind="whip", url=f"whip://{stream_id}", location=location, fps=5
    )
    rt.add_camera(cam)
    the.whip.streams[stream_id] = cam.id
    the.whep.cameras[cam.id] = (_image_source(rt, cam.id), cam.fps)


async def read_offer(request: Request, limit: int) -> str:
    """The request's SDP offer; 415, 413 or 400 with the reason when it is not one."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != SDP:
        raise ApiError(415, "unsupported content type", f"send the SDP offer as {SDP}, not {content_type or 'nothing'}")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, "offer too large", f"at most {limit} bytes")
    body = bytearray()
    # Read in chunks so a body without a length cannot fill memory before it is refused.
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "offer too large", f"at most {limit} bytes")
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


def routes(rt: Runtime) -> list[Route]:
    the = hubs(rt)
    limit = rt.config.webrtc.max_offer_bytes

    async def whip_publish(request: Request) -> Response:
        stream_id = request.path_params["stream_id"]
        if stream_id not in the.whip.streams and not stream_id.startswith(WORKER_STREAM):
            raise ApiError(404, "unknown stream", f"no whip camera has url whip://{stream_id}")
        offer = await read_offer(request, limit)
        if stream_id not in the.whip.streams:
            _worker_goes_live(rt, the, request, stream_id)
        try:
            answer_sdp, session_id = await the.whip.publish(stream_id, offer)
        except SdpError as exc:
            raise ApiError(400, "bad SDP offer", str(exc)) from None
        except UnknownStream:
            raise ApiError(404, "unknown stream", stream_id) from None
        except RuntimeError as exc:  # shutting down
            raise ApiError(503, "unavailable", str(exc)) from None
        return created(answer_sdp, f"/whip/{stream_id}/{session_id}")

    async def whip_end(request: Request) -> Response:
        stream_id, session_id = request.path_params["stream_id"], request.path_params["session_id"]
        if the.whip.session_stream(session_id) != stream_id or not await the.whip.end(session_id):
            raise ApiError(404, "unknown session", session_id)
        return Response(status_code=200)

    async def whep_view(request: Request) -> Response:
        camera_id = request.path_params["camera_id"]
        if camera_id not in the.whep.cameras:
            raise ApiError(404, "camera not found", camera_id)
        offer = await read_offer(request, limit)
        try:
            answer_sdp, session_id = await the.whep.view(camera_id, offer)
        except SdpError as exc:
            raise ApiError(400, "bad SDP offer", str(exc)) from None
        except UnknownStream:
            raise ApiError(404, "camera not found", camera_id) from None
        except RuntimeError as exc:
            raise ApiError(503, "unavailable", str(exc)) from None
        return created(answer_sdp, f"/whep/{camera_id}/{session_id}")

    async def whep_end(request: Request) -> Response:
        camera_id, session_id = request.path_params["camera_id"], request.path_params["session_id"]
        if the.whep.session_camera(session_id) != camera_id or not await the.whep.end(session_id):
            raise ApiError(404, "unknown session", session_id)
        return Response(status_code=200)

    async def drone_telemetry(request: Request) -> JSONResponse:
        camera_id = request.path_params["id"]
        if camera_id not in rt.runners:
            raise ApiError(404, "camera not found", camera_id)
        body = await json_body(request, required=True)
        try:
            telemetry = parse_telemetry(body)
        except ValueError as exc:
            raise ApiError(400, "bad telemetry", str(exc)) from None
        TELEMETRY.set(camera_id, telemetry)
        return JSONResponse(
            {
                "id": camera_id,
                "telemetry": {
                    "lat": telemetry.lat,
                    "lon": telemetry.lon,
                    "alt": telemetry.alt,
                    "heading": telemetry.heading,
                    "ts": telemetry.ts,
                },
            }
        )

    return [
        Route("/whip/{stream_id}", whip_publish, methods=["POST"]),
        Route("/whip/{stream_id}/{session_id}", whip_end, methods=["DELETE"]),
        Route("/whep/{camera_id}", whep_view, methods=["POST"]),
        Route("/whep/{camera_id}/{session_id}", whep_end, methods=["DELETE"]),
        Route("/api/drones/{id}/telemetry", drone_telemetry, methods=["POST"]),
    ]
