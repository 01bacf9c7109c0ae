"""The public worker card (三公开): per grid, who works it, how to reach them and what they handle.

`GET /api/public/grids/{code}` is public by design: a grid's workers' names, numbers, work
phones and photos are published so that residents know whom to call (and the QR poster on
the wall of the community points here). Nothing else about a worker leaves: not the internal
id (photos are addressed by the public number), not the kind of contract beyond full or part
time, not their leave. Answers are cached per grid for a few seconds, so a poster scanned by
a crowd costs one build, and carry `Cache-Control: public, max-age=60` for proxies.

Photos are set by admins (`POST /api/workers/{id}/photo`, a district admin for workers of
their district) and served publicly only while the worker is assigned to a grid.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.errors import ApiError, read_capped
from command_center.api.limits import MB
from command_center.auth.middleware import principal_of
from command_center.auth.proxies import is_https
from command_center.photos import NotAnImage
from command_center.worker_photos import WorkerPhotos, portrait
from dispatch.city import Area, City, Worker
from dispatch.city.model import DAY_START_HOUR, NIGHT_START_HOUR

CACHE_S = 5.0  # a card is rebuilt at most this often per grid and node
CACHE_MAX = 5000  # cards kept; past it the cache starts over (a crawler walking every grid)
CARD_HEADERS = {"Cache-Control": "public, max-age=60"}
PHOTO_TYPES = {"image/jpeg", "image/png", "image/webp"}
SHIFTS = {
    "day": f"白班 {DAY_START_HOUR:02d}:00–{NIGHT_START_HOUR:02d}:00",
    "night": f"夜班 {NIGHT_START_HOUR:02d}:00–次日{DAY_START_HOUR:02d}:00",
    "all": "全天",
}
PATH_LEVELS = ("district", "street", "community")


def number_of(worker: Worker) -> str:
    """The worker's public number (网格员编号); the id where the roster gives none."""
    return str(getattr(worker, "code", "") or worker.id)


def photos(request: Request) -> WorkerPhotos:
    return WorkerPhotos(deps.store(request))


def grid_of(city: City, code: str) -> Area:
    area = city.areas.get(code)
    if area is None:
        raise ApiError(404, "grid not found", {"code": code, "reason": "no area has this code"})
    if area.level != "grid":
        raise ApiError(
            404, "not a grid", {"code": code, "level": area.level, "reason": "cards are per grid (网格)"}
        )
    return area


def _worker_view(worker: Worker, now: datetime, store: WorkerPhotos) -> dict[str, Any]:
    number = number_of(worker)
    version = store.version(worker.id)
    photo = None if version is None else f"/api/public/workers/{quote(number, safe='')}/photo.jpg?v={version}"
    return {
        "name": worker.name,
        "number": number,
        "phone": worker.phone,
        "photo_url": photo,
        "shift": SHIFTS.get(worker.shift, worker.shift),
        "on_duty": worker.on_duty(now),
        "kind": worker.kind,
        "level": str(getattr(worker, "level", "") or "basic"),
    }


def build_card(request: Request, city: City, grid: Area) -> dict[str, Any]:
    now = datetime.now(deps.dispatcher(request).tz)
    store = photos(request)
    workers = [_worker_view(w, now, store) for w in city.workers_by_grid.get(grid.code, [])]
    workers.sort(key=lambda w: (not w["on_duty"], w["number"]))  # who answers now first
    # 采办分离: the grid's workers handle the minor matters on the spot; the rest go to departments.
    catalog = deps.dispatcher(request).catalog
    matters = [
        {"code": m.code, "name": m.name, "class": m.klass} for m in catalog.items if m.handler == "worker"
    ]
    return {
        "grid": {
            "code": grid.code,
            "name": grid.name,
            "path": [a.name for a in city.path(grid.code) if a.level in PATH_LEVELS],
            "point": {"lon": grid.lon, "lat": grid.lat},
        },
        "workers": workers,
        "matters": matters,
        "updated_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _cache(request: Request) -> dict[str, tuple[float, City, dict[str, Any]]]:
    state = request.app.state
    cache: dict[str, tuple[float, City, dict[str, Any]]] | None = getattr(state, "public_cards", None)
    if cache is None:
        cache = state.public_cards = {}
    return cache


async def card(request: Request) -> JSONResponse:
    code = request.path_params["code"]
    city = deps.city(request).city  # one map for the whole answer
    grid = grid_of(city, code)
    cache = _cache(request)
    hit = cache.get(code)
    # A re-drawn map or a roster change swaps the city: its cards are stale at once.
    if hit is None or hit[0] < time.monotonic() or hit[1] is not city:
        if len(cache) >= CACHE_MAX:
            cache.clear()
        hit = (time.monotonic() + CACHE_S, city, await asyncio.to_thread(build_card, request, city, grid))
        cache[code] = hit
    return JSONResponse(hit[2], headers=CARD_HEADERS)


def card_url(request: Request, code: str) -> str:
    """The card's absolute address: under server.public_url, else this request's own origin."""
    base = deps.config(request).server.public_url
    if base is None:
        scheme = "https" if is_https(request) else "http"
        base = f"{scheme}://{request.url.netloc}"
    return f"{base}/grid/{quote(code, safe='')}"


def qr_svg(data: str) -> bytes:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage)
    svg: bytes = image.to_string()
    return svg


