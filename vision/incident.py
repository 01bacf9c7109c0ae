"""What vision hands downstream: an incident with its evidence."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from vision.detectors.base import Box


def new_incident_id(wall_ts: float) -> str:
    return f"I{int(wall_ts * 1000):013d}-{secrets.token_hex(3)}"


@dataclass(frozen=True, slots=True)
class Incident:
    camera_id: str
    ts: float  # wall-clock seconds of the frame
    rule: str
    zone: str
    label: str
    score: float
    box: Box
    lon: float
    lat: float
    track_id: int
    snapshot_jpeg: bytes = field(repr=False)
    id: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", new_incident_id(self.ts))
