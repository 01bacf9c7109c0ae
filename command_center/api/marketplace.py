"""服务超市, the service marketplace (docs/RESIDENTS.md): providers apply, a community's officers
approve them, approved providers publish services, residents request them, the provider accepts
or declines and marks done, the resident rates once; the community sees supply and demand.

Three audiences, three prefixes:
- anyone: `GET /api/community/…` (categories, communities, services): what a notice board shows;
- a resident (their own token, api/residents.resident_of): `/api/residents/me/…`; a provider is a
  resident whose provider profile is approved;
- staff (officers and admins; policy.py): `/api/community-admin/…`, every read and change scoped
  to the caller's jurisdiction (an area outside it: 403 naming the area).

Live: each change is announced to whom it concerns (command_center/community_live.py).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from command_center import audit
from command_center.api import deps
from command_center.api.community_common import (
    announce,
    area_or_400,
    bad,
    community_of,
    names,
    organisation_grid,
    scope_of,
    staff_area,
)
from command_center.api.community_socket import routes as socket_routes
from command_center.api.errors import ApiError, json_body
from command_center.api.limits import SMALL_BODY
from command_center.api.residents import desk_of, resident_of
from command_center.auth.middleware import principal_of
from command_center.community_live import community_event
from command_center.store.community_market import MarketRecords, market_store
from dispatch.city import Area, City
from residents.forum import BadPost, clean_text
from residents.market import PROVIDER_KINDS, STATE_TEXT, next_state, offer_of, stars_of

COMMUNITY_MATCHES = 20
ACTIONS = ("accept", "decline", "done")  # a provider's steps on a request
DONE_AS = {"accept": "service.accepted", "decline": "service.declined", "done": "service.done"}


def market(conn: HTTPConnection) -> MarketRecords:
    return market_store(deps.store(conn))


def service_view(city: City, categories: dict[str, str], row: dict[str, Any]) -> dict[str, Any]:
    return {**row, **names(city, row["area_code"]), "category_name": categories.get(row["category"], row["category"]),
            "price": row["price_fen"] / 100, "free": row["price_fen"] == 0}  # fmt: skip


def request_view(city: City, categories: dict[str, str], row: dict[str, Any]) -> dict[str, Any]:
    rating = None if row.get("stars") is None else {"stars": row["stars"], "comment": row["comment"] or "",
                                                    "rated_at": row["rated_at"]}  # fmt: skip
    view = {k: v for k, v in row.items() if k not in ("stars", "comment", "rated_at", "resident_id")}
    return {**view, **names(city, row["grid_code"]), "category_name": categories.get(row["category"], row["category"]),
            "state_text": STATE_TEXT.get(row["state"], row["state"]), "rating": rating,
            "can_rate": row["state"] == "done" and rating is None}  # fmt: skip


def provider_view(city: City, row: dict[str, Any]) -> dict[str, Any]:
    return {**{k: v for k, v in row.items() if k != "resident_id"}, **names(city, row["community_code"])}


# ------------------------------------------------------------------ anyone


async def categories(request: Request) -> Response:
    cats = deps.config(request).community.categories
    return JSONResponse({"items": [{"code": code, "name": name} for code, name in cats.items()]})


async def communities(request: Request) -> Response:
    """Communities by a part of their name (`q`) or at a point (`lon`, `lat`), with their path."""
    city_map = deps.city(request)
    city, q = city_map.city, request.query_params.get("q", "").strip()
    found: list[Area] = []
    if "lon" in request.query_params or "lat" in request.query_params:
        try:
            lon, lat = float(request.query_params["lon"]), float(request.query_params["lat"])
        except (KeyError, ValueError):
            raise ApiError(400, "lon 与 lat 须为数字", {"field": "lon"}) from None
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):  # NaN fails too
            raise ApiError(400, "lon 与 lat 须为经纬度", {"field": "lon"})
        located = await asyncio.to_thread(city_map.index.locate, lon, lat)
        if located is not None and located.community_code in city.areas:
            found = [city.areas[located.community_code]]
    elif q:
        if len(q) > 30:
            raise ApiError(400, "q 不超过30个字", {"field": "q"})
        found = [a for a in city.communities if q in a.name][:COMMUNITY_MATCHES]
    else:
        raise ApiError(400, "请给出社区名称 q 或位置 lon/lat", {"field": "q"})
    items = [{"code": a.code, "name": a.name, "path": [p.name for p in city.path(a.code)[1:-1]],
              "grids": [{"code": g.code, "name": g.name} for g in city.children(a.code)]} for a in found]  # fmt: skip
    return JSONResponse({"items": items})


async def list_services(request: Request) -> Response:
    city = deps.city(request).city
    community = community_of(city, request.query_params.get("community"))
    category = request.query_params.get("category", "")
    cats = deps.config(request).community.categories
    if category and category not in cats:
        raise ApiError(400, f"category 须为 {', '.join(cats)} 之一", {"field": "category"})
    rows = await asyncio.to_thread(market(request).services, scope_of(community.code), category)
    return JSONResponse({"items": [service_view(city, cats, r) for r in rows], "community": community.name})


# ------------------------------------------------------------------ residents and providers


async def my_provider(request: Request) -> Response:
    resident = await resident_of(request)
    row = await asyncio.to_thread(market(request).provider_of, resident.id)
    if row is None:
        return JSONResponse({"provider": None})
    count, average = await asyncio.to_thread(market(request).provider_rating, row["id"])
    view = provider_view(deps.city(request).city, row)
    return JSONResponse({"provider": {**view, "ratings": count, "average_stars": average}})


async def _organisation(request: Request, organisation_id: Any, community: Area) -> str:
    """A base-data organisation (实有单位) in the community; 400 naming the field otherwise."""
    if not isinstance(organisation_id, str) or not organisation_id or len(organisation_id) > 64:
        raise ApiError(400, "organisation_id 须为本社区实有单位的编号", {"field": "organisation_id"})
    grid = await asyncio.to_thread(organisation_grid, request, organisation_id)
    if grid is None or not grid.startswith(scope_of(community.code)):
        raise ApiError(400, "organisation_id 须为本社区实有单位的编号", {"field": "organisation_id"})
    return organisation_id


async def apply_provider(request: Request) -> Response:
    resident = await resident_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    city = deps.city(request).city
    try:
        kind = body.get("kind", "volunteer")
        if not isinstance(kind, str) or kind not in PROVIDER_KINDS:
            raise BadPost("kind", "kind 须为 volunteer（志愿者）或 organisation（单位）")
        fields: dict[str, Any] = {"name": clean_text(body.get("name"), "name", 40, 2), "kind": kind,
                  "intro": clean_text(body.get("intro", ""), "intro", 500, 0)}  # fmt: skip
    except BadPost as exc:
        raise bad(exc) from None
    community = community_of(city, body.get("community"))
    org = (
        await _organisation(request, body.get("organisation_id"), community)
        if kind == "organisation"
        else None
    )
    fields |= {"community_code": community.code, "organisation_id": org}
    row = await asyncio.to_thread(market(request).apply, resident.id, fields, desk_of(request).clock())
    if row is None:
        raise ApiError(409, "您已提交过申请或已是服务提供者", {"field": "resident"})
    await audit.write(deps.store(request), audit.entry(resident.id, "resident", "provider.apply", row["id"],
                                                       audit.client_ip(request), community.code))  # fmt: skip
    await announce(request, community_event("provider.applied", community.code, residents=[resident.id],
                                            staff=True, id=row["id"], state=row["state"]))  # fmt: skip
    return JSONResponse({"provider": provider_view(city, row)}, status_code=201)


async def approved_provider(request: Request) -> tuple[Any, dict[str, Any]]:
    """The signed-in resident and their approved provider profile; 403 otherwise."""
    resident = await resident_of(request)
    row = await asyncio.to_thread(market(request).provider_of, resident.id)
    if row is None or row["state"] != "approved":
        state = None if row is None else row["state"]
        raise ApiError(403, "服务提供者资格尚未经社区审核通过", {"field": "provider", "state": state})
    return resident, row


async def publish_service(request: Request) -> Response:
    resident, provider = await approved_provider(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    city, cats = deps.city(request).city, deps.config(request).community.categories
    area = area_or_400(city, body.get("area", provider["community_code"]), "area", ("community", "grid"))
    if not area.code.startswith(scope_of(provider["community_code"])):
        raise ApiError(
            400, "area 须为本社区或其网格", {"field": "area", "community": provider["community_code"]}
        )
    try:
        offer = offer_of(body, cats, area.code)
    except BadPost as exc:
        raise bad(exc) from None
    records = market(request)
    service_id = await asyncio.to_thread(records.publish, provider["id"], offer, desk_of(request).clock())
    row = await asyncio.to_thread(records.service, service_id)
    assert row is not None
    await audit.write(deps.store(request), audit.entry(resident.id, "resident", "service.publish", service_id,
                                                       audit.client_ip(request), offer.title))  # fmt: skip
    await announce(request, community_event("service.published", area.code, id=service_id,
                                            forum=provider["community_code"], staff=True))  # fmt: skip
    return JSONResponse(service_view(city, cats, row), status_code=201)


async def my_services(request: Request) -> Response:
    _, provider = await approved_provider(request)
    rows = await asyncio.to_thread(market(request).services_of, provider["id"])
    city, cats = deps.city(request).city, deps.config(request).community.categories
    return JSONResponse(
        {"items": [service_view(city, cats, {**r, "provider_name": provider["name"]}) for r in rows]}
    )


async def close_service(request: Request) -> Response:
    _, provider = await approved_provider(request)
    closed = await asyncio.to_thread(market(request).close_service, request.path_params["id"], provider["id"])
    if not closed:
        raise ApiError(404, "没有这项服务", {"id": request.path_params["id"]})
    await announce(request, community_event("service.closed", provider["community_code"], staff=True,
                                            id=request.path_params["id"], forum=provider["community_code"]))  # fmt: skip
    return JSONResponse({"id": request.path_params["id"], "state": "closed"})


async def request_service(request: Request) -> Response:
    resident = await resident_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    city, records = deps.city(request).city, market(request)
    service_id = body.get("service_id")
    service = await asyncio.to_thread(records.service, service_id) if isinstance(service_id, str) else None
    if service is None or service["state"] != "open":
        raise ApiError(404, "没有这项服务或已下架", {"field": "service_id"})
    provider = await asyncio.to_thread(records.provider, service["provider_id"])
    if provider is not None and provider["resident_id"] == resident.id:
        raise ApiError(400, "不能申请自己发布的服务", {"field": "service_id"})
    grid = (
        area_or_400(city, body["grid"], "grid", ("grid",)).code if body.get("grid") else service["area_code"]
    )
    try:
        note = clean_text(body.get("note", ""), "note", 300, 0)
    except BadPost as exc:
        raise bad(exc) from None
    request_id = await asyncio.to_thread(
        records.request, service, resident.id, grid, note, desk_of(request).clock()
    )
    row = await asyncio.to_thread(records.get_request, request_id)
    assert row is not None
    heard = [resident.id, *([provider["resident_id"]] if provider is not None else [])]
    await announce(request, community_event("service.requested", grid, residents=heard, id=request_id,
                                            state=row["state"], staff=True))  # fmt: skip
    view = request_view(city, deps.config(request).community.categories, {**row, "title": service["title"],
                                                                         "provider_name": service["provider_name"]})  # fmt: skip
    return JSONResponse(view, status_code=201)


async def my_requests(request: Request) -> Response:
    resident = await resident_of(request)
    rows = await asyncio.to_thread(market(request).requests_of, resident.id)
    city, cats = deps.city(request).city, deps.config(request).community.categories
    return JSONResponse({"items": [request_view(city, cats, r) for r in rows]})


async def rate_request(request: Request) -> Response:
    resident = await resident_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    try:
        stars = stars_of(body.get("stars"))
        comment = clean_text(body.get("comment", ""), "comment", 200, 0)
    except BadPost as exc:
        raise bad(exc) from None
    records, request_id = market(request), request.path_params["id"]
    row = await asyncio.to_thread(records.get_request, request_id)
    if row is None or row["resident_id"] != resident.id:
        raise ApiError(404, "没有这条服务申请", {"id": request_id})
    if not await asyncio.to_thread(
        records.rate, request_id, resident.id, stars, comment, desk_of(request).clock()
    ):
        reason = "已评价过，不能重复评价" if row["stars"] is not None else "服务完成后才能评价"
        raise ApiError(409, reason, {"id": request_id, "state": row["state"]})
    await audit.write(deps.store(request), audit.entry(resident.id, "resident", "service.rating", request_id,
                                                       audit.client_ip(request), f"{stars} stars"))  # fmt: skip
    provider = await asyncio.to_thread(records.provider, row["provider_id"])
    heard = [resident.id, *([provider["resident_id"]] if provider is not None else [])]
    await announce(request, community_event("service.rated", row["grid_code"], residents=heard, id=request_id,
                                            state=row["state"]))  # fmt: skip
    return JSONResponse({"id": request_id, "rating": {"stars": stars, "comment": comment}}, status_code=201)


async def incoming(request: Request) -> Response:
    _, provider = await approved_provider(request)
    rows = await asyncio.to_thread(market(request).incoming, provider["id"])
    city, cats = deps.city(request).city, deps.config(request).community.categories
    return JSONResponse({"items": [request_view(city, cats, r) for r in rows]})


async def act_on_request(request: Request) -> Response:
    request_id, action = request.path_params["id"], request.path_params["action"]
    if action not in ACTIONS:
        raise ApiError(404, "没有这个操作", {"field": "action", "allowed": list(ACTIONS)})
    resident, provider = await approved_provider(request)
    records = market(request)
    row = await asyncio.to_thread(records.get_request, request_id)
    if row is None or row["provider_id"] != provider["id"]:
        raise ApiError(404, "没有这条服务申请", {"id": request_id})
    state = next_state(row["state"], action)
    if state is None:
        raise ApiError(409, f"当前状态（{STATE_TEXT.get(row['state'], row['state'])}）不能{action}",
                       {"state": row["state"], "action": action})  # fmt: skip
    if not await asyncio.to_thread(
        records.step, request_id, provider["id"], row["state"], state, desk_of(request).clock()
    ):
        raise ApiError(409, "服务申请已被更新，请刷新", {"id": request_id})
    await audit.write(deps.store(request), audit.entry(resident.id, "resident", f"service.{action}", request_id,
                                                       audit.client_ip(request)))  # fmt: skip
    await announce(request, community_event(DONE_AS[action], row["grid_code"], id=request_id, state=state,
                                            residents=[row["resident_id"], resident.id]))  # fmt: skip
    return JSONResponse({"id": request_id, "state": state, "state_text": STATE_TEXT[state]})


# ------------------------------------------------------------------ staff


async def staff_providers(request: Request) -> Response:
    _, prefix = staff_area(request, request.query_params.get("area"))
    state = request.query_params.get("state") or None
    if state not in (None, "pending", "approved", "rejected"):
        raise ApiError(400, "state 须为 pending、approved 或 rejected", {"field": "state"})
    rows = await asyncio.to_thread(market(request).providers, prefix, state)
    city = deps.city(request).city
    return JSONResponse({"items": [provider_view(city, r) for r in rows]})


async def decide_provider(request: Request) -> Response:
    principal = principal_of(request)
    provider_id, verdict = request.path_params["id"], request.path_params["verdict"]
    if verdict not in ("approve", "reject"):
        raise ApiError(404, "没有这个操作", {"field": "verdict", "allowed": ["approve", "reject"]})
    body = await json_body(request, required=False, limit=SMALL_BODY)
    records = market(request)
    row = await asyncio.to_thread(records.provider, provider_id)
    if row is None or not principal.sees_area(row["community_code"]):
        raise ApiError(404, "没有这份申请", {"id": provider_id})  # another community's: as a missing one
    try:
        reason = clean_text(body.get("reason", ""), "reason", 200, 0)
    except BadPost as exc:
        raise bad(exc) from None
    approve = verdict == "approve"
    if not await asyncio.to_thread(
        records.decide, provider_id, approve, reason, principal.user, desk_of(request).clock()
    ):
        raise ApiError(409, "这份申请已经审核过", {"id": provider_id, "state": row["state"]})
    await audit.write(deps.store(request), audit.entry(principal.user, principal.role, f"provider.{verdict}",
                                                       provider_id, audit.client_ip(request), reason))  # fmt: skip
    fresh = await asyncio.to_thread(records.provider, provider_id)
    assert fresh is not None
    await announce(request, community_event(f"provider.{verdict}d", row["community_code"], id=provider_id,
                                            state=fresh["state"], residents=[row["resident_id"]], staff=True))  # fmt: skip
    return JSONResponse(provider_view(deps.city(request).city, fresh))


async def supply_demand(request: Request) -> Response:
    """Open offers against requests (the last community.demand_days) per grid and category."""
    _, prefix = staff_area(request, request.query_params.get("area"))
    config = deps.config(request).community
    since = desk_of(request).clock() - timedelta(days=config.demand_days)
    offers, wanted = await asyncio.to_thread(market(request).supply_demand, prefix, since)
    city = deps.city(request).city
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for rows, key in ((offers, "offers"), (wanted, "requests")):
        for code, category, count in rows:
            cell = table.setdefault((code, category), {"area_code": code, "category": category, "offers": 0,
                                                      "requests": 0, **names(city, code),
                                                      "category_name": config.categories.get(category, category)})  # fmt: skip
            cell[key] += int(count)
    items = sorted(table.values(), key=lambda c: (c["area_code"], c["category"]))
    return JSONResponse({"items": items, "area": prefix, "days": config.demand_days})


routes: list[BaseRoute] = [
    Route("/api/community/categories", categories, methods=["GET"]),
    Route("/api/community/communities", communities, methods=["GET"]),
    Route("/api/community/services", list_services, methods=["GET"]),
    Route("/api/residents/me/provider", my_provider, methods=["GET"]),
    Route("/api/residents/me/provider", apply_provider, methods=["POST"]),
    Route("/api/residents/me/services", my_services, methods=["GET"]),
    Route("/api/residents/me/services", publish_service, methods=["POST"]),
    Route("/api/residents/me/services/{id}/close", close_service, methods=["POST"]),
    Route("/api/residents/me/service-requests", my_requests, methods=["GET"]),
    Route("/api/residents/me/service-requests", request_service, methods=["POST"]),
    Route("/api/residents/me/service-requests/{id}/rating", rate_request, methods=["POST"]),
    Route("/api/residents/me/incoming", incoming, methods=["GET"]),
    Route("/api/residents/me/incoming/{id}/{action:str}", act_on_request, methods=["POST"]),
    Route("/api/community-admin/providers", staff_providers, methods=["GET"]),
    Route("/api/community-admin/providers/{id}/{verdict:str}", decide_provider, methods=["POST"]),
    Route("/api/community-admin/supply", supply_demand, methods=["GET"]),
    *socket_routes,  # the residents' live socket for both (api/community_socket.py)
]
