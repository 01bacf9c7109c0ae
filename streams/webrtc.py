"""Shared aiortc plumbing for WHIP ingest and WHEP viewing: config, offer checks, ICE hosts.

aiortc's ICE agent (aioice) offers a host candidate per non-loopback interface only,
each on a socket bound to that address. That fails twice over: on loopback (tests,
a single-box deployment) there is no candidate the peer can reach, and behind a 1:1
NAT the public address is never offered. Like MediaMTX's additional hosts,
`ice_hosts` fixes both: a local address gets its own socket and candidate; an address
that is not local (a NAT's public side) is advertised with the ports of the local
host candidates, which the NAT forwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

if TYPE_CHECKING:
    from aioice.candidate import Candidate
    from aioice.ice import Connection, StunProtocol
    from aiortc import RTCPeerConnection, RTCRtpTransceiver
    from aiortc.rtcicetransport import RTCIceGatherer

# aiortc is imported where it is used: the config model is imported by every command
# (check-config, grids...), and aiortc with PyAV adds about 0.2 s to each.

log = logging.getLogger(__name__)


class WebRTCConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ice_hosts: list[str] = Field(
        default_factory=list, description="extra IP addresses to offer as ICE host candidates (loopback, NAT public IP)"
    )
    max_offer_bytes: int = Field(default=65536, ge=1024, le=1_048_576)
    # Empty by default: aiortc would otherwise ask Google's STUN server, and a control
    # room network usually has no internet.
    stun_servers: list[str] = Field(default_factory=list)
    connect_timeout_s: float = Field(default=15.0, gt=0, le=120, description="end a session whose peer never connects")

    @field_validator("ice_hosts")
    @classmethod
    def _ip_literals(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise ValueError(f"{host!r} is not an IP address") from None
        return hosts

    @field_validator("stun_servers")
    @classmethod
    def _stun_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not re.fullmatch(r"stuns?:[A-Za-z0-9.\-\[\]:]+", url):
                raise ValueError(f"{url!r} is not a stun:HOST[:PORT] URL")
        return urls


class SdpError(ValueError):
    """The offer cannot be answered; the message says why, for a 400."""


class UnknownStream(LookupError):
    """No camera is configured for this stream id (WHIP) or camera id (WHEP)."""


_DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass
class MediaSection:
    kind: str
    direction: str = ""  # "" until an a=<direction> line; the session's default applies
    codecs: list[str] = field(default_factory=list)  # encoding names from a=rtpmap, upper case


def media_sections(sdp: str) -> list[MediaSection]:
    """The offer's m= sections as the offerer wrote them: kind, direction, codec names."""
    sections: list[MediaSection] = []
    session_direction = "sendrecv"
    for line in sdp.splitlines():
        line = line.strip()
        if line.startswith("m="):
            sections.append(MediaSection(line[2:].split(" ", 1)[0]))
        elif line.startswith("a=") and line[2:] in _DIRECTIONS:
            if sections:
                sections[-1].direction = line[2:]
            else:
                session_direction = line[2:]
        elif line.startswith("a=rtpmap:") and sections:
            encoding = line.split(" ", 1)[-1]
            sections[-1].codecs.append(encoding.split("/", 1)[0].upper())
    for section in sections:
        section.direction = section.direction or session_direction
    return sections


def video_codecs() -> set[str]:
    from aiortc.codecs import CODECS

    return {c.mimeType.split("/", 1)[1].upper() for c in CODECS["video"]} - {"RTX"}


def check_offer(sdp: str, video: str) -> None:
    """Reject what aiortc would accept silently or fail on obscurely.

    `video` is what the offerer must do with video: "send" (a WHIP publisher) or
    "receive" (a WHEP viewer).
    """
    if not sdp.startswith("v=0"):
        raise SdpError("not an SDP offer: it must start with v=0")
    if "\x00" in sdp:
        raise SdpError("not an SDP offer: it contains NUL bytes")
    sections = media_sections(sdp)
    if not sections:
        raise SdpError("the offer has no m= section")
    wanted = ("sendrecv", "sendonly") if video == "send" else ("sendrecv", "recvonly")
    usable = [m for m in sections if m.kind == "video" and m.direction in wanted]
    if not usable:
        raise SdpError(f"the offer has no video track to {'publish' if video == 'send' else 'receive'}")
    supported = video_codecs()
    if not any(supported & set(m.codecs) for m in usable):
        offered = sorted({c for m in usable for c in m.codecs} - {"RTX", "RED", "ULPFEC", "FLEXFEC-03"})
        raise SdpError(
            f"no video codec in common: offered {', '.join(offered) or 'none'}; supported {', '.join(sorted(supported))}"
        )
    for attr in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
        if attr not in sdp:
            raise SdpError(f"the offer lacks {attr.rstrip(':')}")


