"""PostgreSQL connections that cannot hang the API (finding 11).

Every connection gets, unless the store URL sets them itself:
- `connect_timeout` (libpq, seconds): opening a connection gives up after it;
- TCP keepalives (`keepalives`, `keepalives_idle`, `keepalives_interval`,
  `keepalives_count`) and `tcp_user_timeout`: a peer that vanished (a dropped route,
  packets to 5432 dropped) is noticed in about a minute instead of the kernel's hours;
- `statement_timeout` (server side, our `statement_timeout_s`): a slow statement is
  cancelled by the server;
- a client-side bound on every wait for an answer (`statement_timeout_s` + 2 s): a
  server that accepted the connection and then stopped answering (a hung host, a proxy
  that stopped forwarding, where keepalives are answered and nothing times out) costs a
  request that long, not forever. The connection is then closed and dropped.

Our own URL options (taken out before the URL reaches libpq): `pool` (connections,
default 8), `pool_wait_s` (longest wait for a free pooled connection, default 5),
`statement_timeout_s` (default 10; 0 turns both statement bounds off). A store that
cannot answer within these raises StoreUnavailable, which the API turns into 503.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import errors

from command_center.store.base import StoreUnavailable

POOL_SIZE = 8
POOL_WAIT_S = 5.0
STATEMENT_TIMEOUT_S = 10.0
ANSWER_GRACE_S = 2.0  # past the server's own statement timeout, for its error to arrive
LIBPQ_DEFAULTS = {
    "connect_timeout": "5",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "60000",  # ms: data sent and not acknowledged for this long closes the socket
}
_OWN = {"pool", "pool_wait_s", "statement_timeout_s"}


@dataclass(frozen=True, slots=True)
class PgSettings:
    dsn: str  # for libpq: our options removed, the defaults above added
    pool: int = POOL_SIZE
    pool_wait_s: float = POOL_WAIT_S
    statement_timeout_s: float = STATEMENT_TIMEOUT_S

    @property
    def answer_within_s(self) -> float | None:
        return self.statement_timeout_s + ANSWER_GRACE_S if self.statement_timeout_s > 0 else None


def parse(url: str) -> PgSettings:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    own = {k: v for k, v in query if k in _OWN}
    rest = [(k, v) for k, v in query if k not in _OWN]
    given = {k for k, _ in rest}
    rest += [(k, v) for k, v in LIBPQ_DEFAULTS.items() if k not in given]
    try:
        pool = max(1, int(own.get("pool", POOL_SIZE)))
        wait = max(0.0, float(own.get("pool_wait_s", POOL_WAIT_S)))
        statement = max(0.0, float(own.get("statement_timeout_s", STATEMENT_TIMEOUT_S)))
    except ValueError as exc:
        raise ValueError(f"bad PostgreSQL store option: {exc}") from None
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), parts.fragment))
    return PgSettings(dsn, pool, wait, statement)


class BoundedConnection(psycopg.Connection[Any]):
    """A connection whose every wait for the server is bounded by `answer_within`."""

    answer_within: float | None = None
    _reader: psycopg.Cursor[Any] | None = None

    def read(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of one statement, prepared, on a cursor kept for it: the intake's reads
        run on every case, and a cursor made per statement (connection.execute) cost a
        tenth of their time in `bench scale`."""
        if self._reader is None:
            self._reader = self.cursor()
        return self._reader.execute(sql, params, prepare=True).fetchall()

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        limit = timeout if timeout is not None else self.answer_within
        try:
            return super().wait(gen, interval=interval, timeout=limit)
        except errors._WaitTimeout:  # psycopg's own signal for an expired wait
            # Mid-protocol, the connection's state is unknown: close it (the pool drops it).
            self.pgconn.finish()
            raise StoreUnavailable(
                f"PostgreSQL did not answer within {limit:g} s; connection closed"
            ) from None


class Pool:
    """A small pool of connections: LIFO (a warm one first), opened on demand up to its
    size, and a bounded wait for a free one (`pool_wait_s`), then StoreUnavailable: a hung
    server must not queue threads forever."""

    def __init__(self, settings: PgSettings, first: BoundedConnection, size: int) -> None:
        self.settings = settings
        self._free: queue.LifoQueue[BoundedConnection] = queue.LifoQueue()
        self._free.put(first)
        self._spare = size - 1  # opened on demand: most runs never need them all
        self._lock = threading.Lock()
        self._closed = False

    def take(self) -> BoundedConnection:
        deadline = time.monotonic() + self.settings.pool_wait_s
        while True:
            with self._lock:
                if self._closed:
                    raise RuntimeError("store closed")
                opened = self._free.empty() and self._spare > 0
                if opened:
                    self._spare -= 1
            if opened:
                try:
                    return connect(self.settings)
                except BaseException:
                    with self._lock:
                        self._spare += 1
                    raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreUnavailable(
                    f"no PostgreSQL connection free within {self.settings.pool_wait_s:g} s (pool_wait_s)"
                )
            try:  # in slices: a slot freed by a dropped connection is seen too
                return self._free.get(timeout=min(left, 0.25))
            except queue.Empty:
                continue

    def give(self, db: BoundedConnection) -> None:
        with self._lock:
            if db.broken or db.closed or self._closed:
                # A lost connection is dropped; its slot opens a fresh one when needed.
                db.close()
                self._spare += 0 if self._closed else 1
                return
        self._free.put(db)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        while True:
            try:
                self._free.get_nowait().close()
            except queue.Empty:
                return


def connect(settings: PgSettings) -> BoundedConnection:
    """An autocommit connection with every bound set, or StoreUnavailable."""
    try:
        conn = BoundedConnection.connect(settings.dsn, autocommit=True)
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(f"cannot connect to PostgreSQL: {_first_line(exc)}") from exc
    conn.answer_within = settings.answer_within_s
    if settings.statement_timeout_s > 0:
        ms = str(int(settings.statement_timeout_s * 1000))
        conn.execute("SELECT set_config('statement_timeout', %s, false)", (ms,))
    return conn


def unavailable(exc: BaseException, conn: psycopg.Connection[Any]) -> StoreUnavailable | None:
    """The StoreUnavailable that `exc` amounts to: a lost connection or a statement the
    server cancelled for time; None for any other error (a bug, a constraint)."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if isinstance(exc, errors.QueryCanceled):
        return StoreUnavailable(f"PostgreSQL statement timed out: {_first_line(exc)}")
    if isinstance(exc, psycopg.OperationalError) and (conn.closed or conn.broken):
        return StoreUnavailable(f"PostgreSQL connection lost: {_first_line(exc)}")
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
