"""Triage: the hall confirms or dismisses a video incident before anyone is sent, where its
matter says so, and a sweep ends the waits nobody attended to.

A video incident of a confirm-first matter (configs/matters.yaml, `dispatch: confirm`) opens
its case registered and unassigned, with `confirm_by`: the wall counts down to it. Confirmed
(POST /api/incidents/{id}/confirm: `confirm`), the case goes to a worker at once; dismissed as
a false alarm, it is cancelled (api/incidents.py). Left alone, the sweep (`Triage`, every
second on one node of several) ends the wait at `confirm_by` as the matter's `unconfirmed`
says: `dispatch` sends it as auto-dispatch would; `hold` keeps it unassigned in the desk's
queue of cases waiting for a person, with a timeline line saying why. A case that should go
out but finds nobody on duty is held the same way: never silently.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from command_center.store import CaseQuery, Store
from dispatch.cases import Case, CaseState, InvalidTransition, TimelineEntry
from dispatch.dispatcher import SYSTEM, CaseNotFound, ConcurrentUpdate

if TYPE_CHECKING:
    from command_center.casework import CaseWork
    from command_center.jobs import Jobs

log = logging.getLogger(__name__)
TRIAGE_EVERY_S = 1.0  # a countdown on the wall that ends must be acted on within a second or so
# The longest wait a matter may set (Matter.confirm_s ≤ 3600 s) and some slack: after a
# sweep that read them all, only cases created this recently can still be waiting, so each
# second's sweep reads a handful of rows, not the whole queue of unrouted cases.
RECENT = timedelta(seconds=3600 + 300)
HOLD = "hold"  # the timeline's word for "waits for a person" (a line, not a step)
CONFIRMED = "值班员确认告警属实"
TIMED_OUT = "确认时限已过，自动派遣"
HELD_BY_POLICY = "确认时限已过，无人确认：转入待人工派遣"
HELD_NO_WORKER = "附近无在岗网格员：转入待人工派遣"


class NotWaiting(Exception):
    """The case is not waiting to be sent (already dispatched, worked on, or closed)."""

    def __init__(self, case: Case) -> None:
        super().__init__(f"case {case.id} is {case.state.value}, not waiting to be dispatched")
        self.case = case


class NoWorker(Exception):
    """Nobody is on duty near the case's grid: the caller must name a worker."""

    def __init__(self, case: Case) -> None:
        super().__init__(f"no worker on duty near grid {case.grid_code}")
        self.case = case


async def confirm(casework: CaseWork, case_id: str, actor: str, worker: str | None = None, note: str = "") -> Case:
    """The hall confirms a waiting case's incident: it goes to `worker`, or to whom auto-dispatch
    picks. Any registered case counts as waiting: one whose countdown ran out and was held may
    still be confirmed from the wall. Raises NotWaiting, NoWorker, and what `act` raises
    (BadParams for an unknown worker, ConcurrentUpdate when it changed meanwhile)."""
    dispatcher = casework.dispatcher
    case = await asyncio.to_thread(dispatcher.get, case_id)
    if case.state != CaseState.REGISTERED:
        raise NotWaiting(case)
    if worker is None:
        picked = await asyncio.to_thread(dispatcher.pick_for, case, dispatcher.clock())
        if picked is None:
            raise NoWorker(case)
        worker = picked.id
    text = f"{CONFIRMED}：{note}" if note else CONFIRMED
    try:
        return await casework.act(case.id, "dispatch", actor, text, worker=worker, expected_version=case.version)
    except InvalidTransition:  # dispatched or cancelled since it was read
        raise NotWaiting(await asyncio.to_thread(dispatcher.get, case_id)) from None


class Triage:
    def __init__(self, store: Store, casework: CaseWork) -> None:
        self.store = store
        self.casework = casework
        self._read_all = False  # until one sweep read every registered case

    def register(self, jobs: Jobs, every_s: float = TRIAGE_EVERY_S) -> None:
        """One node of several sweeps: on each, a timed-out case would be sent once per node."""
        jobs.add("triage", lambda: self.run(every_s), singleton=True)

    async def run(self, every_s: float) -> None:
        # A node that just took the lead reads every waiting case once: a wait may have ended
        # while no node swept (all down, or the leader lost).
        self._read_all = False
        while True:
            try:
                await self.sweep_once()
            except Exception:  # the next sweep tries again; the waits are stored
                log.exception("triage sweep failed")
            await asyncio.sleep(every_s)

    async def sweep_once(self) -> int:
        """End every wait whose time is up; how many ended."""
        dispatcher = self.casework.dispatcher
        now = dispatcher.clock()
        since = now - RECENT if self._read_all else None
        query = CaseQuery(state=CaseState.REGISTERED.value, open_only=True, created_since=since, limit=100_000)
        cases, _ = await asyncio.to_thread(self.store.list_cases, query)
        self._read_all = True
        ended = 0
        for case in cases:
            if case.confirm_by is None or case.confirm_by > now:
                continue
            try:
                await self.end_wait(case, now)
                ended += 1
            except (InvalidTransition, ConcurrentUpdate, CaseNotFound):
                continue  # a person acted on it meanwhile: the next sweep reads it afresh
        return ended

    async def end_wait(self, case: Case, now: datetime) -> Case:
        """A wait that ran out: sent (policy dispatch, someone on duty), else held."""
        dispatcher = self.casework.dispatcher
        try:
            policy = dispatcher.matter_of(case).unconfirmed
        except (KeyError, ValueError):  # a matter no catalogue has any more: send it, as the default
            policy = "dispatch"
        worker = await asyncio.to_thread(dispatcher.pick_for, case, now) if policy == "dispatch" else None
        if worker is not None:
            return await self.casework.act(
                case.id, "dispatch", SYSTEM, TIMED_OUT, worker=worker.id, expected_version=case.version
            )
        held, entry = held_case(case, now, HELD_BY_POLICY if policy == "hold" else HELD_NO_WORKER)
        if not await asyncio.to_thread(dispatcher.repo.save_transition, held, entry):
            raise ConcurrentUpdate(f"case {case.id} changed while being held")
        await self.casework.publish_case(held, created=False)
        return held


def held_case(case: Case, now: datetime, note: str) -> tuple[Case, TimelineEntry]:
    """The case no longer counting down, with a timeline line saying it waits for a person."""
    entry = TimelineEntry(now, HOLD, SYSTEM, case.state, case.state, note)
    updated = replace(
        case, confirm_by=None, version=case.version + 1, updated_at=now, timeline=(*case.timeline, entry)
    )
    return updated, entry
