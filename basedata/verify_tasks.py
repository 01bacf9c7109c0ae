"""Verification tasks (基础数据定期核实任务): when a base-data record becomes a grid worker's
task to re-check, whose task it is, its deadline, and whether it was done on time.

Pure domain, no I/O: the store (command_center/store/verify_task_records.py) applies these
rules in SQL, the sweep (command_center/verify_tasks_job.py) runs them on a clock, the API
(command_center/api/verify_tasks.py) lists the tasks and the KPIs count them.

A record is due again on its `next_check_at` (basedata/cycles.py: rental housing monthly,
the rest quarterly). Its task opens `lead_days` before that day, so the worker can fit the
visit into a round, and its deadline is `next_check_at` itself: re-checked on that day or
before is on time. One open task per record; re-checking the record (a PATCH with
`"verified": true`) closes it and moves `next_check_at` on by the cycle, so the next task
opens one cycle later.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from basedata.model import RecordKind
from dispatch.city.model import Worker

TaskState = Literal["open", "overdue", "done"]
# What the sweep makes tasks of by default. People are checked with their household: the
# worker at the door re-checks the household and who lives in it in one visit (the collect
# form lists them), and at Guangzhou's scale (~18 million residents, ~22,000 workers) a task
# per person would be some 800 open tasks per worker at any time: a list nobody can work.
DEFAULT_KINDS: tuple[RecordKind, ...] = ("address", "building", "household", "organisation")


def _default_kinds() -> list[RecordKind]:
    return list(DEFAULT_KINDS)


class VerifyTaskPolicy(BaseModel):
    """`basedata.verify_tasks` in the config: how early a task opens, how often the sweep
    runs, which kinds of record become tasks."""

    model_config = ConfigDict(extra="forbid")

    lead_days: int = Field(
        default=7,
        ge=0,
        le=60,
        description="days before a record's next check that its task opens (0: on the day)",
    )
    sweep_s: float = Field(
        default=3600, ge=1, le=86_400, description="seconds between sweeps that open new tasks"
    )
    kinds: list[RecordKind] = Field(
        default_factory=_default_kinds,
        description="record kinds that become tasks; people are left out by default: they are checked with"
        " their household (one visit), and a task per resident would bury each worker in hundreds",
    )

    @field_validator("kinds")
    @classmethod
    def _once_each(cls, kinds: list[RecordKind]) -> list[RecordKind]:
        if len(set(kinds)) != len(kinds):
            raise ValueError("each kind at most once")
        return kinds


def horizon(today: date, policy: VerifyTaskPolicy) -> date:
    """A record whose next check falls on this day or before has an open task on `today`."""
    return today + timedelta(days=policy.lead_days)


def opens_on(next_check_at: date | None, policy: VerifyTaskPolicy) -> date | None:
    """The day a record's task opens (None: never checked, its task opens at the next sweep)."""
    return None if next_check_at is None else next_check_at - timedelta(days=policy.lead_days)


def deadline(next_check_at: date | None, today: date, policy: VerifyTaskPolicy) -> date:
    """A task's deadline: the record's next check; a record never checked (imported without
    a date) gets the lead time from the day its task opens, not a deadline already past."""
    return next_check_at if next_check_at is not None else horizon(today, policy)


def on_time(closed_on: date, due_on: date) -> bool:
    """Re-checked on the deadline or before."""
    return closed_on <= due_on


def state(due_on: date, closed: bool, today: date) -> TaskState:
    """done once re-checked; overdue from the day after its deadline; open before that."""
    if closed:
        return "done"
    return "overdue" if due_on < today else "open"


def _rank(worker: Worker) -> tuple[int, int, str]:
    # A full-time worker before a part-time one (一格多员: the 专职 one keeps the grid's
    # records), a day or all-day shift before nights (a door is knocked on by day), then
    # by id so that every sweep and every node picks the same person.
    return (worker.kind != "full_time", worker.shift == "night", worker.id)


def assignees(workers: Iterable[Worker]) -> dict[str, str]:
    """grid code → the worker its tasks go to, one per grid that has any worker."""
    best: dict[str, Worker] = {}
    for worker in workers:
        held = best.get(worker.grid_code)
        if held is None or _rank(worker) < _rank(held):
            best[worker.grid_code] = worker
    return {grid: worker.id for grid, worker in best.items()}


def rate(part: int, whole: int) -> float | None:
    """A share to four places; None where nothing was due (no rate, rather than 0 or 100 %)."""
    return round(part / whole, 4) if whole > 0 else None
