"""Cameras in the admin console: add, read the configuration of, replace, change and remove
a camera, and test a connection with a snapshot (issue 16).

Every change goes to the store (registry/cameras.py overlays it on the configuration), is
audited, and bumps the registry's "cameras" part: this node applies it at once (a camera
starts, restarts, gets new zones or stops without a restart), the others within a second.
A district admin (an admin with a jurisdiction) manages only the cameras filed under their
district, by grid code or, without one, by where the camera stands. Policy: the writes
are ADMIN; GET .../config is staff, and only admins see a URL's credentials.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, json_body
from command_center.auth.middleware import principal_of
from command_center.config import CameraConfig
from command_center.registry.cameras import filed_under
from streams.config import SourceConfig
from streams.ptz import ptz_kinds
from vision.evidence import encode_jpeg
from vision.rules import build_rules, known_rules

PROBE_TIMEOUT_S = 8.0  # "test connection": a camera that has not sent a frame by then is unreachable
MAX_PROBES = 4  # sources opened for a test at once (each a thread until its timeouts end it)
_probing = 0
CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def mask_url(url: str) -> str:
    """rtsp://user:pass@host/... → rtsp://***@host/...: URLs may carry a camera's password."""
    return CREDENTIALS.sub("***@", url)


def _invalid(exc: ValidationError) -> ApiError:
    reasons = [
        {"loc": ".".join(str(p) for p in e["loc"]), "msg": str(e["msg"]).removeprefix("Value error, ")}
        for e in exc.errors()
    ]
    return ApiError(422, "invalid camera", reasons)


def _locate(request: Request, lon: float, lat: float) -> str | None:
    found = deps.city(request).index.locate(lon, lat)
    return found.grid_code if found is not None else None


def _checked(request: Request, doc: dict[str, Any]) -> CameraConfig:
    """A camera body validated, its rules built once (an unknown rule is the caller's
    mistake, not the pipeline's), its grid known and filled from its place when missing."""
    try:
        # Strict, as JSON: "5" is not a number nor "true" a boolean (what the description says).
        cam = CameraConfig.model_validate_json(json.dumps(doc), strict=True)
    except ValidationError as exc:
        raise _invalid(exc) from None
    try:
        build_rules(cam.zones, deps.config(request).rules)
    except ValueError as exc:
        raise ApiError(422, "invalid camera", [{"loc": "zones", "msg": str(exc)}]) from None
    models_problems = _unknown_models(request, cam)
    if models_problems:
        raise ApiError(422, "invalid camera", models_problems)
    if cam.grid_code is None:
        cam.grid_code = _locate(request, cam.location.lon, cam.location.lat)
    elif cam.grid_code not in deps.city(request).city.areas:
        raise ApiError(422, "invalid camera", [{"loc": "grid_code", "msg": f"unknown grid {cam.grid_code}"}])
    _in_district(request, cam)
    return cam


def _unknown_models(request: Request, cam: CameraConfig) -> list[dict[str, str]]:
    """Models, a group and a PTZ kind the configuration does not have: the camera would run
    without them (the pipeline leaves an unknown model out), so the admin is told now."""
    detectors = deps.cameras(request).detectors
    problems = [
        {"loc": f"models.{i}", "msg": f"unknown model {name!r}; known: {', '.join(detectors.names())}"}
        for i, name in enumerate(cam.models or []) if name not in detectors.configs
    ]  # fmt: skip
    if cam.group is not None and cam.group not in detectors.groups:
        problems.append({"loc": "group", "msg": f"unknown group {cam.group!r}; known: {', '.join(detectors.groups) or 'none'}"})
    if cam.ptz is not None and cam.ptz.kind not in ptz_kinds():
        problems.append({"loc": "ptz.kind", "msg": f"unknown PTZ kind {cam.ptz.kind!r}; known: {', '.join(ptz_kinds())}"})
    return problems


def _in_district(request: Request, cam: CameraConfig) -> None:
    district = principal_of(request).jurisdiction
    if district and not filed_under(cam, lambda lon, lat: _locate(request, lon, lat)).startswith(district):
        raise ApiError(403, "outside your district", {"camera": cam.id, "district": district})


def _current(request: Request, cam_id: str | None = None) -> CameraConfig:
    """The path's camera (or `cam_id`) as it runs here, if the caller may see it."""
    cam_id = cam_id or str(request.path_params["id"])
    cam = deps.cameras(request).config_of(cam_id)
    district = principal_of(request).jurisdiction
    if cam is None or (district and not filed_under(cam, lambda lon, lat: _locate(request, lon, lat)).startswith(district)):
        raise ApiError(404, "camera not found", cam_id)
    return cam


def view(request: Request, cam: CameraConfig) -> dict[str, Any]:
    doc = cam.model_dump(mode="json")
    if principal_of(request).role != "admin":
        doc["url"] = mask_url(doc["url"])
        if isinstance(doc.get("ptz"), dict) and doc["ptz"].get("password"):
            doc["ptz"]["password"] = "***"  # noqa: S105 - a mask, not a password
    return doc


async def _save(request: Request, cam: CameraConfig, verb: str) -> None:
    principal = principal_of(request)
    doc = cam.model_dump(mode="json")
    await asyncio.to_thread(deps.store(request).upsert_cameras, [doc], principal.user)
    await audit.record(deps.store(request), request, principal, f"camera.{verb}", cam.id, f"{cam.kind} {mask_url(cam.url)}")
    await deps.registry(request).changed("cameras")


# handlers


