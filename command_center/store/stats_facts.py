"""A case's row of `case_facts` (store/stats_schema.py), and the statements that write it.

Both stores call `write_facts` in the transaction that writes the case row (insert_case,
save_transition, the PostgreSQL batch's flush), so the facts are never behind the cases.
What is derived keeps dispatch/kpi.py's meaning exactly: the first dispatch (or the
creation) starts the clocks, the last accept and the last close stop them, a case returned
once counts as reworked, one deferred and not closed as deferred (excused from the due
count), merged and cancelled cases are not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from command_center.store.queries import compile_sql
from command_center.store.stats_schema import case_daily_dirty, case_facts
from dispatch.cases import Case, CaseState

# The city's days: each store is given its city's zone (create_store(url, days_zone), the
# runtime passes the dispatcher's); this one country-wide zone is the default.
DEFAULT_ZONE: tzinfo = ZoneInfo("Asia/Shanghai")
CLASS_CODES = ("01", "02", "03", "04", "05", "99")
CELL = 1000  # cells of 0.001° (about 100 m by 110 m here)
FACT_FIELDS = tuple(c.name for c in case_facts.columns)
UNCOUNTED = frozenset({CaseState.MERGED, CaseState.CANCELLED})
CLOSED = frozenset({CaseState.CLOSED, CaseState.EVALUATED})


def matter_class(matter_code: str) -> str:
    """A matter's class code: the catalog's codes begin with it (configs/matters.yaml)."""
    prefix = matter_code[:2]
    return prefix if prefix in CLASS_CODES else "99"


def local_day(moment: datetime, zone: tzinfo) -> str:
    return moment.astimezone(zone).date().isoformat()


def fact_params(case: Case, zone: tzinfo = DEFAULT_ZONE) -> dict[str, Any]:
    """The case's case_facts row, as the statements' parameters; its days are `zone`'s."""
    times = {e.action: e.ts for e in case.timeline}  # the last of each action
    dispatched = next((e.ts for e in case.timeline if e.action == "dispatch"), case.created_at)
    closed = case.state in CLOSED and "close" in times
    closed_at = times["close"] if closed else None
    accept = times.get("accept")
    return {
        "id": case.id,
        "created_at": case.created_at.isoformat(),
        "created_day": local_day(case.created_at, zone),
        "source": case.source,
        "matter_code": case.matter_code,
        "matter_class": matter_class(case.matter_code),
        "grid_code": case.grid_code,
        "state": case.state.value,
        "is_open": int(case.is_open),
        "counted": int(case.state not in UNCOUNTED),
        "closed": int(closed),
        "closed_at": closed_at.isoformat() if closed_at else None,
        "closed_day": local_day(closed_at, zone) if closed_at else None,
        "on_time": int(closed_at <= case.deadline) if closed_at else None,
        "reworked": int(case.returns > 0),
        # Excused from the due count: deferred (缓办) and not closed; one closed after its
        # deferral is due and closed (counting it closed but not due put rates over 100 %).
        "deferred": int(not closed and any(e.action == "defer" for e in case.timeline)),
        "accept_min": (accept - dispatched).total_seconds() / 60 if accept else None,
        "close_min": (closed_at - dispatched).total_seconds() / 60 if closed_at else None,
        "cell_x": int(round(case.lon * CELL)),
        "cell_y": int(round(case.lat * CELL)),
        "lon": case.lon,
        "lat": case.lat,
    }


def dirty_params(fact: dict[str, Any]) -> dict[str, Any]:
    return {"day": fact["created_day"], "case_id": fact["id"]}


@cache
def fact_statements(dialect: str) -> tuple[str, str]:
    """(upsert the fact, mark its day dirty). The mark is an upsert that changes the row:
    it locks it, so the job clearing the day waits for this transaction (stats_job.py)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    fact = insert(case_facts).values({n: sa.bindparam(n) for n in FACT_FIELDS})
    fact = fact.on_conflict_do_update(
        index_elements=["id"], set_={n: fact.excluded[n] for n in FACT_FIELDS if n != "id"}
    )
    mark = insert(case_daily_dirty).values(
        day=sa.bindparam("day"), case_id=sa.bindparam("case_id"), n=sa.literal_column("1")
    )
    mark = mark.on_conflict_do_update(
        index_elements=["day", "case_id"], set_={"n": case_daily_dirty.c.n + sa.literal_column("1")}
    )
    return compile_sql(fact, dialect), compile_sql(mark, dialect)


def write_facts(
    run_many: Callable[[str, list[dict[str, Any]]], object], dialect: str, cases: Iterable[Case], zone: tzinfo
) -> None:
    """Write these cases' facts (days in `zone`) and dirty marks with the caller's executemany
    (its transaction)."""
    facts = [fact_params(c, zone) for c in cases]
    if not facts:
        return
    upsert, mark = fact_statements(dialect)
    run_many(upsert, facts)
    run_many(mark, [dirty_params(f) for f in facts])
