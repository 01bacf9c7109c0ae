"""Scoring a rule's incidents against a rendered scene's ground-truth events.

An incident is a true positive when its rule is the one that watches for the event's kind, it
is raised while the event runs (give or take a grace period) and it is in the event's zone or
close to where it happens. Per rule: TP (events found), FP (incidents that match no event), FN
(events missed) and duplicates (extra incidents for an event already found: true alarms, but
repeated). Used by the rule evaluation (vision/evaluate.py), the verification evaluation and
the detect benchmark.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vision.incident import Incident

# Which rule answers which kind of rendered event.
EVENT_RULES: dict[str, str] = {
    "illegal_parking": "illegal_parking",
    "fire": "fire",
    "fallen_person": "fallen_person",
    "crowd": "crowding",
    "garbage": "dumping",
    "stall": "stall",
    "overflowing_bin": "overflowing_bin",
    "construction_waste": "construction_waste",
    "piled_goods": "piled_goods",
    "banner": "banner",
    "laundry": "laundry",
    "waterlogging": "waterlogging",
    "fallen_tree": "fallen_tree",
    "pothole": "road_damage",
    "open_manhole": "open_manhole",
    "fire_lane_parking": "fire_lane",
    "bike_pileup": "bike_pileup",
}
# An incident this long before an event starts or after it ends still counts for it: a crowd
# rule may count the gathering people a little before the event's nominal start.
GRACE_S: tuple[float, float] = (10.0, 5.0)
MARGIN_PX = 60.0  # how far from the event's spot an incident's box may be (out of its zone)
# Once an event is active its rule needs this long at most: the dwell (8 s) or the crowd's
# hold (5 s) plus a few seconds for tracks to settle. An event is only expected to be found
# when the run goes on this long after it becomes active.
SETTLE_S = 20.0



@dataclass
class RuleScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    duplicates: int = 0

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def add(self, other: RuleScore) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.duplicates += other.duplicates

    def to_dict(self) -> dict[str, Any]:
        rounded = {
            k: (None if v is None else round(v, 3)) for k, v in (("p", self.precision), ("r", self.recall))
        }
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "duplicates": self.duplicates,
            "precision": rounded["p"],
            "recall": rounded["r"],
        }


@dataclass
class Scores:
    """Per-rule scores, plus what was matched, for reports and assertions."""

    rules: dict[str, RuleScore] = field(
        default_factory=lambda: {r: RuleScore() for r in EVENT_RULES.values()}
    )
    false_alarms: list[Incident] = field(default_factory=list)
    missed: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Scores) -> None:
        for rule, score in other.rules.items():
            self.rules.setdefault(rule, RuleScore()).add(score)
        self.false_alarms += other.false_alarms
        self.missed += other.missed

    @property
    def total(self) -> RuleScore:
        out = RuleScore()
        for score in self.rules.values():
            out.add(score)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rules": {r: s.to_dict() for r, s in sorted(self.rules.items())},
            "total": self.total.to_dict(),
        }


def near(where: Sequence[float], box: Sequence[float], margin_px: float = MARGIN_PX) -> bool:
    """Is the point within the box, grown by the margin (or by half the box, if larger)?"""
    grow = max(margin_px, 0.5 * max(box[2] - box[0], box[3] - box[1]))
    return box[0] - grow <= where[0] <= box[2] + grow and box[1] - grow <= where[1] <= box[3] + grow


def matches(
    incident: Incident,
    event: dict[str, Any],
    grace_s: tuple[float, float] = GRACE_S,
    margin_px: float = MARGIN_PX,
) -> bool:
    if EVENT_RULES.get(event["kind"]) != incident.rule:
        return False
    start = min(event["start_s"], event["active_s"][0])
    end = max(event["end_s"], event["active_s"][1])
    if not start - grace_s[0] <= incident.ts <= end + grace_s[1]:
        return False
    return incident.zone == event["zone"] or near(event["where"], incident.box, margin_px)


def expected_in(events: Iterable[dict[str, Any]], t0: float, t1: float) -> list[int]:
    """Indices of the events a run from t0 to t1 must find: begun inside it, and active
    long enough before its end for the rule to fire."""
    return [i for i, e in enumerate(events) if e["start_s"] >= t0 and e["active_s"][0] + SETTLE_S <= t1]


def score(
    incidents: Iterable[Incident],
    events: Sequence[dict[str, Any]],
    expected: Iterable[int],
    grace_s: tuple[float, float] = GRACE_S,
    margin_px: float = MARGIN_PX,
) -> Scores:
    """Match incidents to events. Events outside `expected` (cut off by the run's ends) may
    absorb incidents but are neither found nor missed."""
    wanted = set(expected)
    found: set[int] = set()
    out = Scores()
    for incident in sorted(incidents, key=lambda i: i.ts):
        rule = out.rules.setdefault(incident.rule, RuleScore())
        candidates = [i for i, e in enumerate(events) if matches(incident, e, grace_s, margin_px)]
        if not candidates:
            rule.fp += 1
            out.false_alarms.append(incident)
            continue
        # An incident counts for an expected event not yet found before anything else.
        fresh = [i for i in candidates if i in wanted and i not in found]
        if fresh:
            found.add(fresh[0])
            rule.tp += 1
        elif any(i in found for i in candidates):
            rule.duplicates += 1
    for i in sorted(wanted - found):
        out.rules.setdefault(EVENT_RULES[events[i]["kind"]], RuleScore()).fn += 1
        out.missed.append(events[i])
    return out
