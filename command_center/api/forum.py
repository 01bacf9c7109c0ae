"""论坛: community notices (from the community's officers), policy articles (officers and admins),
residents' discussion threads with replies, moderation, and search (docs/RESIDENTS.md).

Reading is public (`GET /api/community/…`: a notice board), and shows visible posts only.
Residents post, reply and report with their own token (`/api/residents/me/…`). Officers and
admins moderate within their jurisdiction (`/api/community-admin/…`): the queue of reported,
hidden and held posts, a post with its moderation trail, hide and restore, a time-limited ban.

Sensitive words (config community.sensitive_words): a resident's post or reply containing one
(case, width, spaces and punctuation ignored: residents/forum.fold) is refused with 400 naming
the filter (`community.sensitive_action: refuse`, the default), or stored as `held` (202) and
shown to no resident until a moderator restores it (`hold`). Staff posts are not filtered.

Live (command_center/community_live.py): a community's new notices, threads and replies and its
posts hidden or restored go to its board's channel; reports, held posts and moderation to staff.

Search is LIKE '%词%' over titles and bodies (store/community_forum.py) plus the grids' public
worker cards (names of grids, workers and their public numbers, from the map in memory).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from starlette.requests import Request
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
    scope_of,
    staff_area,
)
from command_center.api.errors import ApiError, json_body
from command_center.api.limits import SMALL_BODY
from command_center.api.public import number_of
from command_center.api.residents import desk_of, resident_of
from command_center.auth.middleware import principal_of
from command_center.community_live import community_event
from command_center.events import Event
from command_center.store.community_forum import SEARCH_MAX, ForumRecords, forum_store
from dispatch.city import City
from residents.forum import BadPost, WordFilter, banned_until, clean_text

FLOOD_WINDOW = timedelta(minutes=10)  # community.posts_per_10_min counts posts in it
LISTED = {"notices": "notice", "articles": "article", "threads": "thread"}
PUBLIC_POST = ("id", "kind", "thread_id", "area_code", "author_name", "title", "body", "created_at")


def forum(request: Request) -> ForumRecords:
    return forum_store(deps.store(request))


def public_view(city: City, row: dict[str, Any]) -> dict[str, Any]:
    view = {k: row[k] for k in PUBLIC_POST}
    if "replies" in row:
        view["replies"] = row["replies"]
    return {**view, **(names(city, row["area_code"]) if row["area_code"] else {"area_name": "全市"})}


def _texts(request: Request, body: dict[str, Any], title: bool) -> tuple[str, str]:
    config = deps.config(request).community
    try:
        head = clean_text(body.get("title"), "title", config.title_max, 2) if title else ""
        text = clean_text(body.get("body"), "body", config.body_max)
    except BadPost as exc:
        raise bad(exc) from None
    return head, text


# ------------------------------------------------------------------ anyone


async def listing(request: Request) -> Response:
    kind = LISTED[request.url.path.rsplit("/", 1)[1]]
    city = deps.city(request).city
    raw = request.query_params.get("community")
    code = "" if kind == "article" and not raw else community_of(city, raw).code
    rows = await asyncio.to_thread(forum(request).listing, kind, code)
    return JSONResponse({"items": [public_view(city, r) for r in rows]})


async def thread(request: Request) -> Response:
    records, post_id = forum(request), request.path_params["id"]
    row = await asyncio.to_thread(records.get, post_id)
    if row is None or row["state"] != "visible" or row["kind"] == "reply":
        raise ApiError(404, "没有这篇帖子", {"id": post_id})
    city = deps.city(request).city
    replies = await asyncio.to_thread(records.replies, post_id)
    return JSONResponse({**public_view(city, row), "reply_items": [public_view(city, r) for r in replies]})


def _cards(city: City, text: str, prefix: str) -> list[dict[str, Any]]:
    """Public worker cards (三公开) whose grid name, worker name or public number holds the text."""
    found: dict[str, dict[str, Any]] = {}
    for grid in city.grids:
        if grid.code.startswith(prefix) and text in grid.name:
            found[grid.code] = {
                "type": "worker_card",
                "id": grid.code,
                "title": grid.name,
                "snippet": "网格员公示卡",
            }
        if len(found) >= SEARCH_MAX:
            break
    for worker in city.workers:
        if len(found) >= SEARCH_MAX:
            break
        code = worker.grid_code
        if code in found or not code.startswith(prefix) or code not in city.areas:
            continue
        if text in worker.name or text == number_of(worker):
            snippet = f"网格员 {worker.name}（{number_of(worker)}）"
            found[code] = {
                "type": "worker_card",
                "id": code,
                "title": city.areas[code].name,
                "snippet": snippet,
            }
    return [{**item, "url": f"/grid/{item['id']}"} for item in found.values()]


def _snippet(text: str, word: str, width: int = 40) -> str:
    at = max(0, text.find(word) - width // 2)
    return ("…" if at else "") + text[at : at + width] + ("…" if at + width < len(text) else "")


async def search(request: Request) -> Response:
    text = request.query_params.get("q", "").strip()
    if not 1 <= len(text) <= 30:
        raise ApiError(400, "搜索词为1到30个字", {"field": "q"})
    city = deps.city(request).city
    raw = request.query_params.get("community")
    code = community_of(city, raw).code if raw else ""
    prefix = scope_of(code)
    posts, services = await asyncio.to_thread(forum(request).search, text, code, prefix)
    items = [{"type": kind, "id": pid, "thread_id": thread_id, "title": title, "snippet": _snippet(body, text),
              **(names(city, area) if area else {"area_name": "全市"}), "created_at": at}
             for pid, kind, thread_id, title, body, area, at in posts]  # fmt: skip
    cats = deps.config(request).community.categories
    items += [{"type": "service", "id": sid, "title": title, "snippet": _snippet(body or title, text),
               "category_name": cats.get(category, category), **names(city, area)}
              for sid, title, body, category, area in services]  # fmt: skip
    items += await asyncio.to_thread(_cards, city, text, prefix)
    return JSONResponse({"q": text, "items": items})


# ------------------------------------------------------------------ residents


async def _may_post(request: Request, resident_id: str, community_code: str) -> None:
    now = desk_of(request).clock()
    bans = await asyncio.to_thread(forum(request).bans, resident_id, community_code, now)
    until = banned_until(bans, now)
    if until is not None:
        raise ApiError(
            403, f"您已被禁止在本社区发言，至 {until[:16].replace('T', ' ')} UTC", {"until": until}
        )


async def _resident_post(request: Request, fields: dict[str, Any], title: str, text: str) -> Response:
    resident = await resident_of(request)
    await _may_post(request, resident.id, fields["area_code"])
    config = deps.config(request).community
    since = desk_of(request).clock() - FLOOD_WINDOW
    if await asyncio.to_thread(forum(request).recent, resident.id, since) >= config.posts_per_10_min:
        detail = {"limit": config.posts_per_10_min, "window_s": 600}
        return JSONResponse({"error": "发帖过于频繁，请稍后再试", "detail": detail}, status_code=429,
                            headers={"Retry-After": "60"})  # fmt: skip
    state = "visible"
    if WordFilter.of(config.sensitive_words).hit(title, text) is not None:
        if config.sensitive_action == "refuse":
            raise ApiError(
                400, "内容含有敏感词，已被过滤，请修改后再发布", {"field": "body", "filtered": True}
            )
        state = "held"
    row = {**fields, "author_kind": "resident", "author": resident.id, "author_name": "居民" + resident.phone_masked[-4:],
           "title": title, "body": text, "state": state}  # fmt: skip
    made = await asyncio.to_thread(forum(request).add, row, desk_of(request).clock())
    view = public_view(deps.city(request).city, made)
    await announce(request, _post_event(deps.city(request).city, made))
    if state == "held":
        return JSONResponse(
            {**view, "held": True, "notice": "内容含敏感词，待社区审核后显示"}, status_code=202
        )
    return JSONResponse({**view, "held": False}, status_code=201)


def _post_event(city: City, row: dict[str, Any], type_: str = "") -> Event:
    """A post's change for the live pages: to its community's board when it shows there, to the
    moderators when it waits for them (held) or was moderated."""
    code, state = row["area_code"] or "", row["state"]
    on_board = code in city.areas and city.areas[code].level == "community"  # not an article of a district
    kind = type_ or ("post.held" if state == "held" else f"{row['kind']}.posted")
    return community_event(kind, code, id=row["id"], kind=row["kind"], thread_id=row.get("thread_id"), state=state,
                           forum=code if on_board and state != "held" else None, staff=type_ != "" or state == "held")  # fmt: skip


async def post_thread(request: Request) -> Response:
    body = await json_body(request, required=True, limit=SMALL_BODY)
    title, text = _texts(request, body, title=True)
    community = community_of(deps.city(request).city, body.get("community"))
    fields = {"kind": "thread", "scope": scope_of(community.code), "area_code": community.code}
    return await _resident_post(request, fields, title, text)


async def post_reply(request: Request) -> Response:
    body = await json_body(request, required=True, limit=SMALL_BODY)
    _, text = _texts(request, body, title=False)
    post_id = request.path_params["id"]
    parent = await asyncio.to_thread(forum(request).get, post_id)
    if parent is None or parent["kind"] != "thread" or parent["state"] != "visible":
        raise ApiError(404, "没有这篇帖子", {"id": post_id})
    fields = {
        "kind": "reply",
        "thread_id": post_id,
        "scope": parent["scope"],
        "area_code": parent["area_code"],
    }
    return await _resident_post(request, fields, "", text)


async def report_post(request: Request) -> Response:
    resident = await resident_of(request)
    body = await json_body(request, required=False, limit=SMALL_BODY)
    try:
        reason = clean_text(body.get("reason", "不当内容"), "reason", 200)
    except BadPost as exc:
        raise bad(exc) from None
    records, post_id = forum(request), request.path_params["id"]
    row = await asyncio.to_thread(records.get, post_id)
    if row is None or row["state"] != "visible":
        raise ApiError(404, "没有这篇帖子", {"id": post_id})
    first = await asyncio.to_thread(records.report, post_id, resident.id, reason, desk_of(request).clock())
    if first:
        event = community_event("post.reported", row["area_code"] or "", id=post_id, kind=row["kind"], staff=True)
        await announce(request, event)
    return JSONResponse({"id": post_id, "reported": True, "first": first}, status_code=201 if first else 200)


# ------------------------------------------------------------------ moderators


def moderator_view(city: City, row: dict[str, Any]) -> dict[str, Any]:
    return {**public_view(city, row), "state": row["state"], "reports": row["reports"], "author": row["author"],
            "author_kind": row["author_kind"], "updated_at": row["updated_at"]}  # fmt: skip


async def queue(request: Request) -> Response:
    _, prefix = staff_area(request, request.query_params.get("area"))
    rows = await asyncio.to_thread(forum(request).queue, prefix)
    city = deps.city(request).city
    return JSONResponse({"items": [moderator_view(city, r) for r in rows]})


async def _moderated(request: Request) -> dict[str, Any]:
    """The post of the path if the caller moderates its community; 404 otherwise (as a missing one)."""
    principal, post_id = principal_of(request), request.path_params["id"]
    row = await asyncio.to_thread(forum(request).get, post_id)
    if row is None or not principal.sees_area(row["area_code"] or None):
        raise ApiError(404, "没有这篇帖子", {"id": post_id})
    return row


async def staff_post(request: Request) -> Response:
    row = await _moderated(request)
    trail = await asyncio.to_thread(forum(request).trail, row["id"])
    return JSONResponse({**moderator_view(deps.city(request).city, row), "trail": trail})


async def moderate(request: Request) -> Response:
    action = request.path_params["action"]
    if action not in ("hide", "restore"):
        raise ApiError(404, "没有这个操作", {"field": "action", "allowed": ["hide", "restore"]})
    row = await _moderated(request)
    body = await json_body(request, required=False, limit=SMALL_BODY)
    try:
        reason = clean_text(body.get("reason", ""), "reason", 200, 0)
    except BadPost as exc:
        raise bad(exc) from None
    principal = principal_of(request)
    was, state = (("visible", "held"), "hidden") if action == "hide" else (("hidden", "held"), "visible")
    done = await asyncio.to_thread(forum(request).moderate, row["id"], was, state, principal.user, principal.role,
                                   reason, desk_of(request).clock())  # fmt: skip
    if not done:
        raise ApiError(409, "帖子已是该状态", {"state": row["state"]})
    await audit.write(deps.store(request), audit.entry(principal.user, principal.role, f"post.{action}", row["id"],
                                                       audit.client_ip(request), reason))  # fmt: skip
    verb = "hidden" if action == "hide" else "restored"
    await announce(request, _post_event(deps.city(request).city, {**row, "state": state}, f"post.{verb}"))
    return JSONResponse({"id": row["id"], "state": state})


async def ban(request: Request) -> Response:
    principal = principal_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    city, config = deps.city(request).city, deps.config(request).community
    community = community_of(city, body.get("community"))
    if not principal.sees_area(community.code):
        raise ApiError(403, "不在您的管辖范围内", {"field": "community", "area": community.code})
    resident_id, days = body.get("resident_id"), body.get("days")
    if not isinstance(resident_id, str) or not resident_id.startswith("RS") or len(resident_id) > 32:
        raise ApiError(400, "resident_id 须为居民编号", {"field": "resident_id"})
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= config.ban_days_max:
        raise ApiError(400, f"days 为1到{config.ban_days_max}天", {"field": "days"})
    try:
        reason = clean_text(body.get("reason"), "reason", 200)
    except BadPost as exc:
        raise bad(exc) from None
    now = desk_of(request).clock()
    until = now + timedelta(days=days)
    records = forum(request)
    ban_id = await asyncio.to_thread(
        records.ban, resident_id, scope_of(community.code), until, reason, principal.user, now
    )
    await audit.write(deps.store(request), audit.entry(principal.user, principal.role, "resident.ban", resident_id,
                                                       audit.client_ip(request), f"{community.code} {days}d: {reason}"))  # fmt: skip
    return JSONResponse({"id": ban_id, "resident_id": resident_id, "community": community.code,
                         "until": until.isoformat(timespec="seconds")}, status_code=201)  # fmt: skip


async def publish(request: Request) -> Response:
    """A notice for a community (its officers), or an article for an area (the caller's by default)."""
    principal = principal_of(request)
    body = await json_body(request, required=True, limit=SMALL_BODY)
    title, text = _texts(request, body, title=True)
    city = deps.city(request).city
    if request.url.path.endswith("/notices"):
        area = community_of(city, body.get("community"))
        kind, code = "notice", area.code
    else:
        raw = body.get("area")
        levels = ("city", "district", "street", "community")
        code = area_or_400(city, raw, "area", levels).code if raw else ""
        kind = "article"
        if not raw and principal.jurisdiction:
            raise ApiError(400, "area 必填：您的文章须发布到管辖范围内的区域", {"field": "area"})
    if code and not principal.sees_area(code):
        field = "community" if kind == "notice" else "area"
        raise ApiError(403, "不在您的管辖范围内", {"field": field, "area": code})
    scope = "" if not code or city.areas[code].level == "city" else scope_of(code)
    author = city.areas[code].name if code else "市政府"
    row = {"kind": kind, "scope": scope, "area_code": code, "author_kind": "staff", "author": principal.user,
           "author_name": author, "title": title, "body": text, "state": "visible"}  # fmt: skip
    made = await asyncio.to_thread(forum(request).add, row, desk_of(request).clock())
    await audit.write(deps.store(request), audit.entry(principal.user, principal.role, f"{kind}.publish", made["id"],
                                                       audit.client_ip(request), title))  # fmt: skip
    await announce(request, _post_event(city, made))
    return JSONResponse(public_view(city, made), status_code=201)


routes: list[BaseRoute] = [
    Route("/api/community/notices", listing, methods=["GET"]),
    Route("/api/community/articles", listing, methods=["GET"]),
    Route("/api/community/threads", listing, methods=["GET"]),
    Route("/api/community/threads/{id}", thread, methods=["GET"]),
    Route("/api/community/search", search, methods=["GET"]),
    Route("/api/residents/me/threads", post_thread, methods=["POST"]),
    Route("/api/residents/me/threads/{id}/replies", post_reply, methods=["POST"]),
    Route("/api/residents/me/posts/{id}/report", report_post, methods=["POST"]),
    Route("/api/community-admin/queue", queue, methods=["GET"]),
    Route("/api/community-admin/posts/{id}", staff_post, methods=["GET"]),
    Route("/api/community-admin/posts/{id}/{action:str}", moderate, methods=["POST"]),
    Route("/api/community-admin/bans", ban, methods=["POST"]),
    Route("/api/community-admin/notices", publish, methods=["POST"]),
    Route("/api/community-admin/articles", publish, methods=["POST"]),
]
