"""What Open311 shows of a service request (api/open311.py): everything to staff of its area,
else the coarse public view (status, matter, the grid's name, a point rounded to ~100 m; the
text and photo only when the reporter agreed to publish them)."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from command_center.api import deps
from command_center.auth.principal import Principal
from dispatch.cases import DONE_STATES, Case
from dispatch.catalog import Catalog
from dispatch.city import City

OWN_PHOTO = "/api/reports/"  # our own photo route: what an uploaded photo's media_url starts with
PUBLIC_DECIMALS = 3  # ~100 m: where, for the public, without pointing at a doorstep


async def view_of(request: Request, report: dict[str, Any], who: Principal | None) -> dict[str, Any]:
    case = (
        await asyncio.to_thread(deps.store(request).get_case, report["case_id"])
        if report.get("case_id")
        else None
    )
    full = who is not None and who.is_staff and who.sees_area(case.grid_code if case else None)
    return view(deps.catalog(request), deps.city(request).city, report, case, full)


def view(
    catalog: Catalog, city: City, report: dict[str, Any], case: Case | None, full: bool
) -> dict[str, Any]:
    """One service request as Open311 shows it: everything for staff of its area (`full`),
    else the coarse public view."""
    matter = catalog.get(report["service_code"])
    area = city.areas.get(case.grid_code) if case else None
    published = full or bool(report.get("publish"))
    own, external = media_of(report)
    digits = None if full else PUBLIC_DECIMALS
    return {
        "service_request_id": report["id"],
        "status": "closed" if case is not None and case.state in DONE_STATES else "open",
        "status_notes": case.state.value if case else None,
        "service_code": matter.code,
        "service_name": matter.name,
        "description": report["description"] if published else None,
        "agency_responsible": matter.department,
        "service_notice": None,
        "address_id": None,
        "requested_datetime": report["requested_datetime"],
        "updated_datetime": (case.updated_at or case.created_at).isoformat()
        if case
        else report["requested_datetime"],
        "expected_datetime": case.deadline.isoformat() if case else None,
        # the grid's name; the address the reporter typed is theirs, for staff only
        "address": area.name if area else (report.get("address_string") if full else None),
        "zipcode": None,
        "lat": round(report["lat"], digits) if digits else report["lat"],
        "long": round(report["long"], digits) if digits else report["long"],
        "media_url": (own or external) if published else None,
    }


def media_of(report: dict[str, Any]) -> tuple[str | None, str | None]:
    """(our uploaded photo's URL, the reporter's external link); reports stored before the
    two were kept apart hold either in `media_url`."""
    media = report.get("media_url")
    own = media if isinstance(media, str) and media.startswith(OWN_PHOTO) else None
    external = report.get("external_media_url") or (media if media and own is None else None)
    return own, external
