"""WHEP viewing: a camera's latest (annotated) image as a WebRTC video track.

Each viewer gets its own track and peer connection, and aiortc encodes per sender, so
a camera nobody watches costs nothing; the wall's tiles get sub-second latency that
MJPEG over HTTP cannot give at the same bandwidth.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from fractions import Fraction

import numpy as np
from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
from av import VideoFrame

from streams.webrtc import (
    PeerSessions,
    SdpError,
    Session,
    UnknownStream,
    WebRTCConfig,
    check_offer,
    inactivate_extra,
)

log = logging.getLogger(__name__)

CLOCK = 90_000  # RTP video clock
ImageFn = Callable[[], np.ndarray | None]


class LatestImageTrack(VideoStreamTrack):
    """Serves whatever `latest()` returns (BGR), paced at `fps` on the wall clock.

    A frame is sent on every tick even if the image did not change, so a viewer's
    decoder keeps running; a viewer that fell behind skips ticks instead of bursting.
    """

    def __init__(self, latest: ImageFn, fps: float, blank: tuple[int, int] = (360, 640)) -> None:
        super().__init__()
        self._latest = latest
        self._period = 1.0 / max(fps, 0.5)
        self._blank = np.zeros((*blank, 3), np.uint8)
        self._epoch: float | None = None
        self._due = 0.0
        self._last_pts = -1
        self.sent = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._epoch is None:
            self._epoch = self._due = now
        wait = self._due - now
        if wait > 0:
            await asyncio.sleep(wait)
        self._due = max(self._due + self._period, time.monotonic() - self._period)
        image = self._latest()
        if image is None:
            image = self._blank  # nothing yet: black, so the viewer's player starts anyway
        # Converting a large image takes milliseconds: keep it off the event loop.
        frame = await asyncio.to_thread(VideoFrame.from_ndarray, image, format="bgr24")
        pts = max(int((time.monotonic() - self._epoch) * CLOCK), self._last_pts + 1)
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = Fraction(1, CLOCK)
        self.sent += 1
        return frame


class WhepHub:
    """Answers WHEP viewers' offers for the configured cameras."""

    def __init__(self, cameras: Mapping[str, tuple[ImageFn, float]], config: WebRTCConfig) -> None:
        self.cameras = dict(cameras)  # camera id → (latest image, fps)
        self.sessions = PeerSessions("whep", config)

    async def view(
        self, camera_id: str, offer_sdp: str, on_end: Callable[[], None] | None = None
    ) -> tuple[str, str]:
        """Answer a viewer's offer → (answer SDP, session id). `on_end` runs when the session
        ends, however it ends; a negotiation that fails may run it before this raises."""
        source = self.cameras.get(camera_id)
        if source is None:
            raise UnknownStream(camera_id)
        check_offer(offer_sdp, video="receive")
        track = LatestImageTrack(*source)

        def prepare(session: Session) -> None:
            kept = inactivate_extra(session.pc, "video", "sendonly")
            if kept is None:
                raise SdpError("the offer has no video track")
            kept.sender.replaceTrack(track)
            session.on_end.append(track.stop)
            if on_end is not None:
                session.on_end.append(on_end)

        try:
            session, answer_sdp = await self.sessions.open(camera_id, offer_sdp, prepare)
        except BaseException:
            track.stop()
            raise
        log.info("whep: %s viewing %s", session.id, camera_id)
        return answer_sdp, session.id

    async def end(self, session_id: str) -> bool:
        return await self.sessions.end(session_id)

    def session_camera(self, session_id: str) -> str | None:
        session = self.sessions.get(session_id)
        return session.key if session else None

    async def close(self) -> None:
        await self.sessions.close()
