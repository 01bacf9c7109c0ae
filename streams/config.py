"""A source's configuration: where the feed comes from and how fast to sample it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = ""
    kind: str = "sim"  # rtsp, rtmp, mjpeg, hls, file, whip, sim, drone
    url: str = Field(min_length=1)
    location: Location
    fps: float = Field(5.0, gt=0, le=60)
    stall_after_s: float = Field(5.0, gt=0)
    offline_after_s: float = Field(15.0, gt=0)
