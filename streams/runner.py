"""Runs one source on its own thread into a latest-frame slot, reconnecting forever.

The newest frame wins: a frame that nobody took before the next one arrived is
counted as dropped, never queued, so a slow detector never makes a source buffer.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable

from streams.base import Frame, Source
from streams.health import SourceHealth

log = logging.getLogger(__name__)


class SourceRunner:
    def __init__(
        self,
        camera_id: str,
        factory: Callable[[], Source],
        health: SourceHealth | None = None,
        backoff_s: tuple[float, float] = (0.5, 10.0),
    ) -> None:
        self.camera_id = camera_id
        self.factory = factory
        self.health = health or SourceHealth()
        self.backoff_s = backoff_s
        self._latest: Frame | None = None
        self._taken = True
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"source-{camera_id}", daemon=True)
        # The source being read, while one is open: a simulated camera's scene can be reached
        # through it (the demo's workers clear what they handled).
        self.source: Source | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.ident is not None:  # a runner that never started has nothing to join
            self._thread.join(timeout)

    @property
    def latest(self) -> Frame | None:
        return self._latest

    def take(self, after_index: int = -1, timeout: float = 1.0) -> Frame | None:
        """The newest frame with an index above `after_index`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.index <= after_index:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stop.is_set():
                    return None
                self._cond.wait(remaining)
            self._taken = True
            self.health.frames_out += 1
            self.health.fps_out.tick(time.monotonic())
            return self._latest

    def _run(self) -> None:
        delay = self.backoff_s[0]
        index = 0
        while not self._stop.is_set():
            source: Source | None = None
            try:
                source = self.factory()
                source.open()
                self.source = source
                self.health.connected = True
                while not self._stop.is_set():
                    frame = source.read()
                    # Reconnects must not reset the index: consumers track it.
                    frame = _renumber(frame, index)
                    index += 1
                    self._publish(frame)
                    delay = self.backoff_s[0]
            except Exception as exc:  # any failure of a feed means: reconnect
                error = f"{type(exc).__name__}: {exc}"
                # The same failure again (a server that stays down) is not news: log it once.
                level = logging.DEBUG if error == self.health.last_error else logging.WARNING
                self.health.last_error = error
                log.log(level, "source %s failed: %s", self.camera_id, error)
            finally:
                self.health.connected = False
                self.source = None
                if source is not None:
                    try:
                        source.close()
                    except Exception:
                        log.exception("closing source %s", self.camera_id)
            if self._stop.is_set():
                break
            self.health.reconnects += 1
            # Full jitter keeps many cameras of one server from reconnecting in lockstep.
            self._stop.wait(random.uniform(0, delay))
            delay = min(delay * 2, self.backoff_s[1])

    def _publish(self, frame: Frame) -> None:
        now = time.monotonic()
        with self._cond:
            if not self._taken:
                self.health.dropped += 1
            self._latest = frame
            self._taken = False
            self._cond.notify_all()
        self.health.frames_in += 1
        self.health.last_frame_at = now
        self.health.fps_in.tick(now)


def _renumber(frame: Frame, index: int) -> Frame:
    if frame.index == index:
        return frame
    return Frame(frame.image, frame.ts, index, frame.wall_ts, frame.telemetry, frame.truth)
