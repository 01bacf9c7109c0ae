"""Time for the FFmpeg sources (streams/av.py): continuous media seconds, which frames to
hand on, pacing for files and HLS, the skip that keeps a live feed current, and the
watchdog that calls a feed hung.
"""

from __future__ import annotations

import time

from streams.base import SourceError

# Further behind the sender than this, a live feed drops packets up to the next keyframe.
MAX_LAG_S = 1.0
# A skip that has not caught up by then means our lag estimate is off: take the keyframe.
_SKIP_GIVE_UP_S = 3.0


class MediaClock:
    """Continuous media seconds from frame timestamps, across loops and timestamp jumps."""

    def __init__(self, step_s: float) -> None:
        self.step_s = step_s
        self._base: float | None = None
        self._offset = 0.0
        self.last: float | None = None
        self.jumped = False

    def peek(self, pts_s: float | None) -> float | None:
        if pts_s is None or self._base is None:
            return None
        return self._offset + pts_s - self._base

    def time_of(self, pts_s: float | None) -> float:
        self.jumped = False
        t = self.peek(pts_s)
        if pts_s is None:
            t = 0.0 if self.last is None else self.last + self.step_s
        elif t is None or (self.last is not None and not self.last - 1.0 < t < self.last + 10.0):
            # A sender restart or RTCP resync: carry on from where we were.
            self.jumped = self.last is not None
            self._offset = 0.0 if self.last is None else self.last + self.step_s
            self._base = pts_s
            t = self._offset
        self.last = t if self.last is None else max(self.last, t)
        return t

    def restart(self) -> None:
        """A file looped: its timestamps start again, time goes on."""
        self._base = None


class Sampler:
    """One frame per interval of media time, on a fixed grid that restarts after a gap."""

    def __init__(self, interval_s: float, tolerance_s: float) -> None:
        self.interval_s = interval_s
        self.tolerance_s = tolerance_s
        self._next: float | None = None

    def due(self, t: float) -> bool:
        if self._next is not None and t + self.tolerance_s < self._next:
            return False
        late = self._next is None or t > self._next + self.interval_s
        self._next = (t if late or self._next is None else self._next) + self.interval_s
        return True


class Catchup:
    """A live feed's lag behind its sender, and the skip to a keyframe when it grows.

    Lag is measured against the least-delayed frame so far (arrival minus media time), so
    it needs no clock shared with the sender.
    """

    def __init__(self) -> None:
        self._base: float | None = None
        self._since: float | None = None

    @property
    def skipping(self) -> bool:
        return self._since is not None

    def fell_behind(self, t: float, now: float, jumped: bool) -> bool:
        if self._base is None or jumped or now - t < self._base:
            self._base = now - t
        if now - t - self._base > MAX_LAG_S:
            self._since = now
            return True
        return False

    def resume_at(self, keyframe: bool, t_key: float | None, now: float) -> bool:
        """Whether to decode this packet again: a keyframe close enough to now, or of unknown age."""
        assert self._since is not None
        if not keyframe:
            return False
        behind = t_key is not None and self._base is not None and now - t_key - self._base > MAX_LAG_S / 2
        if behind and now - self._since < _SKIP_GIVE_UP_S:
            return False
        if behind:
            self._base = None  # gave up waiting: the estimate was off, start it afresh
        self._since = None
        return True


class Pacer:
    """Hands frames on at the media's own speed (files and HLS, which the demuxer would
    otherwise read as fast as it can)."""

    def __init__(self) -> None:
        self._base: float | None = None  # monotonic time of media second 0

    def wait(self, t: float, now: float) -> None:
        if self._base is None or now - (self._base + t) > 1.0:
            self._base = now - t  # first frame, or far behind: no burst to catch up
        time.sleep(max(0.0, self._base + t - time.monotonic()))


class Watchdog:
    """A feed is hung when no newer frame has come for `timeout_s`. Progress is a frame
    later in media time than any before: a sender replaying old frames makes none."""

    def __init__(self, name: str, timeout_s: float) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self.progress_at = time.monotonic()
        self.best_t = float("-inf")
        self.bad = 0  # undecodable packets in a row

    def check(self, decoded: int) -> float:
        """Now (monotonic), unless the feed has hung: then SourceError."""
        now = time.monotonic()
        if now - self.progress_at > self.timeout_s:
            raise SourceError(
                f"{self.name}: no new frame for {now - self.progress_at:.1f} s (feed hung; "
                f"{decoded} frames decoded, {self.bad} bad packets since open)"
            )
        return now

    def saw(self, t: float, now: float) -> None:
        if t > self.best_t:
            self.progress_at, self.best_t = now, t
