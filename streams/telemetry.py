"""The latest position of each moving camera (a drone, a phone), whoever reported it.

Telemetry reaches us apart from the video: over a WHIP session's `telemetry` data
channel, or over HTTP for a drone whose video comes through an RTMP relay. Both
write here, keyed by camera id; sources read it when they make a frame, so an
incident is located where the camera was, not where it was configured.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

from streams.base import Frame, Source, Telemetry


class TelemetryStore:
    """Thread-safe: written on the event loop, read on each source's thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, Telemetry] = {}

    def set(self, camera_id: str, telemetry: Telemetry) -> None:
        with self._lock:
            self._latest[camera_id] = telemetry

    def get(self, camera_id: str) -> Telemetry | None:
        with self._lock:
            return self._latest.get(camera_id)

    def clear(self, camera_id: str) -> None:
        with self._lock:
            self._latest.pop(camera_id, None)


# One per process: a source is built from its config alone (see streams.registry), so
# it cannot be handed a store; the HTTP endpoint, the WHIP sessions and the sources
# meet here instead.
TELEMETRY = TelemetryStore()


def _number(body: Mapping[str, Any], key: str, low: float, high: float, default: float | None = None) -> float:
    if key not in body or body[key] is None:
        if default is None:
            raise ValueError(f"{key!r} is required")
        return default
    value = body[key]
    # bool is an int in Python; true/false for a coordinate is a client bug, not 1/0.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key!r} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{key!r} must be within {low:g}..{high:g}, got {value}")
    return value


def parse_telemetry(body: Any, now: float | None = None) -> Telemetry:
    """`{lat, lon, alt?, heading?, ts?}` → Telemetry; ValueError names the bad field."""
    if not isinstance(body, Mapping):
        raise ValueError("expected a JSON object {lat, lon, alt?, heading?, ts?}")
    unknown = sorted(set(body) - {"lat", "lon", "alt", "heading", "ts"})
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(map(str, unknown))}")
    now = time.time() if now is None else now
    ts = _number(body, "ts", 0, 1e14, default=now)
    if ts > 1e11:
        ts /= 1000.0  # a browser's Date.now() is in milliseconds
    return Telemetry(
        lat=_number(body, "lat", -90, 90),
        lon=_number(body, "lon", -180, 180),
        alt=_number(body, "alt", -1000, 100_000, default=0.0),
        heading=_number(body, "heading", -360, 720, default=0.0) % 360.0,
        ts=ts,
    )


class TelemetrySource:
    """Wraps any source so each frame without its own telemetry carries the latest stored one."""

    def __init__(self, source: Source, camera_id: str, store: TelemetryStore = TELEMETRY) -> None:
        self.source = source
        self.camera_id = camera_id
        self.store = store

    def open(self) -> None:
        self.source.open()

    def read(self) -> Frame:
        frame = self.source.read()
        if frame.telemetry is not None:
            return frame  # the feed's own (e.g. a simulated drone's) is exact for this frame
        telemetry = self.store.get(self.camera_id)
        return frame if telemetry is None else dataclasses.replace(frame, telemetry=telemetry)

    def close(self) -> None:
        self.source.close()


def with_telemetry(source: Source, camera_id: str, store: TelemetryStore = TELEMETRY) -> Source:
    return TelemetrySource(source, camera_id, store)
