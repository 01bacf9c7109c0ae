"""Fresh planner statistics for a young, fast-growing case table.

PostgreSQL plans from statistics that autovacuum refreshes at most once a minute and
only after 10% of a table changed. A new deployment that takes in thousands of cases
in its first minutes is planned as if the table were still empty: measured with `bench
scale`'s intake on a fresh database, 550 cases/s in the first thousand fell to 200 by
the fourth, and went back to 700–800 right after an ANALYZE. So the store analyzes the
case tables itself each time they have grown by their size at the last analyze (and
at least MIN_GROWTH rows): a handful of times while the table is young, never once it
is large, where autovacuum's own schedule is enough.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)
MIN_GROWTH = 1000
TABLES = ("cases", "case_timeline")


class FreshStats:
    def __init__(self, rows: float, analyze: Callable[[str], None]) -> None:
        self.rows = max(0.0, rows)  # the cases table's size as the planner last learnt it
        self.grown = 0
        self.analyzed = 0  # times this store ran ANALYZE
        self._analyze = analyze
        self._lock = threading.Lock()
        self._busy = False

    def added(self, n: int) -> None:
        """`n` cases were committed; analyze (on this thread) when the table has doubled."""
        with self._lock:
            self.grown += n
            if self._busy or self.grown < max(MIN_GROWTH, self.rows):
                return
            self._busy = True
            grown, self.grown = self.grown, 0
        try:
            for table in TABLES:
                self._analyze(table)
            with self._lock:
                self.rows += grown
                self.analyzed += 1
        except Exception as exc:  # statistics are an optimisation: never fail a write for them
            log.warning("ANALYZE of the case tables failed: %s", exc)
            with self._lock:
                self.grown += grown
        finally:
            with self._lock:
                self._busy = False