def new_peer(config: WebRTCConfig) -> RTCPeerConnection:
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

    # An explicit (possibly empty) list: None would mean aiortc's default public STUN server.
    servers = [RTCIceServer(urls=url) for url in config.stun_servers]
    return RTCPeerConnection(RTCConfiguration(iceServers=servers))


def _gatherers(pc: RTCPeerConnection) -> list[RTCIceGatherer]:
    found: dict[int, RTCIceGatherer] = {}
    for transceiver in pc.getTransceivers():
        gatherer = transceiver.receiver.transport.transport.iceGatherer
        found[id(gatherer)] = gatherer
    if pc.sctp is not None:
        gatherer = pc.sctp.transport.transport.iceGatherer
        found[id(gatherer)] = gatherer
    return list(found.values())


async def _bind(conn: Connection, host: str) -> StunProtocol | None:
    """A host candidate's socket on `host`, or None when `host` is not a local address."""
    from aioice.ice import StunProtocol

    loop = asyncio.get_running_loop()
    try:
        _, protocol = await loop.create_datagram_endpoint(lambda: StunProtocol(conn), local_addr=(host, 0))
    except OSError:
        return None
    port = protocol.transport.get_extra_info("sockname")[1]
    protocol.local_candidate = _host_candidate(host, port)
    return protocol


def _host_candidate(host: str, port: int) -> Candidate:
    from aioice.candidate import Candidate, candidate_foundation, candidate_priority

    return Candidate(
        foundation=candidate_foundation("host", "udp", host),
        component=1,  # aiortc always multiplexes RTP and RTCP on one component
        transport="udp",
        priority=candidate_priority(1, "host"),
        host=host,
        port=port,
        type="host",
    )


async def advertise_hosts(pc: RTCPeerConnection, hosts: list[str]) -> None:
    """Gather ICE candidates now, adding `hosts`; call before setLocalDescription.

    Uses aioice's connection internals, as aiortc has no API for extra addresses.
    """
    if not hosts:
        return
    from aioice.ice import get_host_addresses

    gathered = set(get_host_addresses(use_ipv4=True, use_ipv6=True))
    for gatherer in _gatherers(pc):
        if gatherer.state != "new":
            continue
        conn: Connection = gatherer._connection
        bound: list[StunProtocol] = []
        public: list[str] = []
        for host in hosts:
            if host in gathered:
                continue
            protocol = await _bind(conn, host)
            if protocol is None:
                public.append(host)
            else:
                bound.append(protocol)
        await gatherer.gather()
        # No await from here on: aiortc may already have scheduled the ICE start, which
        # pairs the local candidates it sees at that moment, and must see them all.
        nat_ports = [c.port for c in conn.local_candidates if c.type == "host" and c.host in gathered]
        conn._protocols.extend(bound)
        conn._local_candidates.extend(p.local_candidate for p in bound)
        conn._local_candidates.extend(_host_candidate(host, port) for host in public for port in nat_ports)


async def answer(
    pc: RTCPeerConnection,
    offer_sdp: str,
    config: WebRTCConfig,
    prepare: Callable[[RTCPeerConnection], None],
) -> str:
    """Apply the offer, let `prepare` pick the transceivers, and return the full answer.

    Non-trickle: the answer carries every candidate, as WHIP/WHEP clients expect.
    """
    from aiortc import RTCSessionDescription

    try:
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
    except Exception as exc:  # aiortc's parser raises anything from ValueError to IndexError
        raise SdpError(f"cannot apply the offer: {type(exc).__name__}: {exc}") from None
    prepare(pc)
    await advertise_hosts(pc, config.ice_hosts)
    try:
        await pc.setLocalDescription(await pc.createAnswer())
    except Exception as exc:  # e.g. no codec in common
        raise SdpError(f"cannot answer the offer: {type(exc).__name__}: {exc}") from None
    local = pc.localDescription
    if "a=candidate:" not in local.sdp:
        raise SdpError("no ICE candidate to offer: configure webrtc.ice_hosts")
    return local.sdp


