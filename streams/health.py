"""Per-source health: state, rates, drops, reconnects, last error."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


class RateMeter:
    """Events per second over a sliding window."""

    def __init__(self, window_s: float = 5.0) -> None:
        self.window_s = window_s
        self._times: deque[float] = deque()

    def tick(self, now: float) -> None:
        self._times.append(now)
        self._trim(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        self._trim(now)
        if len(self._times) < 2:
            return 0.0
        return round((len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-6), 2)

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()


@dataclass
class SourceHealth:
    stall_after_s: float = 5.0
    offline_after_s: float = 15.0
    connected: bool = False
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    reconnects: int = 0
    last_error: str | None = None
    last_frame_at: float | None = None  # monotonic
    started_at: float = field(default_factory=time.monotonic)
    fps_in: RateMeter = field(default_factory=RateMeter)
    fps_out: RateMeter = field(default_factory=RateMeter)

    def state(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        if self.last_frame_at is None:
            # Never seen a frame: starting, unless an attempt already failed or it took too long.
            failed = self.last_error is not None and not self.connected
            return "offline" if failed or now - self.started_at >= self.offline_after_s else "starting"
        age = now - self.last_frame_at
        if age < self.stall_after_s:
            return "online"
        return "stalled" if age < self.offline_after_s and self.connected else "offline"

    def snapshot(self) -> dict[str, object]:
        now = time.monotonic()
        return {
            "state": self.state(now),
            "fps_in": self.fps_in.rate(now),
            "fps_out": self.fps_out.rate(now),
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,  # taken by vision: a throughput count that survives sampling
            "dropped": self.dropped,
            "last_frame_age_s": None if self.last_frame_at is None else round(now - self.last_frame_at, 2),
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }
