"""Scores, ranks, top/bottom lists and honours from indicator values (pure).

An indicator's points run linearly from 0 at its `zero` threshold to 1 at `full`, clamped.
A subject's score is 100 × the weighted mean of the points of the indicators it has values
for: an indicator without a value (no case closed, no rating) drops out and its weight is
shared by the rest, so a worker without ratings is neither rewarded nor punished for that.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from assessment.scheme import Indicator, LevelScheme

Values = Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class Scored:
    """One subject's month at one level, as frozen."""

    level: str
    subject: str
    cases: int
    score: float
    rank: int
    values: dict[str, float | None] = field(default_factory=dict)
    points: dict[str, float | None] = field(default_factory=dict)

    def doc(self) -> dict[str, object]:
        return {"level": self.level, "subject": self.subject, "cases": self.cases, "score": self.score,
                "rank": self.rank, "values": self.values, "points": self.points}  # fmt: skip


def points(indicator: Indicator, value: float | None) -> float | None:
    if value is None:
        return None
    share = (value - indicator.zero) / (indicator.full - indicator.zero)  # the sign handles 'lower'
    return round(min(1.0, max(0.0, share)), 4)


def score(scheme: LevelScheme, values: Values) -> tuple[float | None, dict[str, float | None]]:
    """(score 0–100 or None when no indicator has a value, each indicator's points)."""
    got: dict[str, float | None] = {i.key: points(i, values.get(i.key)) for i in scheme.indicators}
    weights = {i.key: i.weight for i in scheme.indicators if got[i.key] is not None}
    total = sum(weights.values())
    if total <= 0:
        return None, got
    weighted = sum(weights[k] * (got[k] or 0.0) for k in weights)
    return round(100 * weighted / total, 2), got


def ranks(scores: Mapping[str, float]) -> dict[str, int]:
    """Competition ranks (1, 2, 2, 4): best score first; ties share a rank."""
    order = sorted(scores, key=lambda s: (-scores[s], s))
    out: dict[str, int] = {}
    for i, subject in enumerate(order):
        previous = order[i - 1] if i else None
        same = previous is not None and scores[previous] == scores[subject]
        out[subject] = out[previous] if same and previous is not None else i + 1
    return out


def score_level(level: str, scheme: LevelScheme, rows: Mapping[str, tuple[int, Values]]) -> list[Scored]:
    """Every subject's score and rank at one level; rows: subject → (cases, values).
    Subjects under `min_cases` or without any value are left out (not ranked)."""
    scored: dict[str, tuple[int, float, dict[str, float | None], dict[str, float | None]]] = {}
    for subject, (cases, values) in rows.items():
        if cases < scheme.min_cases:
            continue
        total, got = score(scheme, values)
        if total is not None:
            kept: dict[str, float | None] = {i.key: values.get(i.key) for i in scheme.indicators}
            scored[subject] = (cases, total, kept, got)
    ranked = ranks({s: v[1] for s, v in scored.items()})
    out = [Scored(level, s, v[0], v[1], ranked[s], v[2], v[3]) for s, v in scored.items()]
    return sorted(out, key=lambda r: (r.rank, r.subject))


def top_bottom(ranked: Sequence[Scored], top_n: int, bottom_n: int) -> tuple[list[Scored], list[Scored]]:
    """The best `top_n` (best first) and the worst `bottom_n` (worst first), never overlapping."""
    ordered = sorted(ranked, key=lambda r: (r.rank, r.subject))
    top = ordered[:top_n]
    rest = ordered[len(top):]
    bottom = list(reversed(rest))[:bottom_n]
    return top, bottom


def top_cut(count: int, top_percent: float) -> int:
    """How many ranks are 'the top p %' of `count` ranked subjects (at least 1 when any)."""
    return max(1, math.ceil(count * top_percent / 100 - 1e-9)) if count else 0


def honoured(history: Sequence[Mapping[str, int]], top_percent: float, months: int) -> set[str]:
    """Subjects in the top p % in each of the last `months` months; history: oldest first,
    one month's subject → rank each, consecutive months (a missing month breaks the run)."""
    if len(history) < months:
        return set()
    found: set[str] | None = None
    for month in history[-months:]:
        cut = top_cut(len(month), top_percent)
        best = {s for s, r in month.items() if r <= cut}
        found = best if found is None else found & best
    return found or set()


def digest(rows: Iterable[Scored], honours: Iterable[tuple[str, str, str]]) -> str:
    """sha256 of the month's results in canonical JSON: equal digests, byte-equal results."""
    body = {"scores": sorted((r.doc() for r in rows), key=lambda d: (str(d["level"]), str(d["subject"]))),
            "honours": sorted(honours)}  # fmt: skip
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
