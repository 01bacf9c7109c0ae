"""The matter catalog (入格事项): what a case is about, who handles it, and how fast.

Loaded from YAML (`configs/matters.yaml`). Detector rules and labels map to matters;
anything unmapped becomes the catalog's default matter, so no incident is dropped.

Each district may have its own catalogue (入格事项清单): the base one plus the approved
versions the city (district "") and the district made, each effective from a day on
(`CatalogBook.for_area`). Rule and label matching stays on the base catalogue: a detector's
rule names a kind of matter, the district decides its time limit and standard.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
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


# How fast a matter must be met (its time limit follows): a fire is minutes by the clock,
# day or night; a street stall is working hours or days.
Urgency = Literal["immediate", "urgent", "routine"]
# auto: dispatched on intake; confirm: waits for the hall to confirm within `confirm_s`.
DispatchPolicy = Literal["auto", "confirm"]
# What a confirm-first case does when nobody confirmed it in time.
Unconfirmed = Literal["dispatch", "hold"]


class TimeLimit(_Strict):
    """Exactly one of clock `minutes` (around the clock: immediate matters), working `hours`
    or working `days`."""

    minutes: float | None = Field(default=None, gt=0)
    hours: float | None = Field(default=None, gt=0)
    days: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> TimeLimit:
        if sum(v is not None for v in (self.minutes, self.hours, self.days)) != 1:
            raise ValueError("give exactly one of 'minutes', 'hours' or 'days'")
        return self

    def working_hours(self, hours_per_day: float = DEFAULT_HOURS_PER_DAY) -> float:
        if self.minutes is not None:
            return self.minutes / 60
        return self.hours if self.hours is not None else float(self.days or 0) * hours_per_day


VerifyPolicy = Literal["auto", "suggest", "off"]


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
    urgency: Urgency = "routine"
    dispatch: DispatchPolicy = "auto"
    confirm_s: float = Field(default=120.0, gt=0, le=3600, description="confirm-first: how long the hall has")
    unconfirmed: Unconfirmed = Field(default="dispatch", description="confirm-first: when nobody confirmed in time")
    # The emergency class the wall offers to raise incident mode with (emergency/plans.py).
    emergency_class: Literal["natural_disaster", "accident", "public_health", "social_security"] | None = None
    # Video verification (视频核查) of a video case reported handled: auto (the camera's verdict
    # verifies or returns the case), suggest (an officer confirms the verdict in one click) or
    # off (people check, as for every other case). `verify_hold_s`: how long the scene must
    # stay clear; `verify_timeout_s`: how long the camera looks before it gives up (unsure).
    verify: VerifyPolicy = "off"
    verify_hold_s: float = Field(default=60.0, gt=0, le=3600)
    verify_timeout_s: float = Field(default=300.0, gt=0, le=7200)


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


Source = Literal["base", "city", "district"]
CACHED_CATALOGUES = 512  # (district, day) pairs kept: a day's worth of districts many times over


@dataclass(frozen=True, slots=True)
class MatterVersion:
    """An approved version of a matter for a district ("" = the whole city), from a day on."""

    matter: Matter
    district: str
    version: int
    effective_from: date


@dataclass(frozen=True, slots=True)
class Entry:
    """A matter as a district's catalogue has it on a day, and where that came from."""

    matter: Matter
    source: Source
    district: str  # "" for the base and city-wide versions
    version: int  # 0: the base catalogue's (the configuration file's)
    effective_from: date | None


class CatalogBook:
    """The base catalogue plus the approved versions: the catalogue in effect for each district
    on each day. Immutable: a change builds a new book, swapped in whole."""

    def __init__(self, base: Catalog, versions: Iterable[MatterVersion] = ()) -> None:
        self.base = base
        # Oldest first: of the versions in effect on a day, the latest effective (then the
        # highest numbered) is applied last and wins.
        self.versions = tuple(sorted(versions, key=lambda v: (v.effective_from, v.version)))
        self._cache: dict[tuple[str, date], tuple[Catalog, dict[str, Entry]]] = {}
        in_base = {m.code: m for m in base.items}
        latest = {v.matter.code: v.matter for v in sorted(self.versions, key=lambda v: v.version)}
        self._known = in_base | {code: m for code, m in latest.items() if code not in in_base}
        # Where a case may be transferred: every department any catalogue names.
        self.departments = frozenset(m.department for m in base.items) | {v.matter.department for v in self.versions}

    def entries(self, district: str, day: date) -> dict[str, Entry]:
        """Code → entry of the district's catalogue on `day` (district "" = the city's)."""
        return self._resolved(district, day)[1]

    def for_district(self, district: str, day: date) -> Catalog:
        return self._resolved(district, day)[0]

    def for_area(self, grid_code: str, day: date) -> Catalog:
        """The catalogue for cases created on `day` in the district of `grid_code`."""
        return self._resolved(grid_code[:6], day)[0]

    def find(self, code: str) -> Matter | None:
        """A matter by code in any catalogue (the base's first): for names and unknown-code checks."""
        return self._known.get(code)

    def _resolved(self, district: str, day: date) -> tuple[Catalog, dict[str, Entry]]:
        key = (district, day)
        found = self._cache.get(key)
        if found is None:
            found = self._build(district, day)
            if len(self._cache) >= CACHED_CATALOGUES:
                self._cache.clear()  # days move on: the old ones are not asked for again
            self._cache[key] = found
        return found

    def _build(self, district: str, day: date) -> tuple[Catalog, dict[str, Entry]]:
        entries = {m.code: Entry(m, "base", "", 0, None) for m in self.base.items}
        for scope in ("", district) if district else ("",):
            for v in self.versions:
                if v.district == scope and v.effective_from <= day:
                    source: Source = "district" if scope else "city"
                    entries[v.matter.code] = Entry(v.matter, source, scope, v.version, v.effective_from)
        matters = _without_clashes([e.matter for e in entries.values()])
        catalog = Catalog(matters=matters, default=self.base.default)
        return catalog, {m.code: replace_matter(entries[m.code], m) for m in matters}


def replace_matter(entry: Entry, matter: Matter) -> Entry:
    return entry if entry.matter is matter else Entry(matter, entry.source, entry.district, entry.version, entry.effective_from)


def _without_clashes(matters: list[Matter]) -> list[Matter]:
    """A rule or label claimed by an earlier matter is left off a later one: a district's
    catalogue must still be a valid Catalog (matching itself uses the base's)."""
    claimed: set[tuple[str, str]] = set()
    kept = []
    for matter in matters:
        rules = [r for r in matter.rules if ("rule", r) not in claimed]
        labels = [lb for lb in matter.labels if ("label", lb) not in claimed]
        claimed |= {("rule", r) for r in rules} | {("label", lb) for lb in labels}
        if rules != matter.rules or labels != matter.labels:
            matter = matter.model_copy(update={"rules": rules, "labels": labels})
        kept.append(matter)
    return kept
