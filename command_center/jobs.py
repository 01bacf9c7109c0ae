"""Background jobs: coroutines that run for the process's lifetime, added by their owners.

Casework adds its supervision sweep, retention its sweep, auth its session sweep, the
API's hotspots module its alerts, the demo its drone and simulated workers. A
singleton job runs on one node of several: when the bus is Redis, only while this
node leads it (leader.py); on the in-process bus there is one node, and it simply runs.

Jobs also holds what /api/health and /metrics report about the process: its start
time and the shared counters (incidents, cases, store and bus failures, sweeps).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

from command_center import faults
from command_center.bus import Bus, redis_of
from command_center.leader import LeaderElection
from command_center.leases import new_worker_id

log = logging.getLogger(__name__)
Job = Callable[[], Coroutine[Any, Any, None]]
# Counted from the start (an absent key would read as an error in /metrics); owners add theirs.
STOP_WAIT_S = 15.0  # how long `stop` waits for the cancelled jobs to end
COUNTERS = ("incidents", "cases_created", "cases_merged", "incidents_redelivered", *faults.COUNTERS)


class Jobs:
    def __init__(self, bus: Bus, node_id: str | None = None) -> None:
        self.bus = bus
        self.node_id = node_id or new_worker_id()  # this node's name in leader elections
        self.started_at = time.time()
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self._added: dict[str, tuple[Job, bool]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False
        self.stop_wait_s = STOP_WAIT_S

    def add(self, name: str, factory: Job, singleton: bool = False) -> None:
        """Run `factory()` for the process's lifetime (from `start`, or now if started).

        A singleton job runs on one node of those sharing a Redis bus. Adding a name again
        before the start replaces the job (an app built twice over one runtime)."""
        if name in self._tasks:
            raise ValueError(f"job {name} is running already")
        self._added[name] = (factory, singleton)
        if self._running:
            self._launch(name)

    @property
    def names(self) -> list[str]:
        return list(self._added)

    def start(self) -> None:
        """Launch every job added so far; later ones start as they are added. Call on the loop."""
        self._running = True
        for name in self._added:
            if name not in self._tasks:
                self._launch(name)

    def spawn(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        """A task of the runtime's own wiring (the hub feed, the intake), stopped with the jobs."""
        self._tasks[name] = asyncio.create_task(work, name=name)

    def _launch(self, name: str) -> None:
        factory, singleton = self._added[name]
        self._tasks[name] = asyncio.create_task(self._run(name, factory, singleton), name=name)

    def _run(self, name: str, factory: Job, singleton: bool) -> Coroutine[Any, Any, None]:
        found = redis_of(self.bus) if singleton else None
        return factory() if found is None else LeaderElection(*found, self.node_id, name).run(factory)

    async def stop(self) -> None:
        """Cancel every job and wait for each to end (a leader releases its lease on the way)."""
        self._running = False
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, stuck = await asyncio.wait(tasks, timeout=self.stop_wait_s)
        if stuck:  # a job that ignores its cancellation must not hang the shutdown: named, left behind
            log.error(
                "jobs still running %.0f s after the stop: %s",
                self.stop_wait_s,
                sorted(t.get_name() for t in stuck),
            )
        for task in tasks:
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: its failure was logged by the job itself
