"""The assessment's indicators, summed by the database (docs/ASSESSMENT.md): one GROUP BY per
source table and level over a month, never the cases loaded into Python.

Cases are `case_facts` (dispatch/kpi.py's definitions, as the statistics read them), counted
in the month they were created; a worker's are the cases assigned to them (`cases.assignee`).
A closure counts only when it happened by the run's cut-off day (the month's end plus the
grace days), so a month scored again later sees the same closures. A case an approved
appeal took out of a subject's month is left out of that subject's indicators only.
The other sources: re-check tasks closed (verify_tasks), care visits made (care_visits),
key places checked in at (patrol_checkins, distinct places) and days on duty
(attendance_days), each in the month; citizen satisfaction is the mean stars of ratings of
the month's cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dispatch.kpi import LEVEL_DIGITS

CASE_KEYS = ("on_time_rate", "closure_rate", "rework_rate", "mean_accept_min", "mean_close_min")


@dataclass(frozen=True, slots=True)
class MonthSpan:
    month: str  # YYYY-MM
    lo: str  # first day
    hi: str  # last day
    cutoff: str  # closures up to this day count

    @classmethod
    def of(cls, month: str, grace_days: int) -> MonthSpan:
        first = date.fromisoformat(month + "-01")
        after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        last = after - timedelta(days=1)
        return cls(month, first.isoformat(), last.isoformat(), (last + timedelta(days=grace_days)).isoformat())

    def params(self, level: str) -> dict[str, Any]:
        return {"lo": self.lo, "hi": self.hi, "cutoff": self.cutoff, "month": self.month, "level": level}


def _key(level: str, worker: str, grid: str) -> str:
    """The GROUP BY expression of a level: a worker column, or an area's code prefix."""
    return worker if level == "worker" else f"substr({grid}, 1, {LEVEL_DIGITS[level]})"


def subject_of(level: str, key: str) -> str:
    return key if level == "worker" else key.ljust(15, "0")


def key_of(level: str, subject: str) -> str:
    return subject if level == "worker" else subject[: LEVEL_DIGITS[level]]


def _only(key: str, one: bool) -> str:
    return f" AND {key} = :subject_key" if one else ""


def _not_appealed(key: str) -> str:
    return (" AND NOT EXISTS (SELECT 1 FROM assessment_appeals a WHERE a.case_id = f.id AND a.month = :month"
            f" AND a.level = :level AND a.state = 'approved' AND a.subject_key = {key})")  # fmt: skip


def case_sql(level: str, one: bool = False) -> str:
    key = _key(level, "c.assignee", "f.grid_code")
    join = " JOIN cases c ON c.id = f.id" if level == "worker" else ""
    done = "f.closed = 1 AND f.closed_day <= :cutoff"
    return (
        f"SELECT {key} AS k, count(*), sum(CASE WHEN {done} THEN 1 ELSE 0 END),"
        f" sum(CASE WHEN {done} AND f.on_time = 1 THEN 1 ELSE 0 END), sum(f.deferred), sum(f.reworked),"
        f" sum(CASE WHEN {done} THEN f.close_min ELSE 0 END), count(f.accept_min), sum(f.accept_min)"
        f" FROM case_facts f{join}"
        f" WHERE f.counted = 1 AND f.created_day >= :lo AND f.created_day <= :hi AND {key} IS NOT NULL"
        f"{_only(key, one)}{_not_appealed(key)} GROUP BY {key}"
    )


def satisfaction_sql(level: str, one: bool = False) -> str:
    key = _key(level, "c.assignee", "f.grid_code")
    join = " JOIN cases c ON c.id = f.id" if level == "worker" else ""
    return (
        f"SELECT {key} AS k, sum(r.stars), count(*) FROM case_ratings r JOIN case_facts f ON f.id = r.case_id{join}"
        " WHERE f.counted = 1 AND f.created_day >= :lo AND f.created_day <= :hi"
        f" AND substr(r.rated_at, 1, 10) <= :cutoff AND {key} IS NOT NULL{_only(key, one)}{_not_appealed(key)}"
        f" GROUP BY {key}"
    )


def count_sql(level: str, indicator: str, one: bool = False) -> str:
    """verify_done, care_visits, patrol_places, attendance_days: one count per subject."""
    if indicator == "verify_done":
        key = _key(level, "t.worker_id", "t.grid_code")
        body = "count(*) FROM verify_tasks t WHERE t.closed_on >= :lo AND t.closed_on <= :hi"
    elif indicator == "care_visits":
        key = _key(level, "v.worker_id", "m.grid_code")
        body = ("count(*) FROM care_visits v JOIN care_memberships m ON m.id = v.membership_id"
                " WHERE substr(v.at, 1, 10) >= :lo AND substr(v.at, 1, 10) <= :hi")  # fmt: skip
    elif indicator == "patrol_places":
        key = _key(level, "p.worker_id", "p.grid_code")
        body = ("count(DISTINCT p.place_id) FROM patrol_checkins p"
                " WHERE substr(p.at, 1, 10) >= :lo AND substr(p.at, 1, 10) <= :hi")  # fmt: skip
    elif indicator == "attendance_days":
        key = _key(level, "d.worker_id", "d.grid_code")
        body = "count(*) FROM attendance_days d WHERE d.day >= :lo AND d.day <= :hi"
    else:
        raise ValueError(f"no count indicator {indicator!r}")
    return f"SELECT {key} AS k, {body} AND {key} IS NOT NULL{_only(key, one)} GROUP BY {key}"


def case_values(row: Any) -> tuple[int, dict[str, float | None]]:
    """(cases, the case indicators) from a case_sql row (after its key)."""
    cases, closed, on_time, deferred, reworked, sum_close, n_accept, sum_accept = (row[i] for i in range(8))
    due = int(cases) - int(deferred or 0)
    closed = int(closed or 0)

    def ratio(part: Any, whole: int) -> float | None:
        return round(int(part or 0) / whole, 4) if whole > 0 else None

    return int(cases), {
        "on_time_rate": ratio(on_time, due),
        "closure_rate": ratio(closed, due),
        "rework_rate": ratio(reworked, closed),
        "mean_accept_min": round(float(sum_accept) / int(n_accept), 2) if n_accept else None,
        "mean_close_min": round(float(sum_close or 0) / closed, 2) if closed else None,
    }
