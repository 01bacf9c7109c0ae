"""The reading rules' configuration, validated when it is loaded (pydantic).

A `Rule` is an id, the matter its alarm files a case under (configs/matters.yaml), the
condition `when` it is on, and `min_clear_s`: how long the condition must stay off before the
episode closes. Conditions:

- `threshold`: on when the value reaches `high` (direction above) or falls to `low` (below), off
  only when it is back past the other bound: the gap between them is the hysteresis;
- `duration`: a threshold that must have held `hold_s` seconds;
- `rate`: the change per minute over the last `window_s` seconds (needs `min_span_s` of data);
- `all` / `any`: sub-conditions each on at some moment within `window_s` (smoke AND heat).

A device takes its kind's rules with `DeviceRules`: parameters changed per rule, rules switched
off, rules of its own added. Booleans are readings too: 1.0 and 0.0 (door open: high 1, low 0).

In YAML:

    - id: fire
      matter: "0401"
      when: {type: all, window_s: 60, of: [
        {type: threshold, reading: smoke, high: 0.15, low: 0.08},
        {type: threshold, reading: temp_c, high: 57, low: 50}]}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from iot.payload import READING_NAME

RULE_ID = r"^[a-z][a-z0-9_]{0,39}$"
MATTER_CODE = r"^[0-9]{4}$"
MAX_WINDOW_S = 3600.0  # the series a rule looks back over is bounded (iot/series.py)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Threshold(_Frozen):
    type: Literal["threshold"] = "threshold"
    reading: str = Field(pattern=READING_NAME)
    direction: Literal["above", "below"] = "above"
    high: float = Field(allow_inf_nan=False)
    low: float = Field(allow_inf_nan=False)

    @model_validator(mode="after")
    def _gap(self) -> Threshold:
        # low == high would make one value both on and off; the gap is what stops flapping
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self

    def readings(self) -> tuple[str, ...]:
        return (self.reading,)


class Duration(Threshold):
    type: Literal["duration"] = "duration"  # type: ignore[assignment]
    hold_s: float = Field(gt=0, le=86_400)


class Rate(_Frozen):
    type: Literal["rate"] = "rate"
    reading: str = Field(pattern=READING_NAME)
    per_minute: float = Field(allow_inf_nan=False, description="≥ this when positive, ≤ this when negative")
    window_s: float = Field(default=300, ge=10, le=MAX_WINDOW_S)
    min_span_s: float = Field(default=30, gt=0, description="a change over less time than this is noise")

    @model_validator(mode="after")
    def _sane(self) -> Rate:
        if self.per_minute == 0:
            raise ValueError("per_minute must not be 0 (any reading would be a change)")
        if self.min_span_s > self.window_s:
            raise ValueError("min_span_s must not exceed window_s")
        return self

    def readings(self) -> tuple[str, ...]:
        return (self.reading,)


Simple = Annotated[Threshold | Duration | Rate, Field(discriminator="type")]


class Combination(_Frozen):
    type: Literal["all", "any"]
    of: tuple[Simple, ...] = Field(min_length=2, max_length=8)
    window_s: float = Field(default=60, gt=0, le=MAX_WINDOW_S, description="sub-conditions on within this")

    def readings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for sub in self.of for name in sub.readings()))


Condition = Annotated[Threshold | Duration | Rate | Combination, Field(discriminator="type")]


class Rule(_Frozen):
    id: str = Field(pattern=RULE_ID)
    matter: str = Field(pattern=MATTER_CODE, description="configs/matters.yaml code")
    when: Condition
    min_clear_s: float = Field(default=60, ge=0, le=86_400, description="off this long before it closes")


_PARAMS = ("high", "low", "hold_s", "per_minute", "window_s", "min_span_s", "direction")


class RuleOverride(_Frozen):
    """One device's change to one of its kind's rules: switched off, another matter, other
    parameters of a single condition, or a whole new `when`."""

    enabled: bool = True
    matter: str | None = Field(default=None, pattern=MATTER_CODE)
    min_clear_s: float | None = Field(default=None, ge=0, le=86_400)
    when: Condition | None = None
    high: float | None = Field(default=None, allow_inf_nan=False)
    low: float | None = Field(default=None, allow_inf_nan=False)
    hold_s: float | None = None
    per_minute: float | None = Field(default=None, allow_inf_nan=False)
    window_s: float | None = None
    min_span_s: float | None = None
    direction: Literal["above", "below"] | None = None

    def apply(self, rule: Rule) -> Rule:
        """The rule with this override; an impossible result raises ValueError (pydantic's)."""
        params = {k: getattr(self, k) for k in _PARAMS if getattr(self, k) is not None}
        when: dict[str, Any] = (self.when or rule.when).model_dump()
        if params:
            if isinstance(self.when or rule.when, Combination):
                raise ValueError(f"rule {rule.id}: a combination is overridden with `when`, not parameters")
            when.update(params)
        data = rule.model_dump() | {"when": when}
        if self.matter is not None:
            data["matter"] = self.matter
        if self.min_clear_s is not None:
            data["min_clear_s"] = self.min_clear_s
        return Rule.model_validate(data)


class DeviceRules(_Frozen):
    """A device's departures from its kind: `overrides` by rule id, `extra` rules of its own."""

    overrides: dict[str, RuleOverride] = Field(default_factory=dict)
    extra: tuple[Rule, ...] = ()

    def resolve(self, defaults: Iterable[Rule]) -> tuple[Rule, ...]:
        """The rules this device runs. An override of a rule the kind does not have, or an extra
        rule reusing an id, is an error: a typo would otherwise silently change nothing."""
        by_id: Mapping[str, Rule] = {rule.id: rule for rule in defaults}
        unknown = sorted(set(self.overrides) - set(by_id))
        if unknown:
            raise ValueError(f"overrides of unknown rules: {', '.join(unknown)}")
        rules: list[Rule] = []
        for rule_id, rule in by_id.items():
            override = self.overrides.get(rule_id)
            if override is None:
                rules.append(rule)
            elif override.enabled:
                rules.append(override.apply(rule))
        seen = set(by_id)
        for rule in self.extra:
            if rule.id in seen:
                raise ValueError(f"extra rule {rule.id!r} reuses an id")
            seen.add(rule.id)
            rules.append(rule)
        return tuple(rules)
