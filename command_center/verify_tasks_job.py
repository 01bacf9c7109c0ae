"""The verification-task sweep (基础数据定期核实): every `basedata.verify_tasks.sweep_s` it
opens a task for each record whose next check comes within `lead_days`
(store/verify_task_records.py: one INSERT … SELECT per kind), moves open tasks to the
grid's worker when the roster changed, closes those re-checked some other way (an import),
and tells each worker how many new tasks they got on their own channel `tasks:<worker>`
(`verify_tasks.opened`: a count, no names or addresses).

The clock is injected (`today`), so a test freezes it; the roster is read at each sweep
from the city map (`workers`), the same one that scopes a worker's base data. A singleton
job: on several nodes one sweeps. The announcement goes to this node's hub; with the
Redis hub its seq and history are shared, so a terminal on another node receives it when
it next resubscribes (and the list is reloaded on the terminal regardless).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from basedata.verify_tasks import VerifyTaskPolicy, assignees, deadline, horizon
from command_center.hub import Hub
from command_center.hub_history import Post
from command_center.jobs import Jobs
from command_center.store.verify_task_records import VerifyTaskRecords, verify_task_store
from dispatch.city.model import Worker

if TYPE_CHECKING:
    from command_center.runtime import Runtime

log = logging.getLogger(__name__)
OPENED = "verify_tasks.opened"


@dataclass
class Sweep:
    """What one sweep did."""

    today: date
    opened: dict[str, int] = field(default_factory=dict)  # per kind
    by_worker: list[tuple[str, int]] = field(default_factory=list)
    reassigned: int = 0
    settled: int = 0
    dropped: int = 0

    @property
    def total(self) -> int:
        return sum(self.opened.values())


class VerifyTasksJob:
    """`sweep_once` for a test or the CLI, `register` for a serve node."""

    def __init__(
        self,
        records: VerifyTaskRecords,
        policy: Callable[[], VerifyTaskPolicy],
        workers: Callable[[], Iterable[Worker]],
        hub: Hub | None = None,
        today: Callable[[], date] = date.today,
        counters: dict[str, int] | None = None,
    ) -> None:
        self.records = records
        self.policy = policy  # read each sweep: the configuration may be reloaded
        self.workers = workers
        self.hub = hub
        self.today = today
        self.counters = counters if counters is not None else {}
        self.counters.setdefault("verify_tasks_opened", 0)

    def _sweep(self) -> Sweep:
        """The store's part, on a worker thread."""
        policy, today = self.policy(), self.today()
        grid_workers = assignees(self.workers())
        done = Sweep(today)
        done.settled, done.dropped = self.records.settle(policy.kinds, today)
        done.reassigned = self.records.reassign(grid_workers)
        stamp, done.opened = self.records.generate(
            policy.kinds, today, horizon(today, policy), deadline(None, today, policy), grid_workers
        )
        if done.total:
            done.by_worker = self.records.opened_by_worker(stamp)
        return done

    async def sweep_once(self) -> Sweep:
        done = await asyncio.to_thread(self._sweep)
        self.counters["verify_tasks_opened"] += done.total
        if self.hub is not None and done.by_worker:
            await self._announce(done)
        return done

    async def _announce(self, done: Sweep) -> None:
        assert self.hub is not None
        event = uuid.uuid4().hex  # one sweep, one event id across the workers' posts
        posts = [
            Post(
                event,
                f"tasks:{worker}",
                OPENED,
                {"worker_id": worker, "opened": n, "on": done.today.isoformat()},
            )
            for worker, n in done.by_worker
        ]
        try:
            await self.hub.publish_all(posts)
        except Exception:  # the tasks are stored; the terminal finds them when it next loads
            log.exception("verify_tasks.opened could not be announced to %d workers", len(posts))

    async def run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # the next sweep tries again: generation is idempotent
                log.exception("verification task sweep failed")
            await asyncio.sleep(self.policy().sweep_s)

    def register(self, jobs: Jobs) -> None:
        """On one node of several (the partial unique index makes a race harmless anyway)."""
        jobs.add("verify-tasks", self.run, singleton=True)


def for_runtime(rt: Runtime) -> VerifyTasksJob:
    """The sweep over a serve node's store, configuration, roster and hub."""
    return VerifyTasksJob(
        verify_task_store(rt.store),
        lambda: rt.config.basedata.verify_tasks,
        lambda: rt.city.city.workers,
        rt.hub,
        today=rt.dispatcher.today,  # the city's date, not the machine's
        counters=rt.jobs.counters,
    )
