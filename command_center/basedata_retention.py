"""Base data deleted by rule (basedata/retention.py): a sweep, one node of several (a
singleton job), every `basedata.retention.every_s`.

Each sweep deletes in SQL (store/basedata_purge.py) the people marked moved out (迁出) more
than `moved_out_days` ago with their care memberships and visits, and the visits of care
memberships closed more than `care_closed_days` ago; then, if it deleted anything, writes
ONE audit row (`basedata.retention`, actor `system`, the day as target) with the counts,
never a name or an id: the audit log outlives the records it would otherwise keep alive. A
sweep that finds nothing due writes no row (each restart sweeps once). A sweep that fails is
logged and the next one tries again; nothing is half-deleted (each rule is one transaction).

The clock is injected (`today`), so a test freezes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date

from basedata.retention import RetentionPolicy, cutoffs
from command_center import audit
from command_center.jobs import Jobs
from command_center.store import Store
from command_center.store.access import StoreAccess
from command_center.store.basedata_purge import Purged, closed_care, moved_out

log = logging.getLogger(__name__)
ACTION = "basedata.retention"
SYSTEM = "system"


def detail(purged: Purged, policy: RetentionPolicy) -> str:
    """The audit row's text: counts and the rules that made them."""
    return (
        f"people {purged.people}, care memberships {purged.memberships}, their visits {purged.visits}"
        f" (moved out over {policy.moved_out_days or '∞'} days); visits of closed memberships"
        f" {purged.closed_visits} (closed over {policy.care_closed_days or '∞'} days)"
    )


class BaseDataRetention:
    """The sweep: `sweep_once` for a test or a CLI, `register` for a serve node."""

    def __init__(
        self,
        store: Store,
        policy: Callable[[], RetentionPolicy],
        today: Callable[[], date] = date.today,
        counters: dict[str, int] | None = None,
    ) -> None:
        if not isinstance(store, StoreAccess):
            raise TypeError(f"{type(store).__name__} keeps no base data")
        self.store, self.tables = store, store
        self.policy = policy  # read each sweep: the configuration may be reloaded
        self.today = today
        self.counters = counters if counters is not None else {}
        self.counters.setdefault("basedata_retention_deleted", 0)

    def _delete(self, policy: RetentionPolicy) -> Purged:
        cut = cutoffs(self.today(), policy)
        purged = moved_out(self.tables, cut.left_before) if cut.left_before else Purged()
        if cut.closed_before:
            closed = closed_care(self.tables, cut.closed_before)
            purged = Purged(purged.people, purged.memberships, purged.visits, closed)
        return purged

    async def sweep_once(self) -> Purged:
        """Delete what is past its time today, and audit the counts (one row)."""
        policy = self.policy()
        purged = await asyncio.to_thread(self._delete, policy)
        self.counters["basedata_retention_deleted"] += purged.total
        if purged.total:  # a sweep that found nothing due leaves no row: a restart is not an event
            row = audit.entry(SYSTEM, SYSTEM, ACTION, self.today().isoformat(), "", detail(purged, policy))
            await audit.write(self.store, row)
            log.info("base data retention: %s", row["detail"])
        return purged

    async def run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # the next sweep tries again; each rule deleted all or nothing
                log.exception("base data retention sweep failed")
            await asyncio.sleep(self.policy().every_s)

    def register(self, jobs: Jobs) -> None:
        """On one node of several: two would delete the same rows and audit twice."""
        jobs.add("basedata-retention", self.run, singleton=True)


def register(jobs: Jobs, store: object, policy: Callable[[], RetentionPolicy], today: Callable[[], date]) -> None:
    """The sweep for a serve node's store, by the city's date (`today`); a store that keeps no
    base data has nothing to sweep."""
    if isinstance(store, StoreAccess):
        BaseDataRetention(store, policy, today).register(jobs)  # type: ignore[arg-type]
