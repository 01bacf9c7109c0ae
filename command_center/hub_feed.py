"""bus → hub: each bus event becomes the posts clients receive.

An event goes to the channel of its topic; a case with an assignee goes to that worker's
own channel `tasks:<worker>` as well (`task_posts`), and so do the emergency tasks of
each worker they were given to: the terminal listens there alone. Video verifications: their
rows' changes only (`verification.updated`, located by the case's grid). Overdue care visits
(`care.overdue`, ids and levels only: a person's group is not said) go to the hall by grid
and to the paired worker's own channel.
Each post carries the area of its event, computed once here, which the hub compares
with each client's jurisdiction.
"""

from __future__ import annotations

from typing import Any

from command_center.auth.scoping import Locate, event_area
from command_center.bus import batches
from command_center.camera_checks import TOPIC as VERIFICATIONS
from command_center.camera_checks import UPDATED as VERIFICATION_UPDATED
from command_center.camera_status import Cameras
from command_center.community_live import TOPIC as COMMUNITY
from command_center.community_live import community_posts
from command_center.emergency.service import BRIEF_KEYS
from command_center.events import Event
from command_center.hub import Hub
from command_center.hub_history import Post

TOPICS = ["incidents", "cases", "cameras", "drones", "grids", "hotspots", "emergency", "verifications", "care", "devices"]
TOPICS += [COMMUNITY]  # 服务超市 and 论坛: each event to its audiences only (community_live.py)

HUB_BATCH = 256  # most events numbered per round trip to a shared (Redis) hub history
ASSIGNING = ("dispatch", "return", "transfer", "reassign")  # case actions that hand a task to its assignee


def emergency_task_posts(event: Event, area: str | None) -> list[Post]:
    """An emergency mode whose tasks changed, for each worker it names (`task_assignees`):
    `emergency.task` with the mode in brief and that worker's tasks in it (none: it was
    taken from them; the mode ended: `ended_at` is set). The terminal replaces what it
    showed of that mode with them (ui/terminal/emergency_tasks.js)."""
    workers = event.data.get("task_assignees") or ()
    if not workers:
        return []
    brief = {key: event.data.get(key) for key in BRIEF_KEYS}
    tasks = event.data.get("tasks") or []
    posts = []
    for worker in workers:
        # Named to them, or to a team they were in when it was given (the snapshot in `workers`).
        mine = [t for t in tasks if worker in (t.get("workers") or ())]
        posts.append(Post(event.id, f"tasks:{worker}", "emergency.task", {"mode": brief, "tasks": mine}, area))
    return posts


def task_posts(event: Event, area: str | None) -> list[Post]:
    """A case event for the assignee's own channel: `task.assigned` when the case was
    just handed to them (a new case, a dispatch, return, transfer or reassignment), else
    `task.updated`; and `task.removed` to whoever it was taken from. Emergency tasks:
    `emergency_task_posts`."""
    if event.topic == "emergency":
        return emergency_task_posts(event, area)
    if event.topic == "care":  # an overdue visit: the worker paired with the person hears it too
        paired = event.data.get("paired_with")
        return [Post(event.id, f"tasks:{paired}", event.type, event.data, area)] if paired else []
    if event.topic != "cases":
        return []
    posts = []
    previous = event.data.get("previous_assignee")
    if previous:
        posts.append(Post(event.id, f"tasks:{previous}", "task.removed", event.data, area))
    assignee = event.data.get("assignee")
    if assignee:
        timeline = event.data.get("timeline") or [{}]
        assigned = event.type == "case.created" or timeline[-1].get("action") in ASSIGNING
        kind = "task.assigned" if assigned else "task.updated"
        posts.append(Post(event.id, f"tasks:{assignee}", kind, event.data, area))
    return posts


async def feed_hub(subscription: Any, hub: Hub, area_of: Locate, cameras: Cameras) -> None:
    """Relay the bus to the hub, in batches (one history round trip per batch), until
    the subscription ends. A worker's camera status is noted for the camera views too."""
    async for events in batches(subscription, HUB_BATCH):
        posts = []
        for event in events:
            if event.topic == VERIFICATIONS and event.type != VERIFICATION_UPDATED:
                continue  # requests, cancellations and verdicts are between the service and the cameras
            if event.topic == COMMUNITY:
                posts.extend(community_posts(event))
                continue
            if event.type == "camera.status":
                cameras.note_worker_status(event.data)
            area = event_area(event.topic, event.data, area_of)
            posts.append(Post(event.id, event.topic, event.type, event.data, area))
            posts.extend(task_posts(event, area))
        await hub.publish_all(posts)
