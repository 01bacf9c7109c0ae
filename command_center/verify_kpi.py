"""Verification tasks (基础数据定期核实) in the KPIs: /api/kpi's rows per worker, grid,
community, street or district get the tasks decided in the range, done, done on time,
still open past their deadline, and 核查按期率 (on time ÷ decided), merged by key with the
case KPIs.

dispatch/kpi.py knows nothing of base data (an import contract), so the merge is here,
under the composition root. The counts come from one GROUP BY in the database
(store/verify_task_records.py `kpis`); only the per-key rows reach Python.

A task counts in the range once it is decided, on that local day: the day it was done
(on time or late), or, while it is still open, its deadline once that has passed. An open
task whose deadline has not come is not late yet, so it is counted against no one; a task
done early counts on the day it was done (the month's work shows this month).
"""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import asdict
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from basedata.verify_tasks import rate
from command_center.store.verify_task_records import verify_task_store
from command_center.store.verify_task_views import KpiQuery
from dispatch.kpi import GROUPS, Kpi

FIELDS = ("verify_due", "verify_done", "verify_on_time", "verify_overdue", "verify_on_time_rate")


def day_range(start: datetime, end: datetime | None, tz: tzinfo, now: datetime) -> tuple[date, date, date]:
    """The range's local days [first, last) (an end inside a day includes that day) and today."""
    first = start.astimezone(tz).date()
    today = now.astimezone(tz).date()
    if end is None:
        return first, today + timedelta(days=1), today
    local = end.astimezone(tz)
    last = local.date() if local.time() == time(0) else local.date() + timedelta(days=1)
    return first, last, today


def _key(group: str, raw: str) -> str:
    # As dispatch/kpi.py keys an area: the level's digits padded to a 15-digit code.
    return raw if group == "worker" else raw.ljust(15, "0")


def _fields(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {
            "verify_due": 0,
            "verify_done": 0,
            "verify_on_time": 0,
            "verify_overdue": 0,
            "verify_on_time_rate": None,
        }
    return {
        "verify_due": row["due"],
        "verify_done": row["done"],
        "verify_on_time": row["on_time"],
        "verify_overdue": row["overdue"],
        "verify_on_time_rate": rate(row["on_time"], row["due"]),  # 核查按期率
    }


def verify_rows(
    store: object, group: str, prefix: str, days: tuple[date, date, date]
) -> dict[str, dict[str, Any]]:
    """Per KPI key, the verification counts under `prefix` for tasks decided in [first, last)."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}")
    first, last, today = days
    rows = verify_task_store(store).kpis(KpiQuery(group, prefix, first, last, today))
    return {_key(group, str(row["key"])): row for row in rows}


async def with_verify_tasks(
    items: list[Kpi], store: object, group: str, prefix: str, days: tuple[date, date, date]
) -> list[dict[str, Any]]:
    """The case KPI rows as dicts, each with its verification fields; a key with tasks but
    no case in the range gets a row of its own (zero cases). Sorted by key, as kpis() is."""
    found = await asyncio.to_thread(verify_rows, store, group, prefix, days)
    merged = {row.key: asdict(row) | _fields(found.get(row.key)) for row in items}
    for key, row in found.items():
        if key not in merged:
            merged[key] = asdict(Kpi(key)) | _fields(row)
    return [merged[key] for key in sorted(merged)]


def to_csv(items: list[dict[str, Any]]) -> str:
    """The merged rows as CSV: the case KPI columns first (dispatch/kpi.py's order), then these."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=[*Kpi.__dataclass_fields__, *FIELDS])
    writer.writeheader()
    writer.writerows(items)
    return out.getvalue()
