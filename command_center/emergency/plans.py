"""Response plans (预案): what an emergency mode does for each emergency class.

One plan per class, all four required, so a missing plan is a config error at load
and never a surprise when an emergency starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

EmergencyClass = Literal["natural_disaster", "accident", "public_health", "social_security"]
CLASSES: tuple[EmergencyClass, ...] = ("natural_disaster", "accident", "public_health", "social_security")

# CAP 1.2 enumerations (OASIS CAP v1.2, section 3.2.2): a plan can only name valid values.
CapCategory = Literal[
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"
]
CapUrgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
CapSeverity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
CapCertainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CapFields(_Strict):
    category: list[CapCategory] = Field(min_length=1)
    event: str = Field(min_length=1)
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty


class TaskTemplate(_Strict):
    title: str = Field(min_length=1, max_length=200)
    role: str = Field(min_length=1, max_length=50, description="the kind of task (交警, 现场处置...): what it needs")
    due_min: float = Field(gt=0, le=7 * 24 * 60, description="minutes from the start of the emergency mode")
    # Who gets it when a mode starts: a named team (an emergency team's id), else the team
    # of the street where the emergency is; the whole team, or its leader alone.
    team: str = Field(default="", max_length=100, description="an emergency team's id; empty: the street's team")
    assign: Literal["team", "leader"] = "team"


class Plan(_Strict):
    name: str = Field(min_length=1, max_length=100)
    radius_m: float = Field(gt=0, le=50_000, description="cameras this close to the centre sense harder")
    detect_fps: float = Field(gt=0, le=60, description="detect rate for those cameras (never lowered)")
    threshold_factor: float = Field(default=1.0, gt=0, le=1, description="their detection thresholds × this")
    thresholds: dict[str, float] = Field(default_factory=dict, description="absolute thresholds by label (or default)")
    pin_drones: bool = True
    cap: CapFields
    tasks: list[TaskTemplate] = Field(default_factory=list, max_length=50)

    @field_validator("thresholds")
    @classmethod
    def _scores(cls, value: dict[str, float]) -> dict[str, float]:
        for label, score in value.items():
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"threshold for {label!r} must be within 0..1, got {score}")
        return value

    def lowered(self, configured: dict[str, float]) -> dict[str, float]:
        """Thresholds by label for a camera in range: scaled by the factor, then capped by
        the absolute ones; never above what is configured (an emergency mode only lowers)."""
        labels = {"default", *configured, *self.thresholds}
        default = configured.get("default", 0.35)
        out = {}
        for label in sorted(labels):
            base = configured.get(label, default)
            value = base * self.threshold_factor
            if label in self.thresholds:
                value = min(value, self.thresholds[label])
            out[label] = round(min(value, base), 4)
        return out


class Plans(_Strict):
    natural_disaster: Plan
    accident: Plan
    public_health: Plan
    social_security: Plan

    def get(self, cls: str) -> Plan:
        if cls not in CLASSES:
            raise KeyError(cls)
        plan: Plan = getattr(self, cls)
        return plan


def load_plans(path: str | Path) -> Plans:
    """Parse and validate a plans file; a malformed entry raises pydantic's ValidationError
    (whose locations, e.g. `plans.accident.radius_m`, the caller formats with the file)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError("expected a mapping with a 'plans' key")
    return _File.model_validate(data).plans


class _File(_Strict):
    plans: Plans
