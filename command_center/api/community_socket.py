"""A resident's live socket for 服务超市 and 论坛 (command_center/community_live.py): the hub,
with their own `market:<id>` and the forum channel of the community their page shows as the only
channels they may subscribe. The chat keeps its own socket (api/chat.py): a page opens this one
only while it shows the marketplace or the forum.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket

from command_center.api import deps
from command_center.api.residents import current_resident
from command_center.community_live import forum_channel, market_channel
from command_center.hub_parts import Access


async def community_socket(websocket: WebSocket) -> None:
    """`?community=` (a community's code; anything else: no forum channel). Not signed in as a
    resident: closed with 4401."""
    resident = await current_resident(websocket)
    if resident is None:
        await websocket.close(code=4401, reason="sign in as a resident")
        return
    channels = {market_channel(resident.id)}
    area = deps.city(websocket).city.areas.get(websocket.query_params.get("community", ""))
    if area is not None and area.level == "community":
        channels.add(forum_channel(area.code))
    await deps.hub(websocket).serve(websocket, Access("", frozenset(channels), resident.id, "resident"))


routes: list[BaseRoute] = [WebSocketRoute("/api/residents/me/community/ws", community_socket)]
