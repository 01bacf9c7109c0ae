"""Simulated grid workers and a simulated checker, so the demo's loop visibly closes.

They act through the same CaseWork.act as people do, and step aside when a person
got there first (the transition is then invalid and is skipped). `serve` and the demo
add them as a job when `workers.simulate` is set (`add_simulated_workers`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from command_center.bus import Bus
from command_center.casework import CaseWork
from command_center.config import WorkersConfig
from command_center.jobs import Jobs
from dispatch.cases import InvalidTransition
from dispatch.dispatcher import CaseNotFound, ConcurrentUpdate

log = logging.getLogger(__name__)
CHECKER = "officer-sim"


def add_simulated_workers(jobs: Jobs, bus: Bus, casework: CaseWork, config: WorkersConfig) -> None:
    """Simulated workers take every new task, when the configuration asks for them."""
    if config.simulate:
        jobs.add("simulated-workers", lambda: simulate_workers(bus, casework, config))


async def simulate_workers(bus: Bus, casework: CaseWork, config: WorkersConfig) -> None:
    subscription = bus.subscribe(["cases"], "simulated-workers")
    running: set[asyncio.Task[None]] = set()
    async for event in subscription:
        case = event.data
        if event.type == "case.created" and case.get("assignee") and case["state"] == "dispatched":
            task = asyncio.create_task(_work(casework, config, case))
            running.add(task)
            task.add_done_callback(running.discard)


async def _work(casework: CaseWork, config: WorkersConfig, case: dict[str, Any]) -> None:
    worker, case_id = case["assignee"], case["id"]
    steps = [
        (config.accept_after_s, "accept", worker, ""),
        (0.5, "start", worker, "on my way"),
        (config.feedback_after_s, "feedback", worker, "handled on site (simulated worker)"),
        (config.close_after_s, "close", CHECKER, "checked: meets the closure standard"),
    ]
    for delay, action, actor, note in steps:
        await asyncio.sleep(delay)
        try:
            await casework.act(case_id, action, actor, note)
        except (InvalidTransition, ConcurrentUpdate):
            log.info("simulated %s of %s skipped: someone else acted", action, case_id)
            return
        except CaseNotFound:
            return
