"""服务超市 and 论坛 live (issue 22): what changes is published on the bus under the topic
`community` (so every node's hub hears it), and the hub feed (hub_feed.py) hands each event
to its audiences only, never to the topic's channel as a whole:

- `market:<resident id>`: a resident's own service requests (made, accepted, declined, done,
  rated), for a provider the requests for their services, and their provider profile's verdict;
- `forum:<community code>`: a community's new notices, threads and replies, and posts hidden
  or restored: what its public notice board shows;
- `community`: the staff's queues (provider applications; posts reported, held, hidden or
  restored) under the area's code, so that the hub gives each staff socket (/ws) only its
  jurisdiction's, as the hall's `chats` is scoped by grid.

A resident hears the first two on their community socket (/api/residents/me/community/ws,
api/marketplace.py). Messages carry ids and states only, never names or texts: a page re-reads
the list it shows on an event, so what a message says never outlives a hidden post.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from command_center.auth.principal import UNLOCATED
from command_center.events import Event
from command_center.hub_history import Post

TOPIC = "community"
STAFF_CHANNEL = TOPIC
MARKET_CHANNEL = re.compile(r"market:RS[0-9a-f]{16}")
FORUM_CHANNEL = re.compile(r"forum:[0-9]{15}")


def market_channel(resident_id: str) -> str:
    return f"market:{resident_id}"


def forum_channel(community_code: str) -> str:
    return f"forum:{community_code}"


def community_event(
    type_: str,
    area: str,
    *,
    residents: Iterable[str] = (),
    forum: str | None = None,
    staff: bool = False,
    **data: Any,
) -> Event:
    """An event for the bus: `area` (a grid or community code) scopes it for staff; `residents`
    hear it on their own channels, `forum` names the community whose board shows it."""
    to = {"residents": sorted(set(residents)), "forum": forum, "staff": staff}
    return Event(TOPIC, type_, {**data, "area_code": area, "to": to})


def community_posts(event: Event) -> list[Post]:
    """The hub's messages of a `community` event: one per audience it names, without the
    audience list itself (a resident is not told who else heard it)."""
    raw = event.data.get("to")
    to: dict[str, Any] = raw if isinstance(raw, dict) else {}
    data = {key: value for key, value in event.data.items() if key != "to"}
    area = event.data.get("area_code")
    area = area if isinstance(area, str) and area else UNLOCATED
    channels = [market_channel(r) for r in to.get("residents") or () if isinstance(r, str)]
    forum = to.get("forum")
    if isinstance(forum, str) and forum:
        channels.append(forum_channel(forum))
    if to.get("staff"):
        channels.append(STAFF_CHANNEL)
    return [Post(event.id, name, event.type, data, area) for name in channels if known(name)]


def known(name: str) -> bool:
    """A resident's market channel or a community's forum channel (hub_parts.known_channel)."""
    return MARKET_CHANNEL.fullmatch(name) is not None or FORUM_CHANNEL.fullmatch(name) is not None or name == TOPIC
