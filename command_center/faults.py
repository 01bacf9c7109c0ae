"""Store and bus failures are loud (finding 10): retried with backoff, every failed try
logged with what it carried (an incident id), counted for /metrics, never swallowed.

Counters, in the shared `Jobs.counters` dict (jobs.py; shown by /api/health and /metrics):
- `store_errors`: failed tries at a store or evidence write (snapshots included);
- `bus_errors`: failed tries at handing an event to the bus;
- `incidents_failed`: incidents that are lost after every retry (their log line holds
  the incident, so that it can be entered by hand).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from command_center.store.base import StoreUnavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
COUNTERS = ("store_errors", "bus_errors", "incidents_failed")
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0


class IncidentLost(RuntimeError):
    """An incident the bus never took, after every retry: counted and logged whole already."""


def is_store_error(exc: BaseException) -> bool:
    """A failure of the storage itself (disk full, I/O, a locked, lost or hung database),
    as opposed to a bad input or a bug (a constraint, a missing field): worth trying the
    same work again later, where the other kind would fail the same way for ever."""
    kinds: tuple[type[BaseException], ...] = (sqlite3.OperationalError, OSError, StoreUnavailable)
    psycopg = sys.modules.get("psycopg")  # loaded only with a PostgreSQL store
    if psycopg is not None:
        kinds += (psycopg.OperationalError,)  # lost connections, timeouts, DiskFull (class 53)
    return isinstance(exc, kinds)


async def retrying(
    what: str,
    work: Callable[[], Awaitable[T]],
    counters: dict[str, int],
    counter: str,
    attempts: int = 4,
) -> T:
    """`work()` until it succeeds, at most `attempts` tries with doubling waits between;
    each failure counted in `counters[counter]` and logged naming `what`; the last
    failure is raised."""
    delay = FIRST_DELAY_S
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except Exception as exc:
            counters[counter] = counters.get(counter, 0) + 1
            if attempt == attempts:
                log.error("%s failed %d times, giving up: %s", what, attempts, exc, exc_info=exc)
                raise
            log.warning("%s failed (try %d of %d, again in %.1f s): %s", what, attempt, attempts, delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_DELAY_S)
    raise AssertionError("unreachable")
