"""Simulated grid workers and a simulated checker, so the demo's loop visibly closes.

They act through the same Runtime.act as people do, and step aside when a person
got there first (the transition is then invalid and is skipped).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from command_center.config import WorkersConfig
from dispatch.cases import InvalidTransition
from dispatch.dispatcher import CaseNotFound, ConcurrentUpdate

if TYPE_CHECKING:
    from command_center.runtime import Runtime

log = logging.getLogger(__name__)
CHECKER = "officer-sim"


async def simulate_workers(rt: Runtime, config: WorkersConfig) -> None:
    subscription = rt.bus.subscribe(["cases"], "simulated-workers")
    running: set[asyncio.Task[None]] = set()
    async for event in subscription:
        case = event.data
        if event.type == "case.created" and case.get("assignee") and case["state"] == "dispatched":
            task = asyncio.create_task(_work(rt, config, case))
            running.add(task)
            task.add_done_callback(running.discard)


async def _work(rt: Runtime, config: WorkersConfig, case: dict[str, Any]) -> None:
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
            await rt.act(case_id, action, actor, note)
        except (InvalidTransition, ConcurrentUpdate):
            log.info("simulated %s of %s skipped: someone else acted", action, case_id)
            return
        except CaseNotFound:
            return
