"""WHIP ingest: a drone or a phone publishes over WebRTC; its video becomes a camera.

    POST /whip/drone-7 (SDP offer)  →  WhipHub.publish  →  IngestSlot("drone-7")
    camera {kind: whip, url: whip://drone-7}  →  WhipSource.read  →  SourceRunner

The hub lives on the event loop (aiortc); the source is read on its runner's thread.
They meet in a per-stream slot that holds only the newest decoded frame, so a slow
reader never makes the publisher's video queue up. A `telemetry` data channel carries
`{lat, lon, alt, heading, ts}`; each frame carries the latest position.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcdatachannel import RTCDataChannel
from av import VideoFrame

from streams.base import Frame, Source, SourceError
from streams.config import SourceConfig
from streams.registry import register
from streams.telemetry import TELEMETRY, TelemetryStore, parse_telemetry
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

# Long waits mean few idle reconnect cycles (and fewer runner backoff sleeps in which a new
# publisher would have to wait); both stay under the runner's 5 s stop timeout.
PUBLISHER_WAIT_S = 4.0
FRAME_WAIT_S = 4.0


def stream_id_of(url: str) -> str:
    """`whip://drone-7` → `drone-7`; ValueError for anything else."""
    parts = urlsplit(url.strip())
    stream_id = parts.netloc or parts.path.strip("/")
    if parts.scheme.lower() != "whip" or not stream_id:
        raise ValueError(f"not a whip://STREAM_ID URL: {url!r}")
    if parts.query or "/" in stream_id or not all(c.isalnum() or c in "_.-" for c in stream_id):
        raise ValueError(f"bad stream id in {url!r}: use letters, digits, '_', '.', '-'")
    return stream_id


@dataclass(frozen=True, slots=True)
class _Received:
    seq: int
    frame: VideoFrame
    at: float  # time.monotonic() when it arrived
    wall: float


class IngestSlot:
    """The newest frame of one stream's current publisher, handed from the loop to a thread."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._publisher: str | None = None
        self._latest: _Received | None = None
        self._taken = True
        self._seq = 0
        self._epoch = 0
        self.received = 0
        self.overwritten = 0  # frames replaced before a reader took them (newest wins)

    @property
    def publisher(self) -> str | None:
        return self._publisher

    @property
    def seq(self) -> int:
        return self._seq

    def attach(self, session_id: str) -> None:
        with self._cond:
            self._publisher = session_id
            self._latest = None
            self._cond.notify_all()

    def detach(self, session_id: str) -> None:
        with self._cond:
            if self._publisher == session_id:  # a replaced session must not detach its successor
                self._publisher = None
                self._latest = None
                self._cond.notify_all()

    def wake(self) -> None:
        """Make every waiting reader give up now (shutdown)."""
        with self._cond:
            self._epoch += 1
            self._cond.notify_all()

    def put(self, session_id: str, frame: VideoFrame) -> None:
        with self._cond:
            if self._publisher != session_id:
                return
            if not self._taken:
                self.overwritten += 1
            self._seq += 1
            self._latest = _Received(self._seq, frame, time.monotonic(), time.time())
            self._taken = False
            self.received += 1
            self._cond.notify_all()

    def wait_publisher(self, timeout: float) -> bool:
        with self._cond:
            epoch = self._epoch
            return self._cond.wait_for(lambda: self._publisher is not None or self._epoch != epoch, timeout) and (
                self._publisher is not None
            )

    def take(self, after_seq: int, timeout: float) -> _Received:
        deadline = time.monotonic() + timeout
        with self._cond:
            epoch = self._epoch
            while True:
                if self._publisher is None:
                    raise SourceError("no publisher")
                if self._epoch != epoch:
                    raise SourceError("shutting down")
                latest = self._latest
                if latest is not None and latest.seq > after_seq:
                    self._taken = True
                    return latest
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SourceError(f"publisher sent no video for {timeout:g} s")
                self._cond.wait(remaining)


_slots: dict[str, IngestSlot] = {}
_slots_lock = threading.Lock()


def ingest_slot(stream_id: str) -> IngestSlot:
    """The process's one slot per stream id: sources are built from config alone and find
    their publisher here, whichever app instance accepted it."""
    with _slots_lock:
        slot = _slots.get(stream_id)
        if slot is None:
            slot = _slots[stream_id] = IngestSlot()
        return slot


class WhipSource:
    """A camera fed by WHIP publishers: waits for one, then samples its video at `fps`."""

    def __init__(self, camera_id: str, stream_id: str, fps: float, telemetry: TelemetryStore = TELEMETRY) -> None:
        self.camera_id = camera_id
        self.stream_id = stream_id
        self.slot = ingest_slot(stream_id)
        self.period = 1.0 / fps
        self.telemetry = telemetry
        self._seq = 0
        self._due = 0.0
        self._index = 0

    def open(self) -> None:
        if not self.slot.wait_publisher(PUBLISHER_WAIT_S):
            raise SourceError("no publisher")
        # Only frames from now on: one left from before a reconnect is stale, not live.
        self._seq = self.slot.seq
        self._due = time.monotonic()

    def read(self) -> Frame:
        # Sample at the camera's fps: frames in between are never converted, only replaced.
        wait = self._due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        got = self.slot.take(self._seq, FRAME_WAIT_S)
        self._seq = got.seq
        image = got.frame.to_ndarray(format="bgr24")
        now = time.monotonic()
        self._due = max(self._due + self.period, now - self.period)
        frame = Frame(image, got.at, self._index, got.wall, self.telemetry.get(self.camera_id))
        self._index += 1
        return frame

    def close(self) -> None:
        pass  # the publisher's session belongs to the hub, not to this reader


