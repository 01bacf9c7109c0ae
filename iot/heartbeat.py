"""Which devices have gone silent: a device not heard from for longer than its heartbeat window
(its kind's, iot/kinds.py, or its own from the registry) is offline; a reading brings it back.

Pure: the caller gives each device's `last_seen`, its window and `now`, and the set it already
holds offline, and gets the changes to act on (mark the device, raise or close a maintenance
case). `next_due` says when the next device can go offline, so that the caller sleeps until then
rather than scanning 10,000 devices every second.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

Presence = Literal["online", "offline", "never_seen"]


@dataclass(frozen=True, slots=True)
class Change:
    device_id: str
    state: Literal["offline", "online"]
    at: datetime  # offline: when the window ran out (last_seen + window); online: the reading's time


def presence(last_seen: datetime | None, window_s: float, now: datetime) -> Presence:
    """A device is offline once `now` is past `last_seen + window_s`. One never heard from is
    neither: give its registration time as `last_seen` to have it go offline if it never reports."""
    if last_seen is None:
        return "never_seen"
    return "offline" if now - last_seen > timedelta(seconds=window_s) else "online"


def changes(
    offline: Set[str],
    last_seen: Mapping[str, datetime | None],
    windows: Mapping[str, float],
    now: datetime,
) -> list[Change]:
    """The devices of `last_seen` that went offline (not yet in `offline`) or came back (in it)."""
    out: list[Change] = []
    for device_id, seen in last_seen.items():
        if seen is None:
            continue
        state = presence(seen, windows[device_id], now)
        if state == "offline" and device_id not in offline:
            out.append(Change(device_id, "offline", seen + timedelta(seconds=windows[device_id])))
        elif state == "online" and device_id in offline:
            out.append(Change(device_id, "online", seen))
    return out


def next_due(
    offline: Set[str], last_seen: Mapping[str, datetime | None], windows: Mapping[str, float]
) -> datetime | None:
    """When the next device now online would go offline, if none reports before; None when none can."""
    due = [
        seen + timedelta(seconds=windows[device_id])
        for device_id, seen in last_seen.items()
        if seen is not None and device_id not in offline
    ]
    return min(due, default=None)
