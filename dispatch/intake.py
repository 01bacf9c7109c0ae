"""What dispatch takes in: one shape for video incidents, citizen and worker reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Intake:
    source: str  # video, citizen, worker, emergency
    lon: float
    lat: float
    ts: datetime
    ref_id: str | None = None  # the incident or report this came from
    rule: str | None = None
    label: str | None = None
    matter_code: str | None = None  # set by a human reporter; otherwise matched from rule/label
    description: str = ""
    snapshot_url: str | None = None  # ours only: an incident's snapshot or an uploaded photo
    external_media_url: str | None = None  # a reporter's link elsewhere: never fetched, never a snapshot
    device: tuple[str, str | None, str] | None = None  # an IoT alarm's device: id, name, kind
