"""What the marketplace and the forum share (api/marketplace.py, api/forum.py): areas by code
(a community, its grids), the scope prefix of an area, the staff caller's area, names for views,
and the live events of their changes (command_center/community_live.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa
from starlette.requests import HTTPConnection, Request

from command_center.api import deps
from command_center.api.errors import ApiError
from command_center.auth.middleware import principal_of
from command_center.auth.principal import Principal, normalize_jurisdiction
from command_center.events import Event
from command_center.store.queries import compile_sql
from dispatch.city import Area, City
from residents.forum import BadPost

log = logging.getLogger(__name__)
ANNOUNCE_S = 2.0  # the longest a change waits on the bus to tell the pages of it

ORGANISATION: Any = (
    sa.select(sa.column("grid_code"))
    .select_from(sa.table("organisations"))
    .where(sa.column("id") == sa.bindparam("id"))
)


def bad(exc: BadPost) -> ApiError:
    return ApiError(400, str(exc), {"field": exc.field})


def area_or_400(city: City, code: Any, field: str, levels: tuple[str, ...]) -> Area:
    """The area of a code at one of `levels`; 400 naming the field otherwise."""
    area = city.areas.get(code) if isinstance(code, str) else None
    if area is None or area.level not in levels:
        raise ApiError(400, f"{field} 须为{'/'.join(levels)}的区划代码", {"field": field, "code": code})
    return area


def community_of(city: City, code: Any, field: str = "community") -> Area:
    """The community of a community or grid code (400 naming the field otherwise)."""
    area = area_or_400(city, code, field, ("community", "grid"))
    if area.level == "grid" and area.parent in city.areas:
        return city.areas[area.parent]
    return area


def scope_of(code: str) -> str:
    """An area's significant-digit prefix: what codes under it start with."""
    return normalize_jurisdiction(code) if code else ""


def staff_area(request: Request, code: str | None, field: str = "area") -> tuple[Principal, str]:
    """(the caller, the prefix to read under): the given area's, or the caller's jurisdiction;
    403 when the area lies outside it."""
    principal = principal_of(request)
    if not code:
        return principal, principal.jurisdiction
    area_or_400(deps.city(request).city, code, field, ("city", "district", "street", "community", "grid"))
    prefix = scope_of(code)
    if not principal.sees_area(code) and not (principal.jurisdiction or "").startswith(prefix):
        raise ApiError(
            403, "不在您的管辖范围内", {"field": field, "area": code, "jurisdiction": principal.jurisdiction}
        )
    if not principal.sees_area(code):  # an area above the caller's: narrowed to their own
        return principal, principal.jurisdiction
    return principal, prefix


def names(city: City, code: str) -> dict[str, str]:
    """An area's name and its community's, for views (names, not ids)."""
    area = city.areas.get(code)
    if area is None:
        return {"area_name": code}
    community = area if area.level != "grid" else city.areas.get(area.parent or "", area)
    return {"area_name": area.name, "community_name": community.name}


def organisation_grid(request: Request, organisation_id: str) -> str | None:
    """The grid of a base-data organisation (实有单位), or None when there is none of that id."""
    store = deps.store(request)
    sql = compile_sql(ORGANISATION, store.dialect)  # type: ignore[attr-defined]
    with store._reading() as db:  # type: ignore[attr-defined]
        row = db.execute(sql, {"id": organisation_id}).fetchone()
    return None if row is None else str(row[0])


async def announce(conn: HTTPConnection, event: Event) -> None:
    """Tell the bus, and so every node's hub, what changed (community_live.community_event).
    A stored change stands even when the bus is down or slow: it costs only the live update,
    which the pages' slow poll makes up for."""
    try:
        await asyncio.wait_for(deps.bus(conn).publish(event), ANNOUNCE_S)
    except Exception as exc:  # an outage or a timeout: the change itself is done
        log.warning("community: %s not announced: %r", event.type, exc)
