"""Care demand per community for the next quarter, from the special-group ledger and the
base data (pure: the SQL input comes from command_center/store/care_demand.py).

What is forecast, per community and care group (basedata.care's groups):
- expected members at the end of next quarter = the active members now + the new members
  expected in the rest of this quarter and in the next one. New members per quarter are
  forecast from the ledger's own history (memberships by their `since` date, by quarter).
  Exits are not forecast: the ledger keeps no end date (a membership only turns inactive),
  so the figure is an upper bound in a community where members leave.
- visits needed per month = the active members at their own plans' frequencies
  (`visit_every_days`) + the expected new ones at their group's default frequency
  (CarePolicy.visit_days), at 365.25 / 12 days a month.
- beside the ledger, from the base data: people turning 60 and 80 next quarter, elderly
  living alone (a household of exactly one person, aged 60 or more), and those of them not
  in the 独居老人 ledger: the demand the ledger does not hold yet ("potential").

Three ways to forecast a quarter's new members, each from the last HISTORY complete quarters:
- "trend": an ordinary least-squares line through them, extended (never below zero);
- "mean": their mean;
- "naive": the last one.
"auto" backtests all three on the caller's own ledger (the last complete quarter forecast
from the HISTORY before it, against what happened) and uses the one with the least error
(WAPE: Σ|forecast − actual| ÷ Σ actual over every community and group). A ledger younger
than HISTORY + 1 quarters forecasts from what it has.

Small cells: a care group counted 1 to MIN_CELL − 1 in a community is not shown (`suppress`):
with so few, a count names people to anyone who knows the street.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from itertools import zip_longest
from typing import Any, Literal

from basedata.care import GROUP_NAMES, CarePolicy

Method = Literal["trend", "mean", "naive"]
METHODS: tuple[Method, ...] = ("trend", "mean", "naive")
HISTORY = 4  # complete quarters a forecast looks back at
DAYS_PER_MONTH = 365.25 / 12
MIN_CELL = 5  # a care group's count below this (and above 0) is not shown
ROUND_TO = 10  # a community's visits total when one of its groups is not shown: to the nearest 10


@dataclass(frozen=True, order=True, slots=True)
class Quarter:
    """A calendar quarter, 2026Q1 = January to March 2026."""

    year: int
    number: int  # 1 to 4

    def __post_init__(self) -> None:
        if not 1 <= self.number <= 4:
            raise ValueError(f"a quarter is 1 to 4, not {self.number}")

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def from_index(cls, index: int) -> Quarter:
        return cls(index // 4, index % 4 + 1)

    @property
    def index(self) -> int:
        """Quarters since year 0: consecutive quarters differ by one."""
        return self.year * 4 + self.number - 1

    def shift(self, quarters: int) -> Quarter:
        return Quarter.from_index(self.index + quarters)

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The first day after it."""
        return self.shift(1).start

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    def left_after(self, day: date) -> float:
        """The share of the quarter still to come after `day` (the day itself counted as gone)."""
        total = (self.end - self.start).days
        return min(1.0, max(0.0, (self.end - day).days - 1) / total)


def predict(history: Sequence[float], method: Method = "trend", ahead: int = 1) -> float:
    """The value `ahead` quarters after the last of `history` (oldest first), never below 0.
    With fewer than two quarters there is no trend: the last value (none: 0)."""
    if not history:
        return 0.0
    if method == "naive" or len(history) < 2:
        return float(history[-1])
    n = len(history)
    mean_y = sum(history) / n
    if method == "mean":
        return float(mean_y)
    mean_t = (n - 1) / 2
    spread = sum((t - mean_t) ** 2 for t in range(n))
    slope = sum((t - mean_t) * (y - mean_y) for t, y in enumerate(history)) / spread
    return max(0.0, mean_y + slope * (n - 1 + ahead - mean_t))


@dataclass(frozen=True, slots=True)
class GroupLedger:
    """One community's one group as the ledger holds it (the SQL input)."""

    active: int = 0
    visits_per_month: float = 0.0  # of the active members, at their own plans' frequencies
    new_per_quarter: tuple[int, ...] = ()  # new members per complete quarter, oldest first


@dataclass(frozen=True, slots=True)
class CommunityInput:
    """One community's figures from the base data and the ledger (the SQL input)."""

    code: str
    residents: int = 0
    elderly: int = 0  # aged 60 or more at the start of next quarter
    over_80: int = 0
    turning_60: int = 0  # their 60th birthday falls in next quarter
    turning_80: int = 0
    elderly_alone: int = 0  # a household of one person, aged 60 or more
    alone_unenrolled: int = 0  # of those, not in the 独居老人 ledger
    alone_turning_60: int = 0  # a household of one whose person turns 60 next quarter
    ledger: Mapping[str, GroupLedger] = field(default_factory=dict)


COUNTS = ("residents", "elderly", "over_80", "turning_60", "turning_80", "elderly_alone", "alone_unenrolled",
          "alone_turning_60")  # fmt: skip


def history_quarters(coming: Quarter, n: int) -> list[Quarter]:
    """The `n` complete quarters before the current one (the one before `coming`), oldest first."""
    current = coming.shift(-1)
    return [current.shift(-k) for k in range(n, 0, -1)]


