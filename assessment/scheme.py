"""The assessment scheme: per level a weighted list of indicators with thresholds, the
top/bottom list sizes and the honours; validated at load (every bad key named), versioned
by the hash of its content next to a label people read."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

Level = Literal["worker", "grid", "community", "street", "district"]
LEVELS: tuple[Level, ...] = ("worker", "grid", "community", "street", "district")
IndicatorKey = Literal[
    "on_time_rate", "closure_rate", "rework_rate", "mean_accept_min", "mean_close_min",
    "verify_done", "care_visits", "patrol_places", "attendance_days", "satisfaction",
]  # fmt: skip
# The KPI each key is (dispatch/kpi.py's definitions for the case ones).
INDICATORS: dict[str, str] = {
    "on_time_rate": "按期结案率",
    "closure_rate": "结案率",
    "rework_rate": "返工率",
    "mean_accept_min": "平均响应时长(分钟)",
    "mean_close_min": "平均结案时长(分钟)",
    "verify_done": "核实任务完成数",
    "care_visits": "走访次数",
    "patrol_places": "巡查覆盖点位数",
    "attendance_days": "出勤天数",
    "satisfaction": "群众满意度(星)",
}
DEFAULT_PATH = Path(__file__).resolve().parent.parent / "configs" / "assessment.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Indicator(_Strict):
    key: IndicatorKey
    weight: float = Field(gt=0, le=100, description="its share of the score (weights are normalised)")
    direction: Literal["higher", "lower"] = Field(description="higher: more is better; lower: less is better")
    full: float = Field(description="full marks at this value (and beyond, in the direction)")
    zero: float = Field(description="zero marks at this value (and beyond, against the direction)")

    @model_validator(mode="after")
    def _thresholds(self) -> Indicator:
        if self.direction == "higher" and not self.full > self.zero:
            raise ValueError(f"{self.key}: direction 'higher' needs full > zero")
        if self.direction == "lower" and not self.full < self.zero:
            raise ValueError(f"{self.key}: direction 'lower' needs full < zero")
        return self


class LevelScheme(_Strict):
    indicators: list[Indicator] = Field(min_length=1, max_length=len(INDICATORS))
    top_n: int = Field(default=30, ge=0, le=1000)
    bottom_n: int = Field(default=30, ge=0, le=1000)
    min_cases: int = Field(default=0, ge=0, description="subjects with fewer cases in the month are not ranked")

    @model_validator(mode="after")
    def _unique(self) -> LevelScheme:
        keys = [i.key for i in self.indicators]
        doubled = sorted({k for k in keys if keys.count(k) > 1})
        if doubled:
            raise ValueError(f"indicator listed twice: {', '.join(doubled)}")
        return self


class Honour(_Strict):
    name: str = Field(min_length=1, max_length=40)
    level: Level
    top_percent: float = Field(gt=0, le=100, description="in the best this share of the ranked subjects")
    months: int = Field(ge=1, le=24, description="in every one of this many consecutive months, the last included")


class Scheme(_Strict):
    version_label: str = Field(min_length=1, max_length=40)
    grace_days: int = Field(default=5, ge=0, le=27, description="days after a month ends before it is frozen")
    levels: dict[Level, LevelScheme] = Field(min_length=1)
    honours: list[Honour] = Field(default_factory=list)

    @model_validator(mode="after")
    def _honoured_levels(self) -> Scheme:
        for honour in self.honours:
            if honour.level not in self.levels:
                raise ValueError(f"honour {honour.name!r}: level {honour.level!r} has no scheme")
        return self

    def canonical(self) -> str:
        """The content as one canonical JSON text: what the version hashes and a run stores."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @property
    def version(self) -> str:
        """The content's hash: a changed weight is another version, whatever the label says."""
        return hashlib.sha256(self.canonical().encode()).hexdigest()[:16]


class SchemeError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_scheme(raw: object, source: str = "<scheme>") -> Scheme:
    if not isinstance(raw, dict):
        raise SchemeError([f"{source}: (top level): expected a mapping"])
    try:
        return Scheme.model_validate(raw)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            errors.append(f"{source}: {where}: {err['msg']}")
        raise SchemeError(errors) from None


def load_scheme(path: Path = DEFAULT_PATH) -> Scheme:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemeError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except yaml.YAMLError as exc:
        raise SchemeError([f"{path}: invalid YAML: {exc}"]) from None
    return parse_scheme(raw, str(path))


def from_canonical(text: str) -> Scheme:
    """A run's stored scheme (Scheme.canonical) back: a recompute scores with it, not today's file."""
    return Scheme.model_validate(json.loads(text))
