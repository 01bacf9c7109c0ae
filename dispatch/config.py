"""Dispatch's own configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GeneratorConfig(_Strict):
    seed: int = 7
    districts: int = Field(11, ge=1, le=11)


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
    dedupe_radius_m: float = Field(60.0, ge=0)
    dedupe_window_min: float = Field(30.0, ge=0)
