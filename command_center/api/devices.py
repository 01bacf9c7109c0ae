"""The IoT device registry (设备, issue 20): list, read with recent readings, add, change,
retire, and counts by state per area.

Who (auth/policy.py admits, these handlers scope every read and write as api/basedata.py
does): admins manage the devices of their jurisdiction (a district admin their district);
officers and emergency staff read their jurisdiction; a grid worker reads the devices of
their roster grids. Devices hold no personal data: reads are not audited, changes are.
A device's grid defaults to the one its point lies in; a form's change is made on the
version it read (409 with the device as it stands when stale).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.basedata_views import Scope, area_param, bad_field, check_grid, invalid, scope_of
from command_center.api.errors import ApiError, int_param, json_body, text_param
from command_center.auth.middleware import principal_of
from command_center.registry.device_kinds import KINDS, heartbeat_of
from command_center.registry.device_model import FORM_FIELDS, STATES, Device
from command_center.store.device_records import DeviceExists, DeviceRecords, VersionConflict, device_store

FORM_LIMIT = 16 * 1024
SERIES_N = 60  # readings per name on a device's page: a sparkline's worth
MAX_SERIES = 16  # names shown per device
LEVEL_DIGITS = (6, 9, 12, 15)  # district, street, community, grid


def records_of(request: Request) -> DeviceRecords:
    return device_store(deps.store(request))


def _grid_name(request: Request, code: str) -> str | None:
    found = deps.city(request).city.areas.get(code)
    return None if found is None else str(found.name)


def view(request: Request, device: Device) -> dict[str, Any]:
    """A device as the API shows it: its grid by name and the heartbeat window it is watched with."""
    return device.model_dump(mode="json") | {
        "grid_name": _grid_name(request, device.grid_code),
        "heartbeat_window_s": heartbeat_of(device.kind, device.heartbeat_s),
    }


def _id(request: Request) -> str:
    device_id = str(request.path_params["id"])
    if len(device_id) > 64 or "\x00" in device_id:
        raise ApiError(404, "no such device", device_id[:64])
    return device_id


async def _visible(request: Request, scope: Scope | None = None) -> Device:
    """The path's device if inside the caller's area; 404 as if missing otherwise."""
    device_id = _id(request)
    found = await asyncio.to_thread(records_of(request).get, device_id)
    if found is None or not (scope or scope_of(request)).covers(found.grid_code):
        raise ApiError(404, "no such device", device_id)
    return found


def _filters(request: Request) -> dict[str, str | None]:
    # Left out means any; given, it must be one of the list (an empty value is a mistake, not "any").
    kind, state = request.query_params.get("kind"), request.query_params.get("state")
    if kind is not None and kind not in KINDS:
        raise ApiError(400, "bad query parameter 'kind'", f"one of {', '.join(KINDS)}")
    if state is not None and state not in STATES:
        raise ApiError(400, "bad query parameter 'state'", f"one of {', '.join(STATES)}")
    return {"kind": kind, "state": state, "q": text_param(request, "q", 64)}


async def list_devices(request: Request) -> JSONResponse:
    """A page of the caller's devices by grid and id, filtered by kind, state, text."""
    scope = scope_of(request, area_param(request))
    filters = _filters(request)
    limit, offset = int_param(request, "limit", 100, 1, 1000), int_param(request, "offset", 0, 0, 10_000_000)
    records = records_of(request)

    def page() -> tuple[list[Device], int]:
        totals = [records.count(prefix, **filters) for prefix in scope.prefixes]
        items: list[Device] = []
        skip = offset
        for prefix, total in zip(scope.prefixes, totals, strict=True):  # a worker's grids in turn
            if len(items) >= limit:
                break
            if skip >= total:
                skip -= total
                continue
            items += records.list(prefix, limit - len(items), skip, **filters)
            skip = 0
        return items, sum(totals)

    items, total = await asyncio.to_thread(page)
    return JSONResponse(
        {"items": [view(request, d) for d in items], "total": total, "limit": limit, "offset": offset}
    )


async def get_device(request: Request) -> JSONResponse:
    """One device with its recent readings, per reading name, oldest first."""
    device = await _visible(request)
    records = records_of(request)

    def series() -> dict[str, list[dict[str, Any]]]:
        names = records.reading_names(device.id)[:MAX_SERIES]
        return {
            n: [{"ts": ts.isoformat(), "value": v} for ts, v in records.recent(device.id, n, SERIES_N)]
            for n in names
        }

    return JSONResponse(view(request, device) | {"readings": await asyncio.to_thread(series)})