def inactivate_extra(pc: RTCPeerConnection, keep_kind: str, direction: str) -> RTCRtpTransceiver | None:
    """Keep the first `keep_kind` transceiver in `direction`; every other one goes inactive.

    Inactive means aiortc neither receives nor decodes it: an unread audio track would
    otherwise fill an unbounded queue of decoded frames.
    """
    kept = None
    for transceiver in pc.getTransceivers():
        if kept is None and transceiver.kind == keep_kind:
            kept = transceiver
            transceiver.direction = direction
        else:
            transceiver.direction = "inactive"
    return kept


async def close_quietly(pc: RTCPeerConnection) -> None:
    with contextlib.suppress(Exception):
        await pc.close()


class Session:
    """One peer connection and the tasks that serve it; ends as a unit."""

    def __init__(self, session_id: str, key: str, pc: RTCPeerConnection) -> None:
        self.id = session_id
        self.key = key  # the stream or camera it belongs to
        self.pc = pc
        self.tasks: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        self.on_end: list[Callable[[], None]] = []


class PeerSessions:
    """Live sessions of one kind (WHIP or WHEP): each ends on request, on ICE failure or
    close, when its peer never connects, or on shutdown, leaving no task or socket behind."""

    NEGOTIATE_TIMEOUT_S = 10.0

    def __init__(self, name: str, config: WebRTCConfig) -> None:
        self.name = name
        self.config = config
        self._sessions: dict[str, Session] = {}
        self._enders: set[asyncio.Task[bool]] = set()
        self._closed = False

    def __len__(self) -> int:
        return len(self._sessions)

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def all(self) -> list[Session]:
        return list(self._sessions.values())

    async def open(self, key: str, offer_sdp: str, prepare: Callable[[Session], None]) -> tuple[Session, str]:
        """A new session answering `offer_sdp`; `prepare` wires its tracks before the answer."""
        if self._closed:
            raise RuntimeError(f"{self.name} is shutting down")
        session = Session(secrets.token_hex(8), key, new_peer(self.config))
        self._sessions[session.id] = session
        session.pc.on("connectionstatechange", lambda: self._state_changed(session))
        try:
            sdp = await asyncio.wait_for(
                answer(session.pc, offer_sdp, self.config, lambda _pc: prepare(session)), self.NEGOTIATE_TIMEOUT_S
            )
        except TimeoutError:
            await self.end(session.id)
            raise SdpError(f"negotiation took over {self.NEGOTIATE_TIMEOUT_S:g} s") from None
        except BaseException:  # also on cancellation: a half-made peer must not linger
            await self.end(session.id)
            raise
        self.spawn(session, self._watchdog(session), "watchdog")
        return session, sdp

    def spawn(self, session: Session, coro: Coroutine[Any, Any, None], what: str) -> None:
        task = asyncio.create_task(coro, name=f"{self.name}:{session.id}:{what}")
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    async def end(self, session_id: str) -> bool:
        """End a session; False when there is none by that id (already ended)."""
        session = self._sessions.pop(session_id, None)
        if session is None:
            return False
        for callback in session.on_end:
            try:
                callback()
            except Exception:
                log.exception("%s session %s: ending", self.name, session_id)
        # A session's own task may be the one ending it; it must not wait for itself.
        tasks = [t for t in session.tasks if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await close_quietly(session.pc)
        log.info("%s session %s for %s ended", self.name, session_id, session.key)
        return True

    def end_soon(self, session_id: str) -> None:
        """End from a callback or a session's own task, without awaiting there."""
        if session_id not in self._sessions:
            return
        task = asyncio.create_task(self.end(session_id), name=f"{self.name}:{session_id}:end")
        self._enders.add(task)
        task.add_done_callback(self._enders.discard)

    async def close(self) -> None:
        self._closed = True
        for session_id in list(self._sessions):
            await self.end(session_id)
        while self._enders:
            await asyncio.gather(*list(self._enders), return_exceptions=True)

    def _state_changed(self, session: Session) -> None:
        state = session.pc.connectionState
        if state == "connected":
            session.connected.set()
        elif state in ("failed", "closed"):
            log.info("%s session %s: connection %s", self.name, session.id, state)
            self.end_soon(session.id)

    async def _watchdog(self, session: Session) -> None:
        try:
            await asyncio.wait_for(session.connected.wait(), self.config.connect_timeout_s)
        except TimeoutError:
            log.info("%s session %s: peer never connected", self.name, session.id)
            self.end_soon(session.id)
