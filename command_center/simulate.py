"""Simulated grid workers and a simulated checker, so the demo's loop visibly closes.

They act through the same CaseWork.act as people do, and step aside when a person
got there first (the transition is then invalid and is skipped). A worker takes a case
whenever it is handed to them (created dispatched, confirmed in the hall, reassigned,
returned), and drops it when it is recalled as a false alarm or moved to someone else.
None of their actions needs a reason (return, cancel, reassign, reclassify do); their notes
are in words the pages show. `serve` and the demo add them as a job when `workers.simulate`
is set (`add_simulated_workers`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from command_center.bus import Bus
from command_center.casework import CaseWork
from command_center.config import WorkersConfig
from command_center.jobs import Jobs
from command_center.store.verification_records import verification_store
from dispatch.cases import InvalidTransition
from dispatch.dispatcher import CaseNotFound, ConcurrentUpdate

log = logging.getLogger(__name__)
CHECKER = "officer-sim"
ASSIGNING = frozenset({"dispatch", "reassign", "return"})  # actions that hand a case to a worker
GONE_STATES = frozenset({"cancelled", "merged"})  # recalled or folded into another: nothing left to do
VERIFY_WAIT_S = 240.0  # how long the checker leaves a video case to its camera's check
# Called as a worker reports a case handled: the demo clears the simulated scene's problem.
Handle = Callable[[dict[str, Any]], Awaitable[None]]


def add_simulated_workers(
    jobs: Jobs, bus: Bus, casework: CaseWork, config: WorkersConfig, handle: Handle | None = None
) -> None:
    """Simulated workers take every new task, when the configuration asks for them."""
    if config.simulate:
        jobs.add("simulated-workers", lambda: simulate_workers(bus, casework, config, handle))


async def simulate_workers(bus: Bus, casework: CaseWork, config: WorkersConfig, handle: Handle | None = None) -> None:
    subscription = bus.subscribe(["cases"], "simulated-workers")
    working: dict[str, asyncio.Task[None]] = {}  # case id → the simulated worker on it
    async for event in subscription:
        case = event.data
        if event.type not in ("case.created", "case.updated") or "id" not in case:
            continue
        if _handed_over(event.type, case) or case.get("state") in GONE_STATES:
            stale = working.pop(case["id"], None)
            if stale is not None:  # reassigned, returned, or recalled as a false alarm: stop there
                stale.cancel()
        if _handed_over(event.type, case):
            task = asyncio.create_task(_work(casework, config, case, handle))
            working[case["id"]] = task
            task.add_done_callback(functools.partial(_forget, working, case["id"]))


def _handed_over(kind: str, case: dict[str, Any]) -> bool:
    """A worker just got the case: a new dispatched case, or a dispatch (a confirmation, the
    end of a triage wait, the desk), a reassignment or a return to them."""
    if case.get("state") != "dispatched" or not case.get("assignee"):
        return False
    timeline = case.get("timeline") or [{}]
    return kind == "case.created" or timeline[-1].get("action") in ASSIGNING


def _forget(working: dict[str, asyncio.Task[None]], case_id: str, done: asyncio.Task[None]) -> None:
    if working.get(case_id) is done:
        del working[case_id]


async def _work(casework: CaseWork, config: WorkersConfig, case: dict[str, Any], handle: Handle | None) -> None:
    worker, case_id = case["assignee"], case["id"]
    steps = [
        (config.accept_after_s, "accept", worker, ""),
        (0.5, "start", worker, "正在赶往现场"),
        (config.feedback_after_s, "feedback", worker, "已现场处置（模拟网格员）"),
        (config.close_after_s, "close", CHECKER, "核查：符合结案标准（模拟核查员）"),
    ]
    for delay, action, actor, note in steps:
        await asyncio.sleep(delay)
        if action == "feedback" and handle is not None:
            await handle(case)
        if action == "close" and case.get("source") == "video" and not await _checked_by_camera(casework, case_id):
            return  # the camera sent it back (or an officer decides): the checker keeps out
        try:
            await casework.act(case_id, action, actor, note)
        except (InvalidTransition, ConcurrentUpdate):
            log.info("simulated %s of %s skipped: someone else acted", action, case_id)
            return
        except CaseNotFound:
            return


async def _checked_by_camera(casework: CaseWork, case_id: str) -> bool:
    """Wait while a video case's camera checks it: True once it is verified, or when no
    verdict came in time (the checker then closes it as before); False when it went back."""
    records = verification_store(casework.store)
    waited = 0.0
    while waited < VERIFY_WAIT_S:
        found = await asyncio.to_thread(casework.store.get_case, case_id)
        state = found.state.value if found is not None else None
        if state != "feedback":
            return state == "verified"
        if waited >= 4.0 and not await asyncio.to_thread(records.verifications_of, case_id):
            return True  # its matter is not checked by video: the checker goes on as ever
        await asyncio.sleep(2.0)
        waited += 2.0
    return True
