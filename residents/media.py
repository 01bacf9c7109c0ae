"""A citizen's voice note or video clip: its kind judged from the bytes, never from the name or
the Content-Type the client sent, and measured (streams, duration) by demuxing it with PyAV.

Browsers record with MediaRecorder into WebM (Chromium, Firefox) or MP4 (Safari); phones'
own recorders give MP4/M4A, Ogg or WAV. Chromium's WebM carries no duration in its header,
so the duration is the last packet's time, read by demuxing (not decoding: cheap, ≤ 15 s).
Pure: no store, no web (import-linter "residents stand alone"); api/report_media.py uses it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MediaKind = Literal["voice", "video"]
# container → (voice MIME, video MIME); what the file is served as
CONTAINERS: dict[str, tuple[str, str]] = {
    "webm": ("audio/webm", "video/webm"),
    "mp4": ("audio/mp4", "video/mp4"),
    "ogg": ("audio/ogg", "video/ogg"),
    "wav": ("audio/wav", "video/x-wav"),
}
SLACK_S = 1.0  # a recorder stopped at 15 s writes a packet or two past it


class ReportMediaConfig(BaseModel):
    """Citizens' media on a report (photos, a voice note, a video clip), duplicates, Open311."""

    model_config = ConfigDict(extra="forbid")

    max_photos: int = Field(default=4, ge=0, le=20, description="photos on one report")
    max_voice_mb: float = Field(default=2.0, gt=0, le=50, description="one voice note, MB")
    max_voice_s: float = Field(default=60.0, gt=0, le=600, description="longest voice note, seconds")
    max_video_mb: float = Field(default=12.0, gt=0, le=200, description="one video clip, MB")
    max_video_s: float = Field(default=15.0, gt=0, le=120, description="longest video clip, seconds")
    duplicate_radius_m: float = Field(
        default=50.0,
        ge=0,
        le=1000,
        description="an open case of the same matter this near is offered to follow",
    )
    duplicate_days: float = Field(default=30.0, gt=0, le=365, description="how far back an open case counts")
    open311_jurisdiction: str | None = Field(
        default=None, description="Open311 jurisdiction_id accepted besides none; unset: the city's code"
    )
    open311_api_keys: list[str] = Field(
        default_factory=list, description="Open311 api_key values accepted on POST (a wrong one: 403)"
    )
    open311_require_api_key: bool = Field(
        default=False, description="refuse an Open311 POST without an api_key (the citizens' page sends none)"
    )

    def limit_bytes(self, kind: MediaKind) -> int:
        return int((self.max_voice_mb if kind == "voice" else self.max_video_mb) * 1024 * 1024)

    def limit_s(self, kind: MediaKind) -> float:
        return self.max_voice_s if kind == "voice" else self.max_video_s


class BadMedia(ValueError):
    """Not a recording we take; `reason` says why, in Chinese, for the reporter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Recording:
    kind: MediaKind
    container: str  # webm, mp4, ogg, wav
    mime: str
    duration_s: float
    size: int


def container_of(raw: bytes) -> str | None:
    """The container by its magic bytes: WebM/Matroska, MP4 (ISO BMFF), Ogg or WAV."""
    if raw[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if raw[4:8] == b"ftyp":
        return "mp4"
    if raw[:4] == b"OggS":
        return "ogg"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WAVE":
        return "wav"
    return None


def _demux(raw: bytes) -> tuple[bool, bool, float]:
    """(has audio, has video, duration in seconds) by reading every packet's time."""
    import av  # imported here: only reports with a recording need it

    try:
        with av.open(io.BytesIO(raw), mode="r") as container:
            audio, video = bool(container.streams.audio), bool(container.streams.video)
            end = 0.0
            for packet in container.demux():
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise BadMedia(f"文件已损坏，无法读取（{type(exc).__name__}）") from None
    return audio, video, end


def check_recording(raw: bytes, kind: MediaKind, config: ReportMediaConfig) -> Recording:
    """The recording if `raw` is a `kind` we take within the limits; else BadMedia."""
    label = "语音" if kind == "voice" else "视频"
    if len(raw) > config.limit_bytes(kind):
        mb = config.max_voice_mb if kind == "voice" else config.max_video_mb
        raise BadMedia(f"{label}文件过大，不能超过{mb:g}MB")
    container = container_of(raw)
    if container is None or (kind == "video" and container == "wav"):
        raise BadMedia(f"{label}格式不支持（只接受 WebM、MP4、Ogg{'、WAV' if kind == 'voice' else ''}）")
    audio, video, duration = _demux(raw)
    if kind == "voice" and (video or not audio):
        raise BadMedia("语音文件应只含声音")
    if kind == "video" and not video:
        raise BadMedia("视频文件中没有画面")
    if duration > config.limit_s(kind) + SLACK_S:
        raise BadMedia(f"{label}过长：{duration:.0f}秒，最长{config.limit_s(kind):g}秒")
    voice_mime, video_mime = CONTAINERS[container]
    return Recording(
        kind, container, voice_mime if kind == "voice" else video_mime, round(duration, 2), len(raw)
    )
