"""Cameras: list, one, snapshot, the annotated live MJPEG view, and PTZ presets.

A live view is a session of its user (command_center.api.viewers): a per-user cap, and the
stream ends when the token expires or is revoked."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, json_body
from command_center.api.viewers import once, open_view
from command_center.auth.middleware import principal_of
from streams.ptz import NoPtz, PtzError, UnknownPreset
from vision.evidence import encode_jpeg

if TYPE_CHECKING:
    from command_center.camera_status import Cameras

BOUNDARY = "frame"


def visible(request: Request, view: dict[str, Any]) -> bool:
    """Is the camera (where it stands, or where a drone is now) in the caller's jurisdiction?"""
    where = view["location"]
    return principal_of(request).sees_area(deps.city(request).area_of(where["lon"], where["lat"]))


def seen(request: Request, images: bool = True) -> tuple[str, dict[str, Any]]:
    """The path's camera and its view, if the caller may see it (404 for one that is not,
    or no longer, there); with `images`, only one whose frames are in this process (not
    one only a detection worker's status names)."""
    cameras, cam_id = deps.cameras(request), str(request.path_params["id"])
    known = cam_id in cameras.runners or (not images and cam_id in cameras.camera_ids())
    view = cameras.camera_view(cam_id) if known else None
    if view is None or not visible(request, view):
        raise ApiError(404, "camera not found", cam_id)
    return cam_id, view


def camera_id(request: Request, images: bool = True) -> str:
    return seen(request, images)[0]


def current_image(cameras: Cameras, cam_id: str) -> tuple[int, np.ndarray] | None:
    """The latest annotated frame, else the latest raw one (the detector has not run yet);
    None also once the camera is removed (a live view then sends nothing more)."""
    pipeline, runner = cameras.pipelines.get(cam_id), cameras.runners.get(cam_id)
    annotated = pipeline.annotated if pipeline is not None else None
    if annotated is not None:
        return annotated.index, annotated.image
    latest = runner.latest if runner is not None else None
    return (latest.index, latest.image) if latest is not None else None


async def list_cameras(request: Request) -> JSONResponse:
    cameras = deps.cameras(request)
    views = [cameras.camera_view(cam_id) for cam_id in cameras.camera_ids()]
    items = [view for view in views if view is not None and visible(request, view)]
    return JSONResponse({"items": items, "total": len(items)})


async def get_camera(request: Request) -> JSONResponse:
    return JSONResponse(seen(request, images=False)[1])


async def snapshot(request: Request) -> Response:
    cam_id = camera_id(request)
    current = current_image(deps.cameras(request), cam_id)
    if current is None:  # not a server fault: the camera has sent nothing yet (no publisher, say)
        raise ApiError(404, "no frame yet", cam_id)
    jpeg = await asyncio.to_thread(encode_jpeg, current[1])
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def live(request: Request) -> StreamingResponse:
    cam_id = camera_id(request)
    config = deps.cameras(request).config_of(cam_id)
    fps = config.fps if config is not None else 1.0  # a worker's camera only: its status names no fps
    closed = asyncio.Event()

    async def close(_reason: str) -> None:  # the token expired or was revoked: end the stream
        closed.set()

    # A view of its user's: capped per user (429 past it), ended when the token lapses.
    session = open_view(deps.auth(request).sessions, principal_of(request), "mjpeg", close)
    end = once(session.end)
    body = frames(deps.cameras(request), cam_id, fps, closed, end)
    # A body never started (the client left first) never runs its `finally`: end it when dropped.
    weakref.finalize(body, end)
    return StreamingResponse(
        body,
        media_type=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-store"},
    )


async def frames(
    cameras: Cameras, cam_id: str, fps: float, closed: asyncio.Event, end: Callable[[], None]
) -> AsyncIterator[bytes]:
    sent = -1
    try:
        while not closed.is_set() and cam_id in cameras.runners:  # removed: the view ends
            current = current_image(cameras, cam_id)
            # Encode only new frames, and only while this viewer is connected.
            if current is not None and current[0] != sent:
                sent = current[0]
                jpeg = await asyncio.to_thread(encode_jpeg, current[1], 70)
                yield (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(closed.wait(), 1.0 / max(fps, 1.0))
    finally:
        end()


# PTZ (streams/ptz.py): the presets a head knows, and sending it to one (officers and
# admins, see auth/policy.py). Both may ask the camera itself (ONVIF): off the event loop.


async def ptz_presets(request: Request) -> JSONResponse:
    cam_id = camera_id(request, images=False)
    entry = deps.cameras(request).ptz.get(cam_id)
    if entry is None:
        raise ApiError(404, "camera has no PTZ", cam_id)
    config, head = entry
    try:
        presets = await asyncio.to_thread(head.presets)
    except PtzError as exc:
        raise ApiError(502, "PTZ failed", str(exc)) from None
    return JSONResponse({"camera": cam_id, "kind": config.kind, "presets": presets})


async def ptz_goto(request: Request) -> JSONResponse:
    cam_id = camera_id(request, images=False)
    preset = (await json_body(request, required=True)).get("preset")
    if not isinstance(preset, str) or not 0 < len(preset) <= 64:
        raise ApiError(400, "bad preset", "preset: the name of one of the camera's presets, 1 to 64 characters")
    try:
        await asyncio.to_thread(deps.cameras(request).goto_preset, cam_id, preset)
    except NoPtz:
        raise ApiError(404, "camera has no PTZ", cam_id) from None
    except UnknownPreset as exc:
        raise ApiError(422, "unknown preset", {"preset": preset, "known": exc.known}) from None
    except PtzError as exc:
        raise ApiError(502, "PTZ failed", str(exc)) from None
    await audit.record(deps.store(request), request, principal_of(request), "camera.ptz", cam_id, f"preset {preset}")
    return JSONResponse({"camera": cam_id, "preset": preset})


routes: list[BaseRoute] = [
    Route("/api/cameras", list_cameras),
    Route("/api/cameras/{id}", get_camera),
    Route("/api/cameras/{id}/ptz", ptz_presets, methods=["GET"]),
    Route("/api/cameras/{id}/ptz/preset", ptz_goto, methods=["POST"]),
    Route("/api/cameras/{id}/snapshot.jpg", snapshot),
    Route("/api/cameras/{id}/live.mjpg", live),
]
