"""The cost–benefit figures of one area and month (docs/COSTS.md), from the database's sums
(store/cost_records.Attribution): per child area, per matter and matter class, and the
totals. Only divisions and the arrangement happen here; every sum is SQL's.

Money is yuan with two decimals; a figure whose denominator is 0 is null.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from command_center.costs.lines import CATEGORIES, fen_to_yuan
from command_center.store.cost_records import Attribution
from command_center.store.stats_facts import matter_class

ROUNDS = {"patrol": "巡查", "care": "走访"}  # work that is no case: its own matters
ROUNDS_CLASS = ("rounds", "巡查走访")
CLASS_NAMES = {
    "01": "市容环境",
    "02": "宣传广告",
    "03": "施工管理",
    "04": "突发事件",
    "05": "街面秩序",
    "99": "其他",
}
SENSING = ("equipment", "iot", "video")


@dataclass(frozen=True, slots=True)
class Child:
    code: str
    name: str
    level: str


@dataclass(slots=True)
class Tally:
    """One row's sums: fen per category (attributed), budget, cases and how they were found."""

    cost: dict[str, float]
    case_cost: float = 0.0
    budget: int = 0
    unattributed: int = 0
    cases: int = 0
    sensed: int = 0
    worker_found: int = 0
    citizen: int = 0
    checkins: int = 0
    visits: int = 0
    residents: int = 0

    @classmethod
    def new(cls) -> Tally:
        return cls(defaultdict(float))

    @property
    def total(self) -> float:
        return sum(self.cost.values()) + self.unattributed


def _per(fen: float, n: int) -> float | None:
    return round(fen / 100 / n, 2) if n > 0 else None


def figures(t: Tally) -> dict[str, Any]:
    sensing = sum(t.cost.get(k, 0.0) for k in SENSING)
    return {
        "budget": fen_to_yuan(t.budget),
        "cost": fen_to_yuan(t.total),
        "unattributed": fen_to_yuan(t.unattributed),
        "cases": t.cases,
        "sensed": t.sensed,
        "worker_found": t.worker_found,
        "citizen": t.citizen,
        "early_share": round((t.sensed + t.worker_found) / t.cases, 4) if t.cases else None,
        "checkins": t.checkins,
        "visits": t.visits,
        "residents": t.residents,
        "cost_per_case": _per(t.case_cost, t.cases),
        "cost_per_resident": _per(t.total, t.residents),
        "cost_per_sensed_case": _per(sensing, t.sensed),
        "by_category": {k: fen_to_yuan(t.cost.get(k, 0.0)) for k in CATEGORIES},
    }


def _class_of(matter: str) -> tuple[str, str]:
    if matter in ROUNDS:
        return ROUNDS_CLASS
    klass = matter_class(matter)
    return klass, CLASS_NAMES.get(klass, klass)


def arrange(
    found: Attribution, children: list[Child], digits: int, matter_name: Callable[[str], str]
) -> dict[str, Any]:
    """totals, categories, children, matters and classes of an area's month."""
    total, kids = Tally.new(), {c.code[:digits]: Tally.new() for c in children}
    matters: dict[str, Tally] = defaultdict(Tally.new)
    budget_by: dict[str, int] = defaultdict(int)
    lost_by: dict[str, int] = defaultdict(int)
    for child, matter, category, fen in found.shares:
        for tally in (total, kids.get(child), matters[matter]):
            if tally is not None:
                tally.cost[category] += fen
                tally.case_cost += 0.0 if matter in ROUNDS else fen
    for area, category, fen in found.unattributed:
        lost_by[category] += fen
        for tally in (total, kids.get(area[:digits])):
            if tally is not None:
                tally.unattributed += fen
    for area, category, fen in found.budget:
        budget_by[category] += fen
        for tally in (total, kids.get(area[:digits])):
            if tally is not None:
                tally.budget += fen
    for child, matter, n, sensed, worker, citizen in found.cases:
        for tally in (total, kids.get(child), matters[matter]):
            if tally is not None:
                tally.cases += n
                tally.sensed, tally.worker_found, tally.citizen = (
                    tally.sensed + sensed,
                    tally.worker_found + worker,
                    tally.citizen + citizen,
                )
    for child, checkins, visits in found.rounds:
        for tally in (total, kids.get(child)):
            if tally is not None:
                tally.checkins, tally.visits = tally.checkins + checkins, tally.visits + visits
    for child, people in found.residents.items():
        total.residents += people
        if child in kids:
            kids[child].residents += people
    return {
        "totals": figures(total),
        "categories": [{"category": k, "name": name, "budget": fen_to_yuan(budget_by.get(k, 0)),
                        "cost": fen_to_yuan(total.cost.get(k, 0.0)), "unattributed": fen_to_yuan(lost_by.get(k, 0))}
                       for k, name in CATEGORIES.items()],
        "children": [{"code": c.code, "name": c.name, "level": c.level} | figures(kids[c.code[:digits]]) for c in children],
        "matters": _matters(matters, matter_name),
        "classes": _classes(matters),
    }  # fmt: skip


def _matters(matters: dict[str, Tally], matter_name: Callable[[str], str]) -> list[dict[str, Any]]:
    rows = []
    for code, t in matters.items():
        klass, class_name = _class_of(code)
        shown = figures(t)
        rows.append({"code": code, "name": ROUNDS.get(code) or matter_name(code), "class": klass,
                     "class_name": class_name, "cases": t.cases, "cost": shown["cost"],
                     "cost_per_case": shown["cost_per_case"], "sensed": t.sensed, "worker_found": t.worker_found,
                     "citizen": t.citizen, "early_share": shown["early_share"], "by_category": shown["by_category"]})  # fmt: skip
    return sorted(rows, key=lambda r: (-(r["cost"] or 0), r["code"]))


def _classes(matters: dict[str, Tally]) -> list[dict[str, Any]]:
    classes: dict[tuple[str, str], Tally] = defaultdict(Tally.new)
    for code, t in matters.items():
        c = classes[_class_of(code)]
        for category, fen in t.cost.items():
            c.cost[category] += fen
        c.case_cost += t.case_cost
        c.cases += t.cases
    rows = [{"class": k, "class_name": name, "cases": t.cases, "cost": fen_to_yuan(t.total),
             "cost_per_case": _per(t.case_cost, t.cases)} for (k, name), t in classes.items()]  # fmt: skip
    return sorted(rows, key=lambda r: (-(r["cost"] or 0), r["class"]))
