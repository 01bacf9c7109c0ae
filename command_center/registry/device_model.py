"""A registered IoT device (DESIGN.md §8 "MQTT (IoT)"): what an admin's form or an import row
sets, checked here once for both, and what the registry keeps beside it.

Set by a form or a file: id, name, kind, place (lon, lat), grid, address, its departures from
its kind's rules (`thresholds`: iot/rule_models.DeviceRules as JSON, checked against the
kind's rules and readings), its own heartbeat window, install date. Set by the server only:
`state` (online, offline, alarm), `last_seen`, `battery` (0–1, as devices report it),
`signal` (as reported, e.g. RSSI in dBm) and `version` (bumped by each edit: a form's
change is made on the version it read).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from command_center.registry.device_kinds import kind_of
from iot.kinds import get_kind, rules_for
from iot.rule_models import DeviceRules

# A topic segment of cc/devices/{id}/readings: no '/', '+', '#' or spaces.
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
GRID_CODE = re.compile(r"\d{15}")
MIN_HEARTBEAT_S, MAX_HEARTBEAT_S = 60, 7 * 86400  # iot.kinds' bounds of a heartbeat window
PAIR = re.compile(r"([a-z][a-z0-9_]{0,39})\.([a-z_]+)")  # an import cell's "<rule id>.<parameter>"
STATES = ("online", "offline", "alarm")
State = Literal["online", "offline", "alarm"]
# What a form or an import row may set; the rest is the server's.
FORM_FIELDS = frozenset({"id", "name", "kind", "lon", "lat", "grid_code", "address", "thresholds", "heartbeat_s",
                         "installed_at"})  # fmt: skip


class Device(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str
    name: str = Field("", max_length=80)
    kind: str
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    grid_code: str
    address: str = Field("", max_length=200)
    thresholds: dict[str, Any] = Field(default_factory=dict)  # iot DeviceRules: {"overrides": …, "extra": …}
    heartbeat_s: int | None = Field(None, ge=MIN_HEARTBEAT_S, le=MAX_HEARTBEAT_S)
    installed_at: date | None = None
    # the server's
    state: State = "offline"  # a device never heard from is not reporting
    last_seen: datetime | None = None
    battery: float | None = Field(None, ge=0, le=1)
    signal: float | None = None
    version: int = Field(1, ge=1)

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not DEVICE_ID.fullmatch(value):
            raise ValueError("1–64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit")
        return value

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        return kind_of(value)

    @field_validator("grid_code")
    @classmethod
    def _grid(cls, value: str) -> str:
        if not GRID_CODE.fullmatch(value):
            raise ValueError("a 15-digit grid code")
        return value

    @field_validator("name", "address")
    @classmethod
    def _text(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("no NUL characters")
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Valid departures of this kind's rules (an override of a rule the kind lacks, or a
        rule reading what the kind does not read, is refused), kept in their plain form."""
        try:
            rules = DeviceRules.model_validate(value)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"{where}: {first['msg']}" if where else str(first["msg"])) from None
        kind = info.data.get("kind")
        if kind is not None:
            rules_for(get_kind(kind), rules)  # ValueError naming the rule
        found: dict[str, Any] = rules.model_dump(mode="json", exclude_defaults=True)
        return found


def parse_thresholds(text: str) -> dict[str, Any]:
    """An import cell's departures from the kind's rules: DeviceRules as JSON
    ({"overrides": {"water": {"high": 20}}}) or `<rule id>.<parameter>=value` pairs split by
    ';' (water.high=20; water.low=12; door_open.enabled=false). ValueError saying what is wrong."""
    if text.startswith("{"):
        try:
            found = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"thresholds: not valid JSON ({exc.msg})") from None
        if not isinstance(found, dict):
            raise ValueError('thresholds: a JSON object ({"overrides": {rule: {parameter: value}}})')
        return found
    overrides: dict[str, dict[str, Any]] = {}
    for part in filter(None, (p.strip() for p in re.split(r"[;；]", text))):
        key, sep, raw = (s.strip() for s in part.partition("="))
        named = PAIR.fullmatch(key)
        if not sep or named is None or not raw:
            raise ValueError(f"thresholds: {part!r} is not <rule>.<parameter>=value (e.g. water.high=20)")
        overrides.setdefault(named[1], {})[named[2]] = _value(raw)
    return {"overrides": overrides}


def _value(raw: str) -> Any:
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        number = float(raw)
    except ValueError:
        return raw  # a matter code, a direction: DeviceRules checks it
    return number if math.isfinite(number) else raw
