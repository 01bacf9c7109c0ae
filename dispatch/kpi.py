"""KPIs of the case loop, per worker, grid, community, street or district, over a time range.

按期结案率 (on-time closure rate) = closed by the deadline ÷ (due − deferred);
结案率 (closure rate) = closed ÷ (due − deferred), where deferred counts the cases deferred
and not (yet) closed; 返工率 (rework rate) = cases
returned at least once ÷ closed; plus mean minutes from dispatch to accept and to
close. A case counts in the range when it was created in it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from dispatch.cases import Case, CaseState

# Significant digits of each level's code: a grid's code starts with its community's.
LEVEL_DIGITS = {"district": 6, "street": 9, "community": 12, "grid": 15}
GROUPS = ("worker", *LEVEL_DIGITS)


@dataclass
class Kpi:
    key: str
    cases: int = 0
    closed: int = 0
    closed_on_time: int = 0
    deferred: int = 0
    reworked: int = 0
    on_time_rate: float | None = None  # 按期结案率
    closure_rate: float | None = None  # 结案率
    rework_rate: float | None = None  # 返工率
    mean_accept_min: float | None = None
    mean_close_min: float | None = None


def group_key(case: Case, group: str) -> str | None:
    if group == "worker":
        return case.assignee
    digits = LEVEL_DIGITS[group]
    return case.grid_code[:digits].ljust(15, "0")


def kpis(cases: Iterable[Case], group: str, start: datetime | None = None, end: datetime | None = None) -> list[Kpi]:
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}")
    rows: dict[str, Kpi] = {}
    accept: dict[str, list[float]] = defaultdict(list)
    close: dict[str, list[float]] = defaultdict(list)
    for case in cases:
        # A merged case is counted in the one it joined; a cancelled one was a false alarm
        # (作废): neither is work that was due.
        if case.state in (CaseState.MERGED, CaseState.CANCELLED):
            continue
        if (start and case.created_at < start) or (end and case.created_at >= end):
            continue
        key = group_key(case, group)
        if key is None:
            continue
        row = rows.setdefault(key, Kpi(key))
        row.cases += 1
        times = {e.action: e.ts for e in case.timeline}  # the last of each action
        dispatched = next((e.ts for e in case.timeline if e.action == "dispatch"), case.created_at)
        closed = case.state in (CaseState.CLOSED, CaseState.EVALUATED) and "close" in times
        # Deferred (缓办) and still not closed: excused from the due count. One closed after
        # its deferral is due and closed (else the rates could pass 100 %).
        if not closed and any(e.action == "defer" for e in case.timeline):
            row.deferred += 1
        if case.returns:
            row.reworked += 1
        if "accept" in times:
            accept[key].append((times["accept"] - dispatched).total_seconds() / 60)
        if closed:
            row.closed += 1
            row.closed_on_time += times["close"] <= case.deadline
            close[key].append((times["close"] - dispatched).total_seconds() / 60)
    for key, row in rows.items():
        due = row.cases - row.deferred
        row.on_time_rate = _ratio(row.closed_on_time, due)
        row.closure_rate = _ratio(row.closed, due)
        row.rework_rate = _ratio(row.reworked, row.closed)
        row.mean_accept_min = _mean(accept[key])
        row.mean_close_min = _mean(close[key])
    return sorted(rows.values(), key=lambda r: r.key)


def to_csv(rows: list[Kpi]) -> str:
    out = io.StringIO()
    fields = list(Kpi.__dataclass_fields__)
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow(asdict(row))
    return out.getvalue()


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole > 0 else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None
