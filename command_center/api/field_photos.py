"""Field photos (现场照片): what a worker photographs on the rounds: a patrol check-in, a care
visit, a door plate (门牌). Uploaded first, on their own, then referenced by id in the record.

- `POST /api/field-photos?grid=<grid code>`: the raw image (image/jpeg, png, webp) or a
  multipart form, capped like a case photo (config dispatch.max_photo_bytes), re-encoded as
  JPEG by photos.clean_photo (which strips EXIF: a phone's GPS trail, its owner's name) and
  kept under data_dir/field_photos/<grid>/<id>.jpg with its owner, grid and time in the
  store (store/field_photo_records.py). The caller must cover the grid: a worker one of
  their roster grids, staff their jurisdiction (403 otherwise).
- `GET /api/field-photos/{id}`: the JPEG, for its uploader as taken; for others whose scope
  covers its grid as evidence (evidence_access.py: blurred for the roles that need no
  identities, the view audited); for anyone else 404, as if it did not exist.
- `take(...)`: what a record that references photos calls (api/patrols.py check-ins,
  api/care.py visits, door plates): each photo must exist, be the caller's and fit the
  record's grid (400 with the reason otherwise), and is marked used by the record. A photo
  no record took within retention.UNUSED_FIELD_PHOTO_DAYS is deleted by the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api import deps
from command_center.api.basedata_views import scope_of
from command_center.api.cases import read_photo  # the case photo's reading and its caps
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.photos import PHOTO_ID, NotAnImage, PhotoStore, clean_photo
from command_center.retention import FIELD_PHOTOS
from command_center.store.field_photo_records import FieldPhoto, FieldPhotoRecords, field_photo_store

MAX_GRID = 32  # longer than any grid code: refused before the map is asked


def records_of(request: Request) -> FieldPhotoRecords:
    return field_photo_store(deps.store(request))


def files_of(request: Request) -> PhotoStore:
    """The app's field-photo files, made on first use (one per app: tests build several)."""
    state = request.app.state
    files: PhotoStore | None = getattr(state, "field_photo_files", None)
    if files is None:
        files = state.field_photo_files = PhotoStore(deps.config(request).server.data_dir / FIELD_PHOTOS)
    return files


def url_of(photo_id: str) -> str:
    return f"/api/field-photos/{photo_id}"


def _grid(request: Request) -> str:
    """The `grid` asked for: a grid of the current map inside the caller's scope."""
    grid = request.query_params.get("grid", "")
    if not grid or len(grid) > MAX_GRID or not grid.isascii() or not grid.isdigit():
        raise ApiError(400, "bad query parameter 'grid'", "the code of the grid the photo is taken in")
    area = deps.city(request).city.areas.get(grid)
    if area is None or area.level != "grid":
        raise ApiError(400, "bad query parameter 'grid'", f"no grid {grid} on the map")
    if not scope_of(request).covers(grid):
        raise ApiError(403, "forbidden", f"grid {grid} is outside your area")
    return grid


async def upload(request: Request) -> JSONResponse:
    """One photo, checked, cleaned and kept; 201 with its id and URL."""
    who = principal_of(request)
    grid = _grid(request)  # before the body is read: a refusal costs no upload
    raw = await read_photo(request, deps.config(request).dispatch.max_photo_bytes)
    try:
        photo = await asyncio.to_thread(clean_photo, raw)
    except NotAnImage as exc:
        raise ApiError(415, "not an image", f"{exc.reason}; send a JPEG, PNG or WebP photo") from None
    files = files_of(request)
    photo_id = await asyncio.to_thread(files.save, grid, photo.jpeg)
    row = FieldPhoto(id=photo_id, owner=who.actor, grid_code=grid, created_at=datetime.now(UTC),
                     bytes=len(photo.jpeg), width=photo.width, height=photo.height)  # fmt: skip
    try:
        await asyncio.to_thread(records_of(request).add, row)
    except BaseException:
        path = files.path(grid, photo_id)  # a file without its row would never be swept
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    shown = {"id": photo_id, "url": url_of(photo_id), "grid_code": grid, "bytes": row.bytes,
             "width": row.width, "height": row.height, "sent_as": photo.kind}  # fmt: skip
    return JSONResponse(shown, status_code=201)


async def get_photo(request: Request) -> FileResponse:
    """The JPEG: its uploader's as taken; others' whose scope covers the grid as evidence."""
    photo_id = request.path_params["id"].removesuffix(".jpg")
    who = principal_of(request)
    found = await asyncio.to_thread(records_of(request).get, photo_id) if PHOTO_ID.match(photo_id) else None
    mine = found is not None and found.owner == who.actor
    if found is None or not (mine or scope_of(request).covers(found.grid_code)):
        raise ApiError(404, "no such photo", photo_id)
    path = await asyncio.to_thread(files_of(request).path, found.grid_code, found.id)
    if path is None:
        raise ApiError(404, "no such photo", photo_id)
    if mine:  # one's own photo: nothing to hide from oneself, nothing to audit
        return FileResponse(path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})
    evidence = deps.evidence(request)
    return await evidence.serve(
        deps.store(request), request, path, found.grid_code, f"field_photo {found.id}", "image/jpeg"
    )


async def take(request: Request, photo_ids: Iterable[str], ref: str, fits: Callable[[str], bool]) -> None:
    """The photos a record references, checked and marked used by `ref` (e.g. "checkin:PC…"):
    each must exist, be the caller's own upload and have been taken in a grid that `fits` the
    record (a check-in: the place's grid). 400 naming the photo and why otherwise; nothing is
    marked unless all pass. Call it after the record's other checks, before keeping it."""
    ids = list(dict.fromkeys(photo_ids))
    if not ids:
        return
    who, records = principal_of(request), records_of(request)
    for photo_id in ids:
        found = await asyncio.to_thread(records.get, photo_id) if PHOTO_ID.match(photo_id) else None
        if found is None or found.owner != who.actor:  # another's photo reads as a missing one
            why = "no photo of yours by this id; upload it to POST /api/field-photos first"
            raise ApiError(400, "unknown photo", {"photo": photo_id, "reason": why})
        if not fits(found.grid_code):
            why = f"the photo was uploaded for grid {found.grid_code}, not this record's"
            raise ApiError(400, "photo of another grid", {"photo": photo_id, "reason": why})
    await asyncio.to_thread(records.mark_used, ids, ref)


routes: list[BaseRoute] = [
    Route("/api/field-photos", upload, methods=["POST"]),
    Route("/api/field-photos/{id}", get_photo, methods=["GET"]),
]
