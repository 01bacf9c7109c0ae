"""The statistics' daily table and its roll-ups kept current: every few seconds the days that
case writes marked dirty are summed again from the facts, and once a minute the monthly
roll-ups (rows, streets, hotspot cells) of the months those days are in (store/stats_daily.py).

Reads are exact without it (a dirty day is read from the facts), so the job only keeps
that fallback small: a day a write touched costs a GROUP BY of one day's facts, once.
A singleton job: two nodes summing the same day would only repeat each other.
"""

from __future__ import annotations

import asyncio
import logging
import time

from command_center.jobs import Jobs
from command_center.store.stats_records import StatsRecords

log = logging.getLogger(__name__)
EVERY_S = 5.0
ROLLUPS_EVERY_S = 60.0  # the monthly roll-ups (a month's facts: ~1 s on SQLite) at most this often


class StatsJob:
    def __init__(self, records: StatsRecords, counters: dict[str, int] | None = None) -> None:
        self.records = records
        self.counters = counters if counters is not None else {}
        self.counters.setdefault("stats_days_summed", 0)
        self.rolled = -ROLLUPS_EVERY_S  # the first round sums them

    async def once(self) -> int:
        """Sum the dirty days again (and, once a minute, the monthly roll-ups); how many days there were."""
        now = time.monotonic()
        rollups = now - self.rolled >= ROLLUPS_EVERY_S
        done = await asyncio.to_thread(self.records.refresh, 31, rollups)
        if rollups:
            self.rolled = now
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