async def card_qr(request: Request) -> Response:
    code = request.path_params["code"]
    grid_of(deps.city(request).city, code)
    configured = deps.config(request).server.public_url is not None
    # From the request's Host when no public_url is set: no shared cache may keep it for others.
    cache = "public, max-age=3600" if configured else "private, max-age=300"
    return Response(
        qr_svg(card_url(request, code)), media_type="image/svg+xml", headers={"Cache-Control": cache}
    )


def _assigned(request: Request, city: City) -> dict[str, Worker]:
    """Public number → worker, of the workers assigned to a grid of this map (kept a few
    seconds per map). A worker who left the roster is no one's contact any more: their photo
    is not served."""
    state = request.app.state
    held: tuple[City, float, dict[str, Worker]] | None = getattr(state, "public_numbers", None)
    if held is None or held[0] is not city or held[1] < time.monotonic():
        assigned = {number_of(w): w for w in city.workers if w.grid_code in city.areas}
        held = state.public_numbers = (city, time.monotonic() + CACHE_S, assigned)
    return held[2]


async def public_photo(request: Request) -> Response:
    number = request.path_params["number"]
    worker = _assigned(request, deps.city(request).city).get(number)
    jpeg = None if worker is None else await asyncio.to_thread(photos(request).jpeg, worker.id)
    if jpeg is not None:
        return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "public, max-age=300"})
    raise ApiError(
        404, "no such photo", {"number": number, "reason": "no photo of a worker assigned to a grid"}
    )


def _managed_worker(request: Request) -> Worker:
    """The worker of the path, if the caller may manage them: a district admin only their district's."""
    worker_id = request.path_params["id"]
    worker = deps.city(request).workers.get(worker_id)
    if worker is None:
        raise ApiError(
            404, "worker not found", {"id": worker_id, "reason": "no worker with this id is on the roster"}
        )
    principal = principal_of(request)
    if not principal.sees_area(worker.grid_code):
        raise ApiError(
            403, "worker outside your jurisdiction", {"id": worker_id, "jurisdiction": principal.jurisdiction}
        )
    return worker


async def upload_photo(request: Request) -> JSONResponse:
    worker = _managed_worker(request)
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in PHOTO_TYPES:
        raise ApiError(
            415, "send the photo itself as image/jpeg, image/png or image/webp", {"content_type": kind}
        )
    limit = int(deps.config(request).limits.photo_mb * MB)
    raw = await read_capped(request, limit, "photo")
    try:
        jpeg, width, height = await asyncio.to_thread(portrait, raw)
    except NotAnImage as exc:
        raise ApiError(422, "the photo is not an image we can read", exc.reason) from None
    principal = principal_of(request)
    version = await asyncio.to_thread(photos(request).save, worker.id, jpeg, principal.user)
    await audit.record(deps.store(request), request, principal, "worker.photo", worker.id, f"{width}x{height}")
    _cache(request).pop(worker.grid_code, None)
    url = f"/api/public/workers/{quote(number_of(worker), safe='')}/photo.jpg?v={version}"
    return JSONResponse({"worker_id": worker.id, "photo_url": url, "width": width, "height": height})


async def delete_photo(request: Request) -> Response:
    worker = _managed_worker(request)
    if await asyncio.to_thread(photos(request).remove, worker.id):
        await audit.record(
            deps.store(request), request, principal_of(request), "worker.photo_remove", worker.id
        )
    _cache(request).pop(worker.grid_code, None)
    return Response(status_code=204)


routes: list[BaseRoute] = [
    Route("/api/public/grids/{code}", card, methods=["GET"]),
    Route("/api/public/grids/{code}/qr.svg", card_qr, methods=["GET"]),
    Route("/api/public/workers/{number}/photo.jpg", public_photo, methods=["GET"]),
    Route("/api/workers/{id}/photo", upload_photo, methods=["POST"]),
    Route("/api/workers/{id}/photo", delete_photo, methods=["DELETE"]),
]
