"""A conversation turned into a case in one tap (转为案件): the resident's words, the last
location they sent (else the grid's centre) and their photos become a citizen case of the
conversation's grid, through the dispatcher's intake like any report; the conversation is
linked to it, and both sides see "已转为案件 #…" as a system message."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from command_center.api import deps
from command_center.api.cases import MAX_NOTE, case_photos
from command_center.api.errors import ApiError
from command_center.auth.principal import Principal
from command_center.chat_service import desk_of, post
from dispatch.dispatcher import UnknownMatter
from dispatch.intake import Intake

READ_BACK = 200  # the conversation's latest messages that make the case


def default_matter(request: Request) -> str:
    """The catalog's first "其他" matter a worker handles (else its first): the desk reclassifies."""
    items = list(deps.catalog(request).items)
    if not items:
        raise ApiError(409, "没有可用的事项类型", {"field": "matter_code"})
    other = [m for m in items if str(m.klass) == "其他"]
    return str((other or items)[0].code)


def _gather(
    request: Request, conversation: dict[str, Any], messages: list[dict[str, Any]]
) -> tuple[str, float, float, list[str]]:
    """(description, lon, lat, photo ids) from the resident's messages."""
    words = [m["body"] for m in messages if m["sender_kind"] == "resident" and m["kind"] == "text"]
    text = "居民留言：" + "；".join(words) if words else "居民通过网格员客服窗口反映"
    grid = deps.city(request).city.areas[conversation["grid_code"]]
    lon, lat = grid.lon, grid.lat
    index = deps.city(request).index
    for m in reversed(messages):
        if m["sender_kind"] == "resident" and m["lon"] is not None:
            found = index.locate(m["lon"], m["lat"])
            if found is not None and found.grid_code == conversation["grid_code"]:
                lon, lat = m["lon"], m["lat"]
                break
    photos = [m["photo_id"] for m in messages if m["sender_kind"] == "resident" and m["photo_id"]]
    return text[:MAX_NOTE], lon, lat, photos


async def to_case(
    request: Request, who: Principal, conversation: dict[str, Any], matter: Any
) -> dict[str, Any]:
    """The case made (or the open one it joined); 409 when the conversation has one already."""
    if conversation["case_id"]:
        raise ApiError(409, f"已转为案件 #{conversation['case_id']}", {"case_id": conversation["case_id"]})
    if matter is not None and (not isinstance(matter, str) or not matter):
        raise ApiError(400, "bad field 'matter_code'", {"field": "matter_code"})
    desk = desk_of(request)
    messages = await asyncio.to_thread(desk.records.history, conversation["id"], None, 0, READ_BACK)
    text, lon, lat, photos = _gather(request, conversation, messages)
    dispatcher, casework = deps.dispatcher(request), deps.casework(request)
    intake = Intake("citizen", lon, lat, dispatcher.clock(), ref_id=conversation["id"],
                    matter_code=matter or default_matter(request), description=text)  # fmt: skip
    try:
        result = await asyncio.to_thread(dispatcher.intake, intake)
    except UnknownMatter as exc:
        raise ApiError(
            400, "unknown matter_code", {"field": "matter_code", "matter_code": exc.code}
        ) from None
    case = result.case
    if not await asyncio.to_thread(desk.records.set_case, conversation["id"], str(case.id)):
        raise ApiError(409, "该会话已转为案件", {"id": conversation["id"]})
    store = case_photos(request)
    for photo_id in photos:  # the resident's photos go with the case, as a report's would
        path = desk.photos.path(conversation["id"], photo_id)
        if path is not None:
            await asyncio.to_thread(store.save, str(case.id), await asyncio.to_thread(path.read_bytes))
    await casework.publish_case(case, created=result.created)
    linked = conversation | {"case_id": str(case.id)}
    await post(request, linked, "system", who.actor, "system", f"已转为案件 #{case.id}")
    return casework.case_view(case) | {"created": result.created, "conversation_id": conversation["id"]}
