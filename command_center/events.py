"""The one message shape that crosses the bus."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    topic: str  # incidents, cases, cameras, drones...
    type: str  # incident.created, case.updated...
    data: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ts: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "topic": self.topic, "type": self.type, "ts": self.ts, "data": self.data}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Event:
        return cls(topic=raw["topic"], type=raw["type"], data=raw["data"], id=raw["id"], ts=raw["ts"])
