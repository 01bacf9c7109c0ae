"""Publish a source over WHIP, as a drone or a phone does: video plus a `telemetry`
data channel. The demo's simulated drone uses it, so the demo exercises the same
ingest path as a real drone."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from fractions import Fraction

import httpx
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from av import VideoFrame

from streams.base import Frame, Source
from streams.webrtc import advertise_hosts

log = logging.getLogger(__name__)
CLOCK = Fraction(1, 90_000)


class SourceTrack(VideoStreamTrack):
    """A video track fed by a Source; its pace is the source's own."""

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.last: Frame | None = None
        self._t0: float | None = None

    async def recv(self) -> VideoFrame:
        frame = await asyncio.get_running_loop().run_in_executor(None, self.source.read)
        self.last = frame
        if self._t0 is None:
            self._t0 = frame.ts
        video = VideoFrame.from_ndarray(frame.image, format="bgr24")
        video.pts, video.time_base = int((frame.ts - self._t0) / CLOCK), CLOCK
        return video


async def publish_forever(
    url: str, source: Source, ice_hosts: list[str], retry_s: float = 2.0, token: str | None = None
) -> None:
    """Keep `source` published to the WHIP endpoint `url`, re-publishing whenever the
    session ends or the server is not there yet. Cancel to stop (the session is deleted).
    `token`: the credential the endpoint asks for (a publish key `cck_…`), sent as a bearer."""
    source.open()
    try:
        while True:
            try:
                await _publish_once(url, source, ice_hosts, token)
            except (httpx.HTTPError, OSError, RuntimeError) as exc:
                log.info("WHIP publish to %s: %s; retrying", url, exc)
            await asyncio.sleep(retry_s)
    finally:
        source.close()


async def _publish_once(url: str, source: Source, ice_hosts: list[str], token: str | None) -> None:
    pc = RTCPeerConnection()
    track = SourceTrack(source)
    pc.addTrack(track)
    channel = pc.createDataChannel("telemetry")
    ended = asyncio.Event()

    @pc.on("connectionstatechange")
    def _state() -> None:
        if pc.connectionState in ("failed", "closed"):
            ended.set()

    location = None
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=10, headers=auth) as http:
        try:
            await advertise_hosts(pc, ice_hosts)
            await pc.setLocalDescription(await pc.createOffer())
            res = await http.post(url, content=pc.localDescription.sdp, headers={"Content-Type": "application/sdp"})
            if res.status_code != 201:
                raise RuntimeError(f"WHIP answered {res.status_code}: {res.text[:200]}")
            location = res.headers.get("location")
            await pc.setRemoteDescription(RTCSessionDescription(sdp=res.text, type="answer"))
            while not ended.is_set():
                telemetry = track.last.telemetry if track.last is not None else None
                if telemetry is not None and channel.readyState == "open":
                    channel.send(json.dumps({
                        "lat": telemetry.lat, "lon": telemetry.lon, "alt": telemetry.alt,
                        "heading": telemetry.heading, "ts": time.time(),
                    }))  # fmt: skip
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), 1.0)
        finally:
            if location:
                with contextlib.suppress(httpx.HTTPError):
                    await http.delete(httpx.URL(url).join(location))
            await pc.close()
