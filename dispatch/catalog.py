"""The matter catalog (入格事项): what a case is about, who handles it, and how fast.

Loaded from YAML (`configs/matters.yaml`). Detector rules and labels map to matters;
anything unmapped becomes the catalog's default matter, so no incident is dropped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

MatterClass = Literal["市容环境", "宣传广告", "施工管理", "突发事件", "街面秩序", "其他"]
# 采办分离: a grid worker handles minor matters on the spot; the rest go to a department.
Handler = Literal["worker", "department"]

DEFAULT_HOURS_PER_DAY = 8.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeLimit(_Strict):
    """Exactly one of working `hours` or working `days`."""

    hours: float | None = Field(default=None, gt=0)
    days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> TimeLimit:
        if (self.hours is None) == (self.days is None):
            raise ValueError("give exactly one of 'hours' or 'days'")
        return self

    def working_hours(self, hours_per_day: float = DEFAULT_HOURS_PER_DAY) -> float:
        return self.hours if self.hours is not None else float(self.days or 0) * hours_per_day


class Matter(_Strict):
    # `class` is a Python keyword: the field is `klass`, read and written as `class`.
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    code: str = Field(min_length=1)
    name: str = Field(min_length=1)
    name_en: str = Field(min_length=1)
    klass: MatterClass = Field(alias="class")
    department: str = Field(min_length=1)
    handler: Handler
    time_limit: TimeLimit
    closure_standard: str = Field(min_length=1)
    rules: list[str] = Field(default_factory=list)  # detector rule names (e.g. illegal_parking)
    labels: list[str] = Field(default_factory=list)  # detector labels (e.g. fire), used when no rule matches


class Catalog(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matters: list[Matter] = Field(min_length=1)
    default: str

    _by_code: dict[str, Matter] = PrivateAttr(default_factory=dict)
    _by_rule: dict[str, Matter] = PrivateAttr(default_factory=dict)
    _by_label: dict[str, Matter] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        by_code: dict[str, Matter] = {}
        for matter in self.matters:
            if matter.code in by_code:
                raise ValueError(f"duplicate matter code {matter.code!r}")
            by_code[matter.code] = matter
        if self.default not in by_code:
            raise ValueError(f"default {self.default!r} is not a matter code")
        # A rule or label claimed by two matters would make match() depend on file order.
        self._by_rule = _claims(self.matters, "rules")
        self._by_label = _claims(self.matters, "labels")
        self._by_code = by_code
        return self

    @property
    def items(self) -> list[Matter]:
        return list(self.matters)

    @property
    def default_matter(self) -> Matter:
        return self._by_code[self.default]

    def get(self, code: str) -> Matter:
        try:
            return self._by_code[code]
        except KeyError:
            raise KeyError(f"unknown matter code {code!r}") from None

    def match(self, rule: str | None, label: str | None) -> Matter:
        """The matter for a detection: by rule, else by label, else the default."""
        if rule is not None and rule in self._by_rule:
            return self._by_rule[rule]
        if label is not None and label in self._by_label:
            return self._by_label[label]
        return self.default_matter

    def time_limit_hours(self, matter: Matter | str, hours_per_day: float = DEFAULT_HOURS_PER_DAY) -> float:
        """The time limit in working hours; a working day counts `hours_per_day`."""
        if isinstance(matter, str):
            matter = self.get(matter)
        return matter.time_limit.working_hours(hours_per_day)


def _claims(matters: list[Matter], field: Literal["rules", "labels"]) -> dict[str, Matter]:
    owner: dict[str, Matter] = {}
    for matter in matters:
        for key in getattr(matter, field):
            if key in owner:
                raise ValueError(f"{field[:-1]} {key!r} maps to both {owner[key].code} and {matter.code}")
            owner[key] = matter
    return owner


def load_catalog(path: str | Path) -> Catalog:
    """Parse and validate a catalog file; a malformed entry raises pydantic's ValidationError
    (whose locations, e.g. `matters.3.time_limit`, the caller formats)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return Catalog.model_validate(data)
