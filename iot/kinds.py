"""The kinds of device the command center knows: what each one reads, how often it must be
heard from, and the rules that turn its readings into alarms, each rule's alarm filed as a
matter of configs/matters.yaml (tests/test_iot_rules.py checks the codes exist).

Defaults, not laws: a device takes its kind's rules with its own departures
(iot/rule_models.DeviceRules) and its own heartbeat window where the registry gives one.
The figures are the usual ones for the sensor, so that a city starts somewhere sane:

- smoke: photoelectric detectors alarm at roughly 0.1–0.2 dB/m obscuration (EN 54-7's band);
  the detector's own `alarm` counts too. Smoke with heat at 57 °C (the ordinary fixed-heat
  rating) is a fire.
- gas: domestic combustible-gas detectors alarm at or below 25 %LEL (GB 15322.2); 20 here.
- temperature: a fixed-heat point of 57 °C or a rise of 8.3 °C a minute (15 °F/min, the
  rate-of-rise detectors' figure).
- water_level: 15 cm of standing water for a minute, or a rise of 2 cm a minute (an
  underpass fills before it is deep).
- manhole_tilt: 15° held 10 s (a passing bus rocks a cover for a moment).
- hydrant_pressure: below 0.10 MPa for 5 minutes (GB 50974's least outlet pressure) or a fall
  of 0.2 MPa a minute (a hydrant struck or opened).
- bin_fill: 90 % for 10 minutes (a bag held over the sensor is not a full bin).
- door: a door at a guarded place open for a minute.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from iot.payload import READING_NAME, Reading
from iot.rule_models import MATTER_CODE, DeviceRules, Rule

KIND_NAME = r"^[a-z][a-z0-9_]{0,31}$"
# 物联设备故障: a device that is silent, low on battery or faulty (handled by the street's
# centre, a day); 9909 消火栓水压不足 for a hydrant without pressure (the water bureau, 4 hours).
MAINTENANCE_MATTER = "9908"
HYDRANT_MATTER = "9909"


class ReadingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=READING_NAME)
    unit: str = Field(
        min_length=1, max_length=16, description="SenML unit: Cel, /, dB/m, %LEL, cm, deg, MPa, %"
    )
    type: Literal["number", "bool"] = "number"
    min: float | None = None
    max: float | None = None


class DeviceKind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=KIND_NAME)
    label: str = Field(min_length=1, max_length=40)
    label_en: str = Field(min_length=1, max_length=60)
    readings: tuple[ReadingSpec, ...] = Field(min_length=1)
    heartbeat_s: float = Field(ge=60, le=7 * 86_400, description="silent this long: offline")
    rules: tuple[Rule, ...] = ()
    offline_matter: str = Field(default=MAINTENANCE_MATTER, pattern=MATTER_CODE)

    @model_validator(mode="after")
    def _consistent(self) -> DeviceKind:
        names = [spec.name for spec in self.readings]
        if len(set(names)) != len(names):
            raise ValueError(f"kind {self.name}: a reading is listed twice")
        ids = [rule.id for rule in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError(f"kind {self.name}: a rule id is used twice")
        for rule in self.rules:
            missing = set(rule.when.readings()) - set(names)
            if missing:
                raise ValueError(
                    f"kind {self.name}: rule {rule.id} reads {sorted(missing)}, not readings of the kind"
                )
        return self

    def spec(self, name: str) -> ReadingSpec | None:
        return next((s for s in self.readings if s.name == name), None)


_COMMON: list[dict[str, Any]] = [
    {"name": "battery", "unit": "/", "min": 0, "max": 1},
    {"name": "rssi", "unit": "dBm", "min": -150, "max": 0},
]


def _battery_low() -> dict[str, Any]:
    # a day's notice: the maintenance case is for a battery, not an emergency
    return {
        "id": "battery_low",
        "matter": MAINTENANCE_MATTER,
        "min_clear_s": 3600,
        "when": {"type": "threshold", "reading": "battery", "direction": "below", "low": 0.15, "high": 0.25},
    }


def _above(reading: str, high: float, low: float, hold_s: float = 0) -> dict[str, Any]:
    if hold_s:
        return {"type": "duration", "reading": reading, "high": high, "low": low, "hold_s": hold_s}
    return {"type": "threshold", "reading": reading, "high": high, "low": low}


_SMOKE = _above("smoke", 0.15, 0.08)
_ALARM = _above("alarm", 1, 0)
_HEAT = _above("temp_c", 57, 50)

_DEFAULTS: list[dict[str, Any]] = [
    {
        "name": "smoke", "label": "烟感", "label_en": "Smoke detector", "heartbeat_s": 12 * 3600,
        "readings": [{"name": "smoke", "unit": "dB/m", "min": 0, "max": 20},
                     {"name": "alarm", "unit": "/", "type": "bool"},
                     {"name": "temp_c", "unit": "Cel", "min": -40, "max": 200}, *_COMMON],
        "rules": [
            {"id": "smoke", "matter": "0402", "when": {"type": "any", "window_s": 60, "of": [_SMOKE, _ALARM]}},
            {"id": "fire", "matter": "0401", "when": {"type": "all", "window_s": 120, "of": [_SMOKE, _HEAT]}},
            _battery_low(),
        ],
    },
    {
        "name": "gas", "label": "燃气探测", "label_en": "Gas detector", "heartbeat_s": 3600,
        "readings": [{"name": "gas", "unit": "%LEL", "min": 0, "max": 100},
                     {"name": "alarm", "unit": "/", "type": "bool"}, *_COMMON],
        "rules": [
            {"id": "gas", "matter": "0407", "when": {"type": "any", "window_s": 60,
                                                      "of": [_above("gas", 20, 10), _ALARM]}},
        ],
    },
    {
        "name": "temperature", "label": "温度", "label_en": "Temperature sensor", "heartbeat_s": 1800,
        "readings": [{"name": "temp_c", "unit": "Cel", "min": -40, "max": 200}, *_COMMON],
        "rules": [
            {"id": "heat", "matter": "0401", "when": {"type": "any", "window_s": 60, "of": [
                _HEAT, {"type": "rate", "reading": "temp_c", "per_minute": 8.3, "window_s": 60, "min_span_s": 20}]}},
            _battery_low(),
        ],
    },
    {
        "name": "water_level", "label": "水位", "label_en": "Water level gauge", "heartbeat_s": 1800,
        "readings": [{"name": "level_cm", "unit": "cm", "min": -50, "max": 1000}, *_COMMON],
        "rules": [
            {"id": "waterlogging", "matter": "0405", "min_clear_s": 600, "when": {"type": "any", "window_s": 300, "of": [
                _above("level_cm", 15, 5, hold_s=60),
                {"type": "rate", "reading": "level_cm", "per_minute": 2, "window_s": 600, "min_span_s": 120}]}},
            _battery_low(),
        ],
    },
    {
        "name": "manhole_tilt", "label": "井盖倾斜", "label_en": "Manhole cover tilt", "heartbeat_s": 25 * 3600,
        "readings": [{"name": "tilt_deg", "unit": "deg", "min": 0, "max": 180}, *_COMMON],
        "rules": [
            {"id": "cover_moved", "matter": "9902", "min_clear_s": 300, "when": _above("tilt_deg", 15, 5, hold_s=10)},
            _battery_low(),
        ],
    },
    {
        "name": "hydrant_pressure", "label": "消火栓水压", "label_en": "Hydrant pressure", "heartbeat_s": 3600,
        "readings": [{"name": "pressure_mpa", "unit": "MPa", "min": 0, "max": 5}, *_COMMON],
        "rules": [
            {"id": "low_pressure", "matter": HYDRANT_MATTER, "min_clear_s": 600, "when": {
                "type": "duration", "reading": "pressure_mpa", "direction": "below",
                "low": 0.10, "high": 0.14, "hold_s": 300}},
            {"id": "pressure_drop", "matter": "9905", "min_clear_s": 600, "when": {
                "type": "rate", "reading": "pressure_mpa", "per_minute": -0.2, "window_s": 120, "min_span_s": 20}},
            _battery_low(),
        ],
    },
    {
        "name": "bin_fill", "label": "垃圾满溢", "label_en": "Bin fill level", "heartbeat_s": 3 * 3600,
        "readings": [{"name": "fill_pct", "unit": "%", "min": 0, "max": 100}, *_COMMON],
        "rules": [
            {"id": "bin_full", "matter": "0107", "min_clear_s": 600, "when": _above("fill_pct", 90, 70, hold_s=600)},
            _battery_low(),
        ],
    },
    {
        "name": "door", "label": "门磁", "label_en": "Door sensor", "heartbeat_s": 25 * 3600,
        "readings": [{"name": "open", "unit": "/", "type": "bool"}, *_COMMON],
        "rules": [
            {"id": "door_open", "matter": "0506", "min_clear_s": 30, "when": _above("open", 1, 0, hold_s=60)},
            _battery_low(),
        ],
    },
]  # fmt: skip

KINDS: Mapping[str, DeviceKind] = MappingProxyType(
    {data["name"]: DeviceKind.model_validate(data) for data in _DEFAULTS}
)


def get_kind(name: str) -> DeviceKind:
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown device kind {name!r}; known: {', '.join(KINDS)}") from None


def rules_for(kind: DeviceKind, own: DeviceRules | None = None) -> tuple[Rule, ...]:
    """The rules a device of `kind` runs; its departures are checked against the kind's readings."""
    rules = kind.rules if own is None else own.resolve(kind.rules)
    names = {spec.name for spec in kind.readings}
    for rule in rules:
        missing = set(rule.when.readings()) - names
        if missing:
            raise ValueError(f"rule {rule.id} reads {sorted(missing)}, not readings of a {kind.name} device")
    return rules


def check_reading(kind: DeviceKind, reading: Reading) -> str | None:
    """Why a reading does not fit its device's kind (the intake counts and logs it), or None."""
    spec = kind.spec(reading.name)
    if spec is None:
        return f"{reading.name}: not a reading of a {kind.name} device"
    if reading.unit is not None and reading.unit != spec.unit:
        return f"{reading.name}: unit {reading.unit}, expected {spec.unit}"
    if spec.type == "bool" and not isinstance(reading.value, bool):
        return f"{reading.name}: expected true or false"
    if spec.type == "number":
        if isinstance(reading.value, bool):
            return f"{reading.name}: expected a number, not true or false"
        if (spec.min is not None and reading.value < spec.min) or (
            spec.max is not None and reading.value > spec.max
        ):
            return f"{reading.name}: {reading.value} is outside {spec.min}..{spec.max} {spec.unit}"
    return None
