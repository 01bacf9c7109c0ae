"""Vision's own configuration: detector, zones and rules."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DetectorConfig(_Strict):
    backend: str = "motion"
    model: Path | None = None
    imgsz: int = Field(default=320, ge=32, le=2048)
    thresholds: dict[str, float] = Field(default_factory=lambda: {"default": 0.35})
    min_area: int = Field(default=120, ge=1, description="motion backend: smallest blob in pixels")
    format: Literal["auto", "yolox", "ultralytics"] = "auto"
    nms_iou: float = Field(default=0.45, gt=0, le=1)
    label_map: dict[str, str] | None = Field(default=None, description="model label → product label; None: COCO vehicles → vehicle")
    threads: int | None = Field(default=None, ge=1, description="ONNX Runtime intra-op threads")
    motion_gate: bool = Field(default=True, description="model backends: detect only around motion and tracked objects")
    recheck_every: int = Field(default=50, ge=1, description="frames between re-checks of still objects")

    @field_validator("thresholds")
    @classmethod
    def _scores(cls, value: dict[str, float]) -> dict[str, float]:
        for label, score in value.items():
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"threshold for {label!r} must be within 0..1, got {score}")
        return value


class ZoneConfig(_Strict):
    """A region of a camera's view (a polygon, or a line for line crossing) and its rules."""

    name: str = Field(min_length=1)
    polygon: list[tuple[float, float]] | None = Field(default=None, min_length=3)
    line: tuple[tuple[float, float], tuple[float, float]] | None = None
    direction: Literal["any", "in", "out"] = Field(default="any", description="line crossing: 'in' is left→right of a→b")
    rules: list[str] = Field(min_length=1)
    labels: list[str] | None = None  # None: the rule's own default labels
    dwell_s: float | None = Field(default=None, gt=0)
    min_count: int | None = Field(default=None, ge=1, description="crowding: people at once")

    @model_validator(mode="after")
    def _shape(self) -> ZoneConfig:
        if (self.polygon is None) == (self.line is None):
            raise ValueError("give a polygon or a line")
        return self


class RulesConfig(_Strict):
    dwell_s: float = Field(default=10.0, gt=0, description="seconds in a zone before a dwell rule fires")
    cooldown_s: float = Field(
        default=60.0, ge=0, description="one incident per zone and rule within this time"
    )
    max_track_gap_s: float = Field(
        default=2.0, gt=0, description="how long a track survives without a detection"
    )
    tracker: Literal["iou", "bytetrack", "botsort"] = Field(
        default="iou", description="iou: greedy (motion blobs); bytetrack: model detections; botsort: moving cameras (drones)"
    )
    crowd_count: int = Field(default=8, ge=2, description="crowding: people in the zone at once")
    crowd_s: float = Field(default=5.0, ge=0, description="crowding: for this long")
    fallen_s: float = Field(default=3.0, ge=0, description="fallen person: lying for this long")
    fire_frames: int = Field(default=3, ge=1, description="fire/smoke: seen in this many recent frames")
    standing_coverage: float = Field(
        default=0.5, gt=0, le=1, description="standing problems (banner, water, manhole…): share of frames seen over the dwell"
    )


class EvidenceConfig(_Strict):
    pre_s: float = Field(default=5.0, ge=0, description="clip seconds before the incident")
    post_s: float = Field(default=5.0, ge=0, description="clip seconds after the incident")
    clips: bool = True
    max_age_days: float = Field(default=30.0, gt=0)
    max_gb: float = Field(default=5.0, gt=0, description="snapshots and clips together")
