"""Patrol plans (巡查): key places, a worker's route today, GPS check-ins with the place's
checklist, and patrol coverage per grid for the wall.

Who: officers and admins manage the places of their jurisdiction; a grid worker reads the
places of their roster grids, walks today's route and checks in (auth/policy.py admits,
these handlers scope every read and write as api/basedata.py does). A check-in counts only
within the place's radius: outside it is 422 with the distance and the radius. A hazard
answered with `"report": true` becomes a case through the same intake as a worker's
report (POST /api/cases): source worker, at the place, audited as case.report.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime
from functools import cache
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from basedata.patrol import (
    CheckIn,
    ChecklistItem,
    KeyPlace,
    after_check,
    check_answers,
    check_in_allowed,
    hazards,
    is_due,
    load_checklists,
    route_for,
)
from command_center import audit
from command_center.api import deps, field_photos
from command_center.api.basedata_views import (
    Scope,
    area_param,
    bad_field,
    check_grid,
    invalid,
    scope_of,
    today,
)
from command_center.api.errors import ApiError, int_param, json_body
from command_center.auth.middleware import principal_of
from command_center.photos import PHOTO_ID
from command_center.store.patrol_records import PatrolRecords, PlaceExists, VersionConflict, patrol_store
from dispatch.dispatcher import UnknownMatter
from dispatch.intake import Intake

FORM_LIMIT = 64 * 1024
MAX_NOTE = 2000
# Set by check-ins, never by a form.
SERVER_SET = frozenset({"last_checked_at", "next_due", "version"})
PLACE_FIELDS = frozenset(KeyPlace.model_fields) - SERVER_SET


@cache
def catalogue() -> dict[str, list[ChecklistItem]]:
    """configs/patrol_checklists.yaml, read once (a bad file fails the first request loudly)."""
    return load_checklists()


def records_of(request: Request) -> PatrolRecords:
    return patrol_store(deps.store(request))


def now(request: Request) -> datetime:
    """The city's wall-clock time with its offset (the dispatcher's clock and zone): shifts and
    due dates are the city's, whatever zone the machine is set to."""
    return deps.city_now(request)


def place_view(place: KeyPlace, on: date) -> dict[str, Any]:
    return place.model_dump(mode="json") | {"due": is_due(place, on)}


async def _visible(request: Request, place_id: str, scope: Scope | None = None) -> KeyPlace:
    """The place if in the caller's area; 404 as if missing otherwise."""
    fits = len(place_id) <= 64 and "\x00" not in place_id
    found = await asyncio.to_thread(records_of(request).get_place, place_id) if fits else None
    if found is None or not (scope or scope_of(request)).covers(found.grid_code):
        raise ApiError(404, "no such place", place_id)
    return found


async def route(request: Request) -> JSONResponse:
    """The worker's route today: due places of their grids, nearest-neighbour order."""
    scope = scope_of(request)
    grids = [g for g in scope.prefixes if g]
    places = await asyncio.to_thread(records_of(request).places_in, grids)
    walk = route_for(places, set(grids), today(request))
    return JSONResponse({"day": today(request).isoformat(), "grids": grids, "items": [place_view(p, today(request)) for p in walk]})


async def list_places(request: Request) -> JSONResponse:
    scope = scope_of(request, area_param(request))
    limit, offset = int_param(request, "limit", 100, 1, 1000), int_param(request, "offset", 0, 0, 1_000_000)
    records = records_of(request)

    def gather() -> list[KeyPlace]:
        found = [p for prefix in scope.prefixes for p in records.places_under(prefix, limit + offset, 0)]
        return sorted(found, key=lambda p: (p.grid_code, p.id))[offset : offset + limit]

    places = await asyncio.to_thread(gather)
    return JSONResponse({"items": [place_view(p, today(request)) for p in places], "limit": limit, "offset": offset})


def _check_fields(body: dict[str, Any]) -> None:
    unknown = sorted(set(body) - PLACE_FIELDS)
    if unknown:
        raise bad_field(unknown[0], f"not a field a form sets; one of {', '.join(sorted(PLACE_FIELDS))}")