async def create_camera(request: Request) -> JSONResponse:
    cam = _checked(request, await json_body(request, required=True))
    cameras = deps.cameras(request)
    if cameras.config_of(cam.id) is not None or cam.id in cameras.camera_ids():
        raise ApiError(409, "camera exists", cam.id)
    await _save(request, cam, "add")
    return JSONResponse(view(request, cam), status_code=201)


async def get_config(request: Request) -> JSONResponse:
    return JSONResponse(view(request, _current(request)))


async def replace_camera(request: Request) -> JSONResponse:
    old = _current(request)
    body = await json_body(request, required=True)
    if body.setdefault("id", old.id) != old.id:
        raise ApiError(422, "invalid camera", [{"loc": "id", "msg": "a camera's id does not change"}])
    cam = _checked(request, body)
    await _save(request, cam, "replace")
    return JSONResponse(view(request, cam))


async def patch_camera(request: Request) -> JSONResponse:
    old = _current(request)
    body = await json_body(request, required=True)
    if body.get("id", old.id) != old.id:
        raise ApiError(422, "invalid camera", [{"loc": "id", "msg": "a camera's id does not change"}])
    doc = old.model_dump(mode="json", exclude_unset=False) | body
    if "location" in body and "grid_code" not in body:
        doc["grid_code"] = None  # moved: filed again under the grid where it now stands
    cam = _checked(request, doc)
    await _save(request, cam, "change")
    return JSONResponse(view(request, cam))


async def delete_camera(request: Request) -> Response:
    cam = _current(request)
    principal = principal_of(request)
    await asyncio.to_thread(deps.store(request).delete_camera, cam.id, principal.user, cam.model_dump(mode="json"))
    await audit.record(deps.store(request), request, principal, "camera.remove", cam.id, None)
    await deps.registry(request).changed("cameras")
    return Response(status_code=204)


async def camera_options(request: Request) -> JSONResponse:
    """What the camera form offers: the configured models (with the labels of those loaded),
    the camera groups, every known rule, and the PTZ kinds."""
    detectors = deps.cameras(request).detectors
    loaded = detectors.loaded()
    models = [
        {"name": name, "backend": config.backend, "model": config.model.name if config.model else None,
         "labels": sorted(loaded[name].labels) if name in loaded else None}
        for name, config in detectors.configs.items()
    ]  # fmt: skip
    groups = [{"name": name, "models": list(group.models)} for name, group in detectors.groups.items()]
    return JSONResponse({"models": models, "groups": groups, "rules": known_rules(), "ptz_kinds": ptz_kinds()})


# test connection


def _probe_source(request: Request, body: dict[str, Any]) -> SourceConfig:
    """What to open: a camera's own configuration ({id}), or {kind, url} for one not saved yet."""
    timeouts = {"open_timeout_s": PROBE_TIMEOUT_S, "read_timeout_s": PROBE_TIMEOUT_S}
    if "id" in body and "url" not in body:
        cam = _current(request, str(body["id"]))
        return SourceConfig.model_validate(cam.model_dump(include=set(SourceConfig.model_fields)) | timeouts)
    try:
        return SourceConfig.model_validate({
            "id": "probe", "kind": str(body.get("kind", "")), "url": str(body.get("url", "")),
            "location": {"lon": 0, "lat": 0}, "fps": 5, **timeouts,
        })  # fmt: skip
    except ValidationError as exc:
        raise _invalid(exc) from None


def _first_frame(config: SourceConfig) -> Any:
    """Blocking: open the source, read one frame, close it (its own timeouts bound each)."""
    from streams.registry import create_source

    source = create_source(config)
    try:
        source.open()
        return source.read().image
    finally:
        source.close()


async def _open_once(config: SourceConfig) -> Any:
    global _probing
    if _probing >= MAX_PROBES:
        raise ApiError(429, "too many connection tests", f"at most {MAX_PROBES} at once; try again shortly")
    _probing += 1
    try:
        return await asyncio.wait_for(asyncio.to_thread(_first_frame, config), PROBE_TIMEOUT_S + 1)
    except TimeoutError:
        raise ApiError(422, "camera unreachable", f"no frame within {PROBE_TIMEOUT_S:g} s") from None
    except Exception as exc:  # any source failure is the camera's, told to the admin
        raise ApiError(422, "camera unreachable", mask_url(f"{type(exc).__name__}: {exc}")) from None
    finally:
        _probing -= 1


async def probe(request: Request) -> Response:
    body = await json_body(request, required=True)
    config = _probe_source(request, body)
    running = deps.cameras(request).runners.get(config.id) if "url" not in body else None
    latest = running.latest if running is not None else None
    if latest is not None:  # a running camera: its newest frame, no second connection
        image = latest.image
    else:
        image = await _open_once(config)
    if image is None or getattr(image, "ndim", 0) != 3:
        raise ApiError(422, "camera unreachable", "the source gave no image")
    jpeg = await asyncio.to_thread(encode_jpeg, image)
    height, width = image.shape[:2]
    headers = {"X-Frame-Size": f"{width}x{height}", "Cache-Control": "no-store"}
    return Response(jpeg, media_type="image/jpeg", headers=headers)


routes: list[BaseRoute] = [
    Route("/api/cameras", create_camera, methods=["POST"]),
    Route("/api/cameras/probe", probe, methods=["POST"]),
    Route("/api/camera-options", camera_options, methods=["GET"]),
    Route("/api/cameras/{id}/config", get_config, methods=["GET"]),
    Route("/api/cameras/{id}", replace_camera, methods=["PUT"]),
    Route("/api/cameras/{id}", patch_camera, methods=["PATCH"]),
    Route("/api/cameras/{id}", delete_camera, methods=["DELETE"]),
]