def merge(a: CommunityInput, b: CommunityInput) -> CommunityInput:
    """Two parts of one area summed (a worker's grids are read one at a time); `a`'s code."""
    ledger = dict(a.ledger)
    for group, theirs in b.ledger.items():
        mine = ledger.get(group)
        if mine is not None:
            quarters = zip_longest(mine.new_per_quarter, theirs.new_per_quarter, fillvalue=0)
            theirs = GroupLedger(
                mine.active + theirs.active,
                mine.visits_per_month + theirs.visits_per_month,
                tuple(x + y for x, y in quarters),
            )
        ledger[group] = theirs
    counts = {n: getattr(a, n) + getattr(b, n) for n in COUNTS}
    return CommunityInput(a.code, ledger=ledger, **counts)


def merge_all(rows: Iterable[CommunityInput], code: str = "") -> CommunityInput:
    summed = CommunityInput(code)
    for row in rows:
        summed = merge(summed, row)
    return summed


@dataclass(frozen=True, slots=True)
class GroupDemand:
    group: str
    active: int
    expected_new: float
    expected: float
    visits_per_month: float


def group_demand(
    group: str, ledger: GroupLedger, policy: CarePolicy, method: Method, left: float
) -> GroupDemand:
    """A group's members at the end of next quarter and its visits a month; `left`: the share
    of this quarter still to come (its new members are not in the ledger yet)."""
    history = ledger.new_per_quarter[-HISTORY:]
    new = left * predict(history, method, 1) + predict(history, method, 2)
    every = policy.every(group)  # type: ignore[arg-type]  # a group the ledger holds is a CareGroup
    visits = ledger.visits_per_month + new * DAYS_PER_MONTH / every
    return GroupDemand(group, ledger.active, new, ledger.active + new, visits)


def community_demand(
    community: CommunityInput, policy: CarePolicy, method: Method, left: float
) -> dict[str, Any]:
    """A community's forecast as the API shows it (before `suppress`)."""
    groups = [
        group_demand(g, community.ledger[g], policy, method, left)
        for g in GROUP_NAMES
        if g in community.ledger
    ]
    potential = community.alone_unenrolled + community.alone_turning_60
    return {
        "code": community.code,
        "residents": community.residents,
        "elderly": community.elderly,
        "over_80": community.over_80,
        "turning_60": community.turning_60,
        "turning_80": community.turning_80,
        "elderly_alone": community.elderly_alone,
        "alone_unenrolled": community.alone_unenrolled,
        "alone_turning_60": community.alone_turning_60,
        "groups": [
            {
                "group": d.group,
                "group_name": GROUP_NAMES[d.group],
                "active": d.active,
                "expected_new": round(d.expected_new, 1),
                "expected": round(d.expected, 1),
                "visits_per_month": round(d.visits_per_month, 1),
                "suppressed": False,
            }
            for d in groups
        ],  # fmt: skip
        "visits_per_month": round(sum(d.visits_per_month for d in groups), 1),
        # the visits if every elderly person living alone outside the ledger were taken in
        "potential_visits_per_month": round(potential * DAYS_PER_MONTH / policy.every("elderly_alone"), 1),
        "rounded": False,
    }


def small(n: int | float | None) -> bool:
    return n is not None and 0 < n < MIN_CELL


def suppress(row: dict[str, Any]) -> dict[str, Any]:
    """A community's forecast with its small cells hidden (None): a group counted 1 to
    MIN_CELL − 1 (its figures all go, so none can be worked back to the count); then the
    community's visits total, which with the shown groups would give the hidden one away,
    is rounded to ROUND_TO; and the elderly living alone outside the ledger, whose
    difference from all elderly living alone is the ledger's count, when that is small."""
    shown = dict(row)
    groups = []
    for group in row["groups"]:
        if small(group["active"]):
            group = {**group, "active": None, "expected_new": None, "expected": None,
                     "visits_per_month": None, "suppressed": True}  # fmt: skip
        groups.append(group)
    shown["groups"] = groups
    if any(g["suppressed"] for g in groups):
        shown["visits_per_month"] = float(round(row["visits_per_month"] / ROUND_TO) * ROUND_TO)
        shown["rounded"] = True
    if small(row["elderly_alone"] - row["alone_unenrolled"]):
        shown["alone_unenrolled"] = None
    return shown


@dataclass(frozen=True, slots=True)
class Backtest:
    """The last complete quarter forecast from the HISTORY before it, against what happened,
    over every (community, group) cell; WAPE per method, the chosen one's totals."""

    quarter: str
    method: Method
    cells: int
    actual: int
    forecast: float
    wape: Mapping[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "quarter": self.quarter,
            "method": self.method,
            "cells": self.cells,
            "actual": self.actual,
            "forecast": round(self.forecast, 1),
            "wape": {m: None if w is None else round(w, 3) for m, w in self.wape.items()},
        }


def backtest(series: Sequence[Sequence[int]], quarter: Quarter, method: Method | None = None) -> Backtest:
    """Each series is one cell's new members per quarter, oldest first, its last the quarter
    forecast. `method` None: the one of least WAPE (ties: the simpler, naive before mean
    before trend). WAPE is None when nothing happened (no actual to be off by)."""
    cells = [s for s in series if s]
    actual = sum(s[-1] for s in cells)
    forecasts = {m: [predict(s[:-1][-HISTORY:], m) for s in cells] for m in METHODS}
    errors = {m: sum(abs(f - s[-1]) for f, s in zip(forecasts[m], cells, strict=True)) for m in METHODS}
    wape: dict[str, float | None] = {m: (errors[m] / actual if actual else None) for m in METHODS}
    order: list[Method] = ["naive", "mean", "trend"]  # ties go to the simpler
    best: Method = min(order, key=errors.__getitem__)
    chosen: Method = best if method is None else method
    return Backtest(quarter.label, chosen, len(cells), actual, float(sum(forecasts[chosen])), wape)
