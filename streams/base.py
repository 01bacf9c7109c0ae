"""What every source produces and the one Protocol every source kind implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True, slots=True)
class Telemetry:
    """Where a moving camera (a drone, a phone) was when it took a frame."""

    lat: float
    lon: float
    alt: float = 0.0
    heading: float = 0.0
    ts: float = 0.0  # wall-clock seconds (time.time()) as reported by the publisher


@dataclass(frozen=True, slots=True)
class Frame:
    image: np.ndarray  # BGR, HxWx3, uint8
    ts: float  # time.monotonic() when the frame was taken; increases per source
    index: int  # 0, 1, 2... per source (a reconnect does not reset it)
    wall_ts: float  # time.time() at the same instant, for display and incidents
    telemetry: Telemetry | None = None
    # Ground truth for rendered frames (sim only): [(class name, (x1, y1, x2, y2)), ...]
    truth: tuple[tuple[str, tuple[float, float, float, float]], ...] = field(default=())


class SourceError(RuntimeError):
    """A source could not open or lost its feed; the runner reconnects."""


@runtime_checkable
class Source(Protocol):
    """A camera feed. `read` blocks until the next frame is due and returns it.

    Sources pace themselves (a file or a simulation at its fps, a network feed at
    the sender's rate); the runner keeps only the newest frame.
    """

    def open(self) -> None: ...

    def read(self) -> Frame: ...

    def close(self) -> None: ...