@register("whip")
def _from_config(config: SourceConfig) -> Source:
    return WhipSource(config.id, stream_id_of(config.url), config.fps)


class Occupied(Exception):
    """The stream has a live publisher that this one may not replace."""

    def __init__(self, stream_id: str, owner: str) -> None:
        super().__init__(f"{stream_id} is live from another publisher")
        self.stream_id = stream_id
        self.owner = owner


@dataclass(frozen=True, slots=True)
class Published:
    answer_sdp: str
    session_id: str
    replaced: tuple[str, str] | None  # (session id, owner) of the publisher this one ended


class WhipHub:
    """Accepts WHIP publishes for the configured streams; one live publisher per stream.

    Each session has an owner (whoever's credential opened it, e.g. `key:<id>` or
    `user:<name>`); a new publisher replaces the live one only where `may_replace` allows
    for the live one's owner. Telemetry from the data channel moves only `mobile` cameras.
    """

    def __init__(
        self,
        streams: Mapping[str, str],
        config: WebRTCConfig,
        telemetry: TelemetryStore = TELEMETRY,
        mobile: Iterable[str] = (),
    ) -> None:
        self.streams = dict(streams)  # stream id → camera id
        self.config = config
        self.telemetry = telemetry
        self.mobile = set(mobile)  # camera ids whose position telemetry may change
        self.sessions = PeerSessions("whip", config)
        self.owners: dict[str, str] = {}  # session id → owner
        self._why: dict[str, str] = {}  # session id → why it is being ended (for on_end)
        self.bad_telemetry = 0
        self.fixed_telemetry = 0  # positions dropped: the camera is not mobile

    def session_stream(self, session_id: str) -> str | None:
        session = self.sessions.get(session_id)
        return session.key if session else None

    def session_owner(self, session_id: str) -> str | None:
        return self.owners.get(session_id) if self.sessions.get(session_id) else None

    def live_owner(self, stream_id: str) -> tuple[str, str] | None:
        """(session id, owner) of the stream's live publisher, if any."""
        session_id = ingest_slot(stream_id).publisher
        if session_id is None or self.sessions.get(session_id) is None:
            return None
        return session_id, self.owners.get(session_id, "")

    def check_replace(self, stream_id: str, may_replace: Callable[[str], bool]) -> tuple[str, str] | None:
        """The live publisher a new one would end; Occupied when `may_replace` refuses its owner."""
        live = self.live_owner(stream_id)
        if live is not None and not may_replace(live[1]):
            raise Occupied(stream_id, live[1])
        return live

    async def publish(
        self,
        stream_id: str,
        offer_sdp: str,
        owner: str = "",
        may_replace: Callable[[str], bool] = lambda _owner: True,
        on_end: Callable[[str], None] | None = None,
    ) -> Published:
        """Answer a publisher's offer. Replaces the live publisher where `may_replace` allows,
        else raises Occupied and leaves it streaming. `on_end(why)` runs when the session ends."""
        camera_id = self.streams.get(stream_id)
        if camera_id is None:
            raise UnknownStream(stream_id)
        check_offer(offer_sdp, video="send")
        self.check_replace(stream_id, may_replace)  # before any peer is made for nothing
        slot = ingest_slot(stream_id)

        def prepare(session: Session) -> None:
            kept = inactivate_extra(session.pc, "video", "recvonly")
            if kept is None:
                raise SdpError("the offer has no video track")
            session.pc.on("datachannel", lambda channel: self._on_channel(channel, camera_id))
            self.sessions.spawn(session, self._pump(session.id, kept.receiver.track, slot), "video")

        session, answer_sdp = await self.sessions.open(stream_id, offer_sdp, prepare)
        try:  # again: another publisher may have come while this one negotiated
            previous = self.check_replace(stream_id, may_replace)
        except Occupied:
            await self.sessions.end(session.id)
            raise
        self.owners[session.id] = owner
        slot.attach(session.id)

        def finished() -> None:
            slot.detach(session.id)
            self.owners.pop(session.id, None)
            why = self._why.pop(session.id, "the connection ended")
            if on_end is not None:
                on_end(why)

        session.on_end.append(finished)
        if previous is not None and previous[0] != session.id:
            await self.end(previous[0], f"replaced by session {session.id}")
        log.info("whip: %s publishing on %s (camera %s) for %s", session.id, stream_id, camera_id, owner or "?")
        return Published(answer_sdp, session.id, previous)

    async def end(self, session_id: str, why: str = "ended on request") -> bool:
        if self.sessions.get(session_id) is not None:
            self._why[session_id] = why
        return await self.sessions.end(session_id)

    async def close(self) -> None:
        for session in self.sessions.all():
            self._why[session.id] = "the server is shutting down"
        await self.sessions.close()
        for stream_id in self.streams:
            ingest_slot(stream_id).wake()

    async def _pump(self, session_id: str, track: MediaStreamTrack, slot: IngestSlot) -> None:
        try:
            while True:
                frame = await track.recv()
                if isinstance(frame, VideoFrame):
                    slot.put(session_id, frame)
        except MediaStreamError:
            self.sessions.end_soon(session_id)  # the publisher's track ended

    def _on_channel(self, channel: RTCDataChannel, camera_id: str) -> None:
        if channel.label != "telemetry":
            return

        def on_message(message: str | bytes) -> None:
            if camera_id not in self.mobile:  # a fixed camera stays where it was installed
                self.fixed_telemetry += 1
                return
            try:
                telemetry = parse_telemetry(json.loads(message))
            except (ValueError, TypeError) as exc:  # a bad message is dropped, never fatal
                self.bad_telemetry += 1
                log.debug("whip: bad telemetry for %s: %s", camera_id, exc)
                return
            self.telemetry.set(camera_id, telemetry)

        channel.on("message", on_message)
