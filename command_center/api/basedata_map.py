"""The wall's building layer: GET /api/basedata/map?bbox=w,s,e,n&area=&limit= → the buildings
in a map view as GeoJSON points, each with its household count and whether any of its
records is overdue (store/basedata_map.py computes both in SQL).

Scoped as the rest of the base data (api/basedata_views.py `scope_of`): an officer's
jurisdiction, a worker's grids; an area outside it is 403. At most `limit` buildings
(default and most: 5,000), by code; `truncated: true` says the view holds more, so the
wall can say "zoom in" rather than draw a part as if it were the whole.

Mounted before api/basedata.py's routes: /api/basedata/{kind} would take "map" as a kind.
"""

from __future__ import annotations

import asyncio
import math
from datetime import date
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center.api.basedata_views import Scope, area_param, records_of, scope_of, today
from command_center.api.errors import ApiError, int_param
from command_center.store.basedata_map import MAX_BUILDINGS, BBox, MapBuilding, buildings_in
from command_center.store.basedata_records import BaseDataRecords

MAX_BBOX_TEXT = 200  # four numbers with their decimals; anything longer is not a view


def bbox_param(request: Request) -> BBox:
    """`bbox=west,south,east,north` in degrees; 400 saying what a box is otherwise."""
    raw = request.query_params.get("bbox")
    expected = "west,south,east,north in degrees, west < east, south < north (e.g. 113.26,23.12,113.28,23.14)"
    if not raw or len(raw) > MAX_BBOX_TEXT:
        raise ApiError(400, "bad query parameter 'bbox'", expected)
    try:
        numbers = [float(part) for part in raw.split(",")]
        if len(numbers) != 4 or not all(math.isfinite(n) for n in numbers):
            raise ValueError(raw)
        return BBox(*numbers)
    except ValueError:
        raise ApiError(400, "bad query parameter 'bbox'", expected) from None


def gather(
    records: BaseDataRecords, bbox: BBox, scope: Scope, limit: int, on: date
) -> tuple[list[MapBuilding], bool]:
    """The buildings of each of the scope's prefixes (a worker's grids) in turn, up to `limit`;
    `on` the city's date, against which a building's next check is overdue."""
    found: list[MapBuilding] = []
    for prefix in scope.prefixes:
        left = limit - len(found)
        if left <= 0:
            return found, True  # a prefix not asked may hold some: say the list was cut
        part, more = buildings_in(records, bbox, prefix, left, on)
        found += part
        if more:
            return found, True
    return found, False


def feature(building: MapBuilding) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [building.lon, building.lat]},
        "properties": {
            "code": building.code, "name": building.name, "grid_code": building.grid_code,
            "households": building.households, "overdue": building.overdue,
            "rental": building.rental, "use": building.use,
        },
    }  # fmt: skip


async def building_map(request: Request) -> JSONResponse:
    bbox = bbox_param(request)
    area = area_param(request)
    limit = int_param(request, "limit", MAX_BUILDINGS, 1, MAX_BUILDINGS)
    scope = scope_of(request, area)
    found, truncated = await asyncio.to_thread(gather, records_of(request), bbox, scope, limit, today(request))
    body = {
        "type": "FeatureCollection",
        "features": [feature(b) for b in found],
        "truncated": truncated,
        "limit": limit,
        "bbox": [bbox.west, bbox.south, bbox.east, bbox.north],
    }
    return JSONResponse(body)


routes: list[BaseRoute] = [Route("/api/basedata/map", building_map, methods=["GET"])]
