"""The statistics' daily table kept current: every few seconds the days that case writes
marked dirty are summed again from the facts (store/stats_daily.py).

Reads are exact without it (a dirty day is read from the facts), so the job only keeps
that fallback small: a day a write touched costs a GROUP BY of one day's facts, once.
A singleton job: two nodes summing the same day would only repeat each other.
"""

from __future__ import annotations

import asyncio
import logging

from command_center.jobs import Jobs
from command_center.store.stats_records import StatsRecords

log = logging.getLogger(__name__)
EVERY_S = 5.0


class StatsJob:
    def __init__(self, records: StatsRecords, counters: dict[str, int] | None = None) -> None:
        self.records = records
        self.counters = counters if counters is not None else {}
        self.counters.setdefault("stats_days_summed", 0)

    async def once(self) -> int:
        """Sum the dirty days again; how many there were."""
        done = await asyncio.to_thread(self.records.refresh)
        self.counters["stats_days_summed"] += done
        return done

    async def run(self, every_s: float = EVERY_S) -> None:
        while True:
            try:
                await self.once()
            except Exception:  # the marks stay: the next round sums those days
                log.exception("stats daily refresh failed")
            await asyncio.sleep(every_s)

    def register(self, jobs: Jobs, every_s: float = EVERY_S) -> None:
        jobs.add("stats-daily", lambda: self.run(every_s), singleton=True)
