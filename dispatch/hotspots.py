"""Hotspots (热点预警): areas where reports pile up well above their own usual rate.

What counts: every intake, at its own time. A case counts once for the report that
opened it and once for each duplicate later attached to it (its "report" and "attach"
timeline entries), so ten cameras seeing one pile of rubbish count ten times although
dispatch made one case of them. Incidents or other records can be fed the same way
as `Occurrence`s.

The rule, per area (a grid, or the community, street or district above it) and
optionally per matter:
- the recent window is the last `window` before `now`; the baseline is the
  `baseline` windows of the same length before it (zeros included);
- with mean μ and standard deviation σ of the baseline counts, the area is hot when
      recent ≥ min_count  and  recent ≥ μ + k · max(σ, √μ, 1).
  The √μ floor is the spread of a Poisson count of mean μ: a perfectly regular
  history (σ = 0) must not turn one extra report into an alarm. The floor of 1 makes
  an area with no history need at least k reports, and `min_count` keeps a handful of
  reports from ever being a hotspot on their own.
- the score is (recent − μ) / max(σ, √μ, 1): how many spreads above usual.

Defaults: hourly windows against the previous 24 hours, k = 3, min_count = 3.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from dispatch.cases import Case
from dispatch.city.codes import Level, ancestor_at, is_code

INTAKE_ACTIONS = ("report", "attach")


@dataclass(frozen=True, slots=True)
class Occurrence:
    ts: datetime
    grid_code: str
    matter_code: str


@dataclass(frozen=True, slots=True)
class HotspotRule:
    window: timedelta = timedelta(hours=1)
    baseline: int = 24  # windows of history before the recent one
    k: float = 3.0
    min_count: int = 3

    def __post_init__(self) -> None:
        if self.window <= timedelta(0) or self.baseline < 1 or self.k < 0 or self.min_count < 1:
            raise ValueError("window > 0, baseline ≥ 1, k ≥ 0 and min_count ≥ 1 are required")

    @property
    def span(self) -> timedelta:
        """How far back the rule looks, recent window included."""
        return self.window * (self.baseline + 1)

    def judge(self, series: np.ndarray) -> tuple[bool, float, float, float, float]:
        """(hot, score, mean, std, threshold) for counts oldest first, the recent one last."""
        history, recent = series[:-1], float(series[-1])
        mean = float(history.mean()) if history.size else 0.0
        std = float(history.std()) if history.size else 0.0
        spread = max(std, math.sqrt(mean), 1.0)
        threshold = mean + self.k * spread
        hot = recent >= self.min_count and recent >= threshold
        return hot, (recent - mean) / spread, mean, std, threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "window_s": self.window.total_seconds(),
            "baseline": self.baseline,
            "k": self.k,
            "min_count": self.min_count,
        }


@dataclass(frozen=True, slots=True)
class Hotspot:
    code: str  # the area
    level: str
    matter_code: str | None  # None: all matters together
    at: datetime  # end of the recent window
    recent: int
    baseline_mean: float
    baseline_std: float
    threshold: float
    score: float
    series: tuple[int, ...] = field(default=())  # counts per window, oldest first, recent last

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": self.level,
            "matter_code": self.matter_code,
            "at": self.at.isoformat(),
            "recent": self.recent,
            "baseline_mean": round(self.baseline_mean, 3),
            "baseline_std": round(self.baseline_std, 3),
            "threshold": round(self.threshold, 3),
            "score": round(self.score, 2),
            "series": list(self.series),
        }


def occurrences_of(cases: Iterable[Case]) -> list[Occurrence]:
    """One occurrence per intake behind each case (see the module docstring)."""
    out: list[Occurrence] = []
    for case in cases:
        stamps = [e.ts for e in case.timeline if e.action in INTAKE_ACTIONS] or [case.created_at]
        out.extend(Occurrence(ts, case.grid_code, case.matter_code) for ts in stamps)
    return out


def area_key(grid_code: str, level: Level) -> str:
    """The area at `level` that a stored grid code belongs to (the code itself when it
    is shallower, e.g. a case filed under its community)."""
    return (ancestor_at(grid_code, level) if is_code(grid_code) else None) or grid_code


def counts(
    occurrences: Iterable[Occurrence], now: datetime, rule: HotspotRule, level: Level = "grid", by_matter: bool = False
) -> dict[tuple[str, str | None], np.ndarray]:
    """Counts per (area, matter or None) in each of the rule's windows up to `now`, oldest first."""
    window_s = rule.window.total_seconds()
    end = now.timestamp()
    n = rule.baseline + 1
    out: dict[tuple[str, str | None], np.ndarray] = {}
    for occ in occurrences:
        age = end - occ.ts.timestamp()
        if not 0 <= age < window_s * n:
            continue
        key = (area_key(occ.grid_code, level), occ.matter_code if by_matter else None)
        series = out.get(key)
        if series is None:
            series = out[key] = np.zeros(n, dtype=np.int64)
        series[n - 1 - int(age // window_s)] += 1
    return out


def find_hotspots(
    occurrences: Iterable[Occurrence],
    now: datetime | None = None,
    rule: HotspotRule | None = None,
    level: Level = "grid",
    by_matter: bool = False,
) -> list[Hotspot]:
    """Every hot area at `now`, hottest first."""
    now = now or datetime.now(UTC)
    rule = rule or HotspotRule()
    found = []
    for (code, matter), series in counts(occurrences, now, rule, level, by_matter).items():
        hot, score, mean, std, threshold = rule.judge(series)
        if hot:
            found.append(
                Hotspot(code, level, matter, now, int(series[-1]), mean, std, threshold, score, tuple(series.tolist()))
            )
    return sorted(found, key=lambda h: (-h.score, h.code))


class HotspotTracker:
    """The same rule kept up to date one intake at a time, for alerts as they happen.

    `add` returns a Hotspot when that intake makes its area hot; an area that stays hot
    is announced again at most once per window, so a burst yields one alert, not one
    per report.
    """

    def __init__(self, rule: HotspotRule | None = None, level: Level = "grid") -> None:
        self.rule = rule or HotspotRule()
        self.level = level
        self._times: dict[str, list[float]] = defaultdict(list)  # sorted, within the rule's span
        self._announced: dict[str, float] = {}

    def seed(self, occurrences: Iterable[Occurrence]) -> None:
        """History from before the tracker started; announces nothing."""
        for occ in occurrences:
            bisect.insort(self._times[area_key(occ.grid_code, self.level)], occ.ts.timestamp())

    def add(self, occ: Occurrence) -> Hotspot | None:
        code = area_key(occ.grid_code, self.level)
        times = self._times[code]
        now = occ.ts.timestamp()
        bisect.insort(times, now)
        window_s = self.rule.window.total_seconds()
        # Reports arrive roughly in order; keep only what the newest one can still see.
        del times[: bisect.bisect_left(times, times[-1] - window_s * (self.rule.baseline + 1))]
        edges = now - window_s * np.arange(self.rule.baseline + 1, -1, -1)
        series = np.diff(np.searchsorted(np.asarray(times), edges, side="right"))
        hot, score, mean, std, threshold = self.rule.judge(series)
        if not hot:
            return None
        last = self._announced.get(code)
        if last is not None and now - last < window_s:
            return None
        self._announced[code] = now
        at = occ.ts.astimezone(UTC)
        return Hotspot(code, self.level, None, at, int(series[-1]), mean, std, threshold, score, tuple(series.tolist()))

    def prune(self, now: datetime) -> None:
        """Forget areas with nothing inside the rule's span (call it now and then)."""
        horizon = now.timestamp() - self.rule.span.total_seconds()
        for code in [c for c, t in self._times.items() if not t or t[-1] < horizon]:
            del self._times[code]
            self._announced.pop(code, None)
