"""Overdue care visits raised like overdue cases (督办): a periodic sweep over the ledger
(store/care_records.py) that announces each membership newly overdue, or overdue long
enough to reach the next level (basedata.care.escalation_level), as `care.overdue` on the
bus topic `care`.

Each event carries the membership's `grid_code` (the hub scopes it by jurisdiction, like
a case) and the paired worker, but not the group: membership of a group is sensitive
(who is mentally ill, who lives on 低保), and the wall's officers see the event before
they have any right to the ledger. A level is announced at most once per membership and
due date: the store marks it in the statement that claims it, so a restart, a second
sweep or a second node does not repeat it. A visit (a new due date) starts over at 0.

The clock is injected (`today`), so a test freezes it; the sweep is a singleton job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date

from basedata.care import CarePolicy
from command_center.bus import Bus
from command_center.events import Event
from command_center.jobs import Jobs
from command_center.store.care_records import CareRecords, Raised

log = logging.getLogger(__name__)
TOPIC = "care"
OVERDUE = "care.overdue"
TARGETS = {1: "worker", 2: "officer", 3: "street"}  # who a level is meant for


def event_of(raised: Raised) -> Event:
    """The bus event of one raised membership (no group, no name: see the module's note)."""
    data = {
        "membership_id": raised.membership_id,
        "person_id": raised.person_id,
        "grid_code": raised.grid_code,
        "paired_with": raised.paired_with,
        "next_visit_due": raised.next_visit_due.isoformat(),
        "days_overdue": raised.days_overdue,
        "level": raised.level,
        "target": TARGETS[raised.level],
    }
    return Event(TOPIC, OVERDUE, data)


class CareOverdue:
    """The sweep: `sweep_once` for a test or a CLI, `register` for a serve node."""

    def __init__(
        self,
        records: CareRecords,
        bus: Bus,
        policy: Callable[[], CarePolicy],
        today: Callable[[], date] = date.today,
        counters: dict[str, int] | None = None,
    ) -> None:
        self.records = records
        self.bus = bus
        self.policy = policy  # read each sweep: the configuration may be reloaded
        self.today = today
        self.counters = counters if counters is not None else {}
        self.counters.setdefault("care_overdue_raised", 0)

    async def sweep_once(self) -> list[Event]:
        """Raise what is due to be raised today; the events published."""
        raised = await asyncio.to_thread(self.records.escalate, self.today(), self.policy())
        events = [event_of(r) for r in raised]
        for event in events:
            # Marked already: a publish that fails here is logged, not repeated (at most once).
            try:
                await self.bus.publish(event)
            except Exception:
                log.exception("care.overdue for %s could not be published", event.data["membership_id"])
                continue
            self.counters["care_overdue_raised"] += 1
        return events

    async def run(self, every_s: float) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # the next sweep tries again; the marks keep what was announced
                log.exception("care overdue sweep failed")
            await asyncio.sleep(every_s)

    def register(self, jobs: Jobs, every_s: float) -> None:
        """On one node of several: each would otherwise race the others for the marks."""
        jobs.add("care-overdue", lambda: self.run(every_s), singleton=True)