async def create_place(request: Request) -> JSONResponse:
    """A new place; the grid defaults to the one its point is in, the checklist to its
    kind's in the catalogue, the id to a new one."""
    who = principal_of(request)
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    _check_fields(body)
    scope = scope_of(request)
    if "grid_code" not in body and isinstance(body.get("lon"), int | float) and isinstance(body.get("lat"), int | float):
        located = deps.city(request).index.locate(float(body["lon"]), float(body["lat"]))
        body["grid_code"] = located.grid_code if located is not None else None
    check_grid(request, body.get("grid_code"), scope)
    if "checklist" not in body and body.get("kind") in catalogue():
        body["checklist"] = [item.model_dump() for item in catalogue()[body["kind"]]]
    body.setdefault("id", f"KP{uuid.uuid4().hex[:12]}")
    try:
        place = KeyPlace.model_validate(body)
    except ValidationError as exc:
        raise invalid(exc) from None
    try:
        await asyncio.to_thread(records_of(request).add_place, place, who.actor)
    except PlaceExists:
        raise ApiError(409, f"place {place.id} exists", place.id) from None
    await audit.record(deps.store(request), request, who, "patrol.place.create", place.id, place.grid_code)
    return JSONResponse(place_view(place, today(request)), status_code=201)


async def update_place(request: Request) -> JSONResponse:
    """Fields changed on the version the form read (409 with the place when stale)."""
    who = principal_of(request)
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    version = body.pop("version", None)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise bad_field("version", "the version the form read: a whole number from 1")
    _check_fields(body)
    if body.pop("id", request.path_params["id"]) != request.path_params["id"]:
        raise bad_field("id", "a place's id does not change")
    if not body:
        raise ApiError(422, "nothing to change", "send the fields to change")
    scope = scope_of(request)
    current = await _visible(request, request.path_params["id"], scope)
    if "grid_code" in body:
        check_grid(request, body["grid_code"], scope)
    try:
        updated = await asyncio.to_thread(records_of(request).update_place, current.id, body, version, who.actor)
    except VersionConflict as exc:
        raise ApiError(409, "changed meanwhile: the place has a newer version", {"current": place_view(exc.current, today(request))}) from None
    except ValidationError as exc:
        raise invalid(exc) from None
    except KeyError:
        raise ApiError(404, "no such place", current.id) from None
    await audit.record(deps.store(request), request, who, "patrol.place.update", current.id, ", ".join(sorted(body)))
    return JSONResponse(place_view(updated, today(request)))


def coordinate(body: dict[str, Any], name: str, low: float, high: float) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise bad_field(name, f"a number from {low} to {high}")
    return float(value)


def _checkin_form(body: dict[str, Any]) -> tuple[float, float, str | None, str, bool]:
    lon, lat = coordinate(body, "lon", -180, 180), coordinate(body, "lat", -90, 90)
    photo = body.get("photo_id")
    if photo is not None and not (isinstance(photo, str) and PHOTO_ID.match(photo)):
        raise bad_field("photo_id", "a photo id from POST /api/field-photos (P + 12 hex digits)")
    note = body.get("hazard_note", "")
    if not isinstance(note, str) or len(note) > MAX_NOTE or "\x00" in note:
        raise bad_field("hazard_note", f"text of up to {MAX_NOTE} characters")
    report = body.get("report", False)
    if not isinstance(report, bool):
        raise bad_field("report", "true or false")
    return lon, lat, photo, note.strip(), report


