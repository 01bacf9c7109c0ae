"""Dispatch's own configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dispatch.calendar import CalendarConfig


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorConfig(_Strict):
    seed: int = 7
    districts: int = Field(default=11, ge=1, le=11)


class CityConfig(_Strict):
    generator: GeneratorConfig | None = None
    geojson: Path | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CityConfig:
        if self.generator is None and self.geojson is None:
            self.generator = GeneratorConfig()
        if self.generator is not None and self.geojson is not None:
            raise ValueError("give either generator or geojson, not both")
        return self


class DispatchConfig(_Strict):
    timezone: str = "Asia/Shanghai"
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    warn_at: float = Field(default=0.75, gt=0, lt=1, description="share of the time limit used when a warning goes out")
    supervise_every_s: float = Field(default=30.0, gt=0)
    dedupe_radius_m: float = Field(default=60.0, ge=0)
    dedupe_window_min: float = Field(default=30.0, ge=0)
    max_photo_bytes: int = Field(default=5 * 1024 * 1024, gt=0, description="largest photo a worker may upload to a case")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value
