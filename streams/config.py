"""A source's configuration: where the feed comes from and how fast to sample it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Which URL schemes each network kind accepts; a mismatch is a config error, not a runtime surprise.
_SCHEMES: dict[str, tuple[str, ...]] = {
    "rtsp": ("rtsp", "rtsps"),
    "rtmp": ("rtmp", "rtmps"),
    "hls": ("http", "https"),
    "mjpeg": ("http", "https"),
    "snapshot": ("http", "https"),
}


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""
    kind: str = "sim"  # rtsp, rtmp, mjpeg, snapshot, hls, file, whip, sim, drone
    url: str = Field(min_length=1)
    location: Location
    fps: float = Field(
        default=5.0, gt=0, le=60, description="frames per second handed on (sampled from the feed)"
    )
    stall_after_s: float = Field(default=5.0, gt=0)
    offline_after_s: float = Field(default=15.0, gt=0)
    transport: Literal["tcp", "udp"] = Field(
        default="tcp", description="RTSP transport; TCP survives NAT and loss"
    )
    options: dict[str, str] = Field(
        default_factory=dict, description="extra FFmpeg options for this feed, e.g. {probesize: '65536'}"
    )
    loop: bool = Field(default=True, description="files only: start again at the end")
    open_timeout_s: float = Field(default=10.0, gt=0, le=120)
    read_timeout_s: float = Field(
        default=5.0, gt=0, le=120, description="no new frame for this long means the feed is hung: reconnect"
    )
    reconnect_max_s: float = Field(default=4.0, gt=0, le=300, description="cap of the reconnect backoff")
    decode_threads: int = Field(
        default=0, ge=0, le=32, description="0: one per stream up to 1080p, automatic above"
    )

    @field_validator("options")
    @classmethod
    def _plain_options(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not key or not key.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"bad FFmpeg option name {key!r}")
            if "\n" in item or "\r" in item:
                raise ValueError(f"FFmpeg option {key!r} has a line break")
        return value

    @model_validator(mode="after")
    def _scheme_fits_kind(self) -> SourceConfig:
        allowed = _SCHEMES.get(self.kind)
        if allowed is not None:
            scheme = self.url.split("://", 1)[0].lower() if "://" in self.url else ""
            if scheme not in allowed:
                want = " or ".join(f"{s}://" for s in allowed)
                raise ValueError(f"kind {self.kind!r} needs a {want} URL, got {scheme or 'no'} scheme")
        if self.kind == "file" and "://" in self.url and not self.url.startswith("file://"):
            raise ValueError("kind 'file' needs a path or a file:// URL")
        return self