async def check_in(request: Request) -> JSONResponse:
    """The worker at a place: within its radius (else 422 with the distance), every
    checklist item answered; the place is due again `every_days` from today. A hazard with
    `"report": true` becomes a case (its id in `case_id`)."""
    who = principal_of(request)
    if not who.is_worker or not who.worker_id:
        raise ApiError(403, "forbidden", "only a grid worker checks in at a place")
    body = await json_body(request, required=True, limit=FORM_LIMIT)
    lon, lat, photo, note, report = _checkin_form(body)
    place = await _visible(request, request.path_params["id"])
    inside, distance = check_in_allowed(place, lon, lat)
    if not inside:
        reason = f"you are {distance:.0f} m from {place.name}; a check-in counts within {place.radius_m:.0f} m"
        detail = {"reason": reason, "distance_m": round(distance, 1), "radius_m": place.radius_m}
        raise ApiError(422, "outside the place's check-in radius", detail)
    try:
        answers = check_answers(place, body.get("answers", {}))
    except ValueError as exc:
        raise bad_field("answers", str(exc)) from None
    found = hazards(place, answers)
    if report and not found:
        raise bad_field("report", "nothing was answered 'hazard': there is no hazard to report")
    at = now(request)
    checkin = CheckIn(id=f"PC{uuid.uuid4().hex[:16]}", place_id=place.id, worker_id=who.worker_id,
                      grid_code=place.grid_code, at=at, lon=lon, lat=lat, distance_m=round(distance, 1),
                      photo_id=photo, answers=answers, hazard_note=note)  # fmt: skip
    after = after_check(place, at)
    if photo is not None:  # the worker's own upload, taken for the place's grid (400 otherwise)
        await field_photos.take(request, [photo], f"checkin:{checkin.id}", lambda g: g == place.grid_code)
    records = records_of(request)
    try:
        await asyncio.to_thread(records.record_checkin, checkin, after, who.actor)
    except KeyError:
        raise ApiError(404, "no such place", place.id) from None
    if report:
        checkin.case_id = await _report(request, place, found, note, checkin.id, body.get("matter_code"))
        await asyncio.to_thread(records.set_checkin_case, checkin.id, checkin.case_id)
    await audit.record(deps.store(request), request, who, "patrol.checkin", place.id,
                       f"{checkin.id} hazards={len(found)}" + (f" case={checkin.case_id}" if checkin.case_id else ""))  # fmt: skip
    shown = checkin.model_dump(mode="json") | {"place": place_view(after.model_copy(update={"version": place.version + 1}), at.date())}
    return JSONResponse(shown, status_code=201)


async def _report(
    request: Request, place: KeyPlace, found: list[ChecklistItem], note: str, checkin_id: str, matter: Any
) -> str:
    """A case for the hazards found, as POST /api/cases makes a worker's: the dispatcher's
    intake at the place (its grid), published and audited; the case's id."""
    if matter is None:
        matter = found[0].matter  # the first hazard's class (configs/patrol_checklists.yaml)
    if not isinstance(matter, str) or not matter:
        raise bad_field("matter_code", "a matter code (see /open311/v2/services.json)")
    who = principal_of(request)
    what = "；".join(item.text for item in found)
    description = f"巡查发现隐患（{place.name}）：{what}" + (f"。{note}" if note else "")
    dispatcher, casework = deps.dispatcher(request), deps.casework(request)
    intake = Intake("worker", place.lon, place.lat, dispatcher.clock(), ref_id=checkin_id, matter_code=matter,
                    description=description)  # fmt: skip
    try:
        result = await asyncio.to_thread(dispatcher.intake, intake)
    except UnknownMatter as exc:
        raise bad_field("matter_code", f"unknown matter code {exc.code}") from None
    await casework.publish_case(result.case, created=result.created)
    await audit.record(deps.store(request), request, who, "case.report", result.case.id,
                       f"source=worker patrol={checkin_id}")  # fmt: skip
    return str(result.case.id)


async def coverage(request: Request) -> JSONResponse:
    """Per grid under `area` (default: the caller's area): places due today, checked today
    and the share checked (null when nothing is due), with the grid's name."""
    area = area_param(request)
    scope = scope_of(request, area)
    records, on = records_of(request), today(request)

    def gather() -> list[dict[str, Any]]:
        return sorted((r for p in scope.prefixes for r in records.coverage(p, on)), key=lambda r: str(r["grid_code"]))

    rows = await asyncio.to_thread(gather)
    areas = deps.city(request).city.areas
    items = []
    for row in rows:
        found = areas.get(row["grid_code"])
        share = round(row["checked"] / row["due"], 3) if row["due"] else None
        items.append(row | {"name": None if found is None else str(found.name), "share": share})
    due, checked = sum(r["due"] for r in rows), sum(r["checked"] for r in rows)
    totals = {"due": due, "checked": checked, "places": sum(r["places"] for r in rows),
              "share": round(checked / due, 3) if due else None}  # fmt: skip
    return JSONResponse({"area": area, "day": on.isoformat(), "items": items, "totals": totals})


routes: list[BaseRoute] = [
    Route("/api/patrols/route", route, methods=["GET"]),
    Route("/api/patrols/coverage", coverage, methods=["GET"]),
    Route("/api/patrols/places", list_places, methods=["GET"]),
    Route("/api/patrols/places", create_place, methods=["POST"]),
    Route("/api/patrols/places/{id}", update_place, methods=["PATCH"]),
    Route("/api/patrols/places/{id}/checkins", check_in, methods=["POST"]),
]