async def summary(request: Request) -> JSONResponse:
    """Devices by state per area one level below the asked one (default: the caller's
    area): districts of the city, streets of a district …, grids of a worker; counted by
    the database."""
    area = area_param(request)
    scope = scope_of(request, area)
    records = records_of(request)

    def gather() -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for prefix in scope.prefixes:
            digits = next((d for d in LEVEL_DIGITS if d > len(prefix)), 15)
            found |= records.counts(prefix, digits)
        return found

    counts = await asyncio.to_thread(gather)
    items = []
    for code in sorted(counts):
        full = code.ljust(15, "0")
        row = counts[code]
        items.append({"area": full, "name": _grid_name(request, full), **row, "total": sum(row.values())})
    totals = {state: sum(row[state] for row in counts.values()) for state in STATES}
    return JSONResponse({"area": area, "items": items, "totals": totals | {"total": sum(totals.values())}})


def _form(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - FORM_FIELDS)
    if unknown:
        raise bad_field(unknown[0], f"not a field a form sets; one of {', '.join(sorted(FORM_FIELDS))}")


def _locate(request: Request, body: dict[str, Any]) -> None:
    """The grid the point lies in, for a form that gives no grid (422 naming a bad coordinate)."""
    if "grid_code" in body:
        return
    point = []
    for name, limit in (("lon", 180), ("lat", 90)):
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
            raise bad_field(name, f"a number from -{limit} to {limit}")
        point.append(float(value))
    found = deps.city(request).index.locate(point[0], point[1])
    if found is None:
        raise bad_field("lon", "the point lies in no grid of the city map: give grid_code")
    body["grid_code"] = found.grid_code


async def create_device(request: Request) -> JSONResponse:
    who = principal_of(request)
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    _form(body)
    _locate(request, body)
    check_grid(request, body.get("grid_code"), scope_of(request))
    try:
        device = Device.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None
    try:
        added = await asyncio.to_thread(records_of(request).add, device, who.actor)
    except DeviceExists:
        raise ApiError(409, f"device {device.id} exists", device.id) from None
    await audit.record(
        deps.store(request), request, who, "device.add", device.id, f"{device.kind} {device.grid_code}"
    )
    await deps.registry(request).changed("devices")
    return JSONResponse(view(request, added), status_code=201)


async def update_device(request: Request) -> JSONResponse:
    """Fields changed on the version the form read (409 with the device when stale); a
    moved point without a grid moves the device to the grid there."""
    who = principal_of(request)
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    version = body.pop("version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad_field("version", "the version the form read: a whole number from 1")
    _form(body)
    if body.pop("id", request.path_params["id"]) != request.path_params["id"]:
        raise bad_field("id", "a device's id does not change")
    if not body:
        raise ApiError(422, "nothing to change", "send the fields to change")
    scope = scope_of(request)
    current = await _visible(request, scope)
    if ("lon" in body or "lat" in body) and "grid_code" not in body:
        point = {"lon": body.get("lon", current.lon), "lat": body.get("lat", current.lat)}
        _locate(request, point)
        body["grid_code"] = point["grid_code"]
    if "grid_code" in body:
        check_grid(request, body["grid_code"], scope)
    try:
        updated = await asyncio.to_thread(records_of(request).update, current.id, body, version, who.actor)
    except VersionConflict as exc:
        raise ApiError(
            409, "changed meanwhile: the device has a newer version", {"current": view(request, exc.current)}
        ) from None
    except ValidationError as exc:
        raise invalid(exc) from None
    except KeyError:
        raise ApiError(404, "no such device", current.id) from None
    await audit.record(
        deps.store(request), request, who, "device.update", current.id, ", ".join(sorted(body))
    )
    await deps.registry(request).changed("devices")
    return JSONResponse(view(request, updated))


async def retire_device(request: Request) -> JSONResponse:
    """Out of the registry: no longer listed, counted or watched (its readings and cases stay)."""
    who = principal_of(request)
    device = await _visible(request)
    if not await asyncio.to_thread(records_of(request).retire, device.id, who.actor):
        raise ApiError(404, "no such device", device.id)
    await audit.record(deps.store(request), request, who, "device.retire", device.id, device.grid_code)
    await deps.registry(request).changed("devices")
    return JSONResponse({"id": device.id, "retired": True})


routes: list[BaseRoute] = [
    Route("/api/devices", list_devices, methods=["GET"]),
    Route("/api/devices", create_device, methods=["POST"]),
    Route("/api/devices/summary", summary, methods=["GET"]),  # before {id}: "summary" is not a device
    Route("/api/devices/{id}", get_device, methods=["GET"]),
    Route("/api/devices/{id}", update_device, methods=["PATCH"]),
    Route("/api/devices/{id}", retire_device, methods=["DELETE"]),
]
