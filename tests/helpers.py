"""What the tests share besides fixtures: paths, test accounts, a real uvicorn server on
loopback, and the one way a test builds a Runtime (closed by conftest's `close_runtimes`).

Test files import from here, never from conftest: pytest loads conftest itself, and
importing it a second time as `tests.conftest` would make two copies of its fixtures."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn
from websockets.sync.client import ClientConnection, connect

from command_center.auth import Principal

if TYPE_CHECKING:
    from command_center.config import Config
    from command_center.runtime import Runtime
    from dispatch.city import City

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REDIS = "redis://127.0.0.1:6379/0"
# The password of the accounts token_for creates, and its argon2id hash (cheap cost), made
# once here so that no test pays for hashing.
TEST_PASSWORD = "test-account-password"
TEST_HASH = "$argon2id$v=19$m=1024,t=1,p=4$C4DBVFTxJApCgwGkCK3Orw$K8heP/LTTXniVB234jWNbzbqRznxArhxLAqav1Azxmo"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """A real uvicorn server for an ASGI app, on its own thread and loop."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.port = free_port()
        # proxy_headers=False, as `serve` runs it: X-Forwarded-For is the app's to judge
        # (server.trusted_proxies), not believed by uvicorn from any loopback client.
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", proxy_headers=False)
        self.server = uvicorn.Server(config)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def headers(self, **who: str | None) -> dict[str, str]:
        """Authorization headers for this server's app (built by build_app); admin by default."""
        # app.state carries the store and auth services token_for needs (api/deps.py).
        return auth_headers(self.app.state, **who)  # type: ignore[attr-defined]

    def ws_connect(self, path: str = "", **who: str | None) -> ClientConnection:
        """A websocket to /ws signed in by header (admin by default); `path` adds e.g. "?batch=1"."""
        return connect(self.ws_url + path, additional_headers=self.headers(**who))

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    def call(self, fn: object, *args: object) -> None:
        """Run fn(*args) on the server's loop (e.g. hub.publish, which must run there)."""
        assert self.loop is not None
        done = threading.Event()

        def wrapped() -> None:
            try:
                fn(*args)  # type: ignore[operator]
            finally:
                done.set()

        self.loop.call_soon_threadsafe(wrapped)
        assert done.wait(5)

    def run(self, coro: object, timeout: float = 30) -> object:
        """Run a coroutine on the server's loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def __enter__(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self._thread.join(15)


def token_for(
    rt: object, role: str = "admin", user: str | None = None, jurisdiction: str = "", worker_id: str | None = None
) -> str:
    """A signed token for a Runtime's app (or anything with its `store` and `auth`, such as
    the app's state). Its account is created when missing (password TEST_PASSWORD, no argon2
    run), and the token carries the account's token_version, so it is current until the
    account is changed."""
    name = user or worker_id or role
    store = rt.store  # type: ignore[attr-defined]
    row = store.get_user(name)
    if row is None:
        store.add_users(
            [{"username": name, "password_hash": TEST_HASH, "role": role, "jurisdiction": jurisdiction,
              "worker_id": worker_id, "created_at": datetime.now(UTC).isoformat()}]
        )  # fmt: skip
        row = store.get_user(name)
    principal = Principal(name, role, jurisdiction, worker_id, token_version=int(row["token_version"]))  # type: ignore[arg-type]
    return rt.auth.signer.issue(principal)[0]  # type: ignore[attr-defined]


def auth_headers(rt: object, **who: str | None) -> dict[str, str]:
    """Authorization headers for `rt`'s app; an admin of the whole city unless told otherwise."""
    return {"Authorization": f"Bearer {token_for(rt, **who)}"}  # type: ignore[arg-type]


# Every Runtime the tests built, until conftest's `close_runtimes` closes their stores at the
# end of the module (a module-scoped fixture's Runtime lives that long).
_built: list[Runtime] = []


def build_runtime(config: Config, city: City | None = None) -> Runtime:
    """A Runtime as `serve` builds it; its store is closed when the test module ends.

    The application is imported here, not at the top: files that only need a path or a port
    then do not load it."""
    from command_center.runtime import Runtime

    rt = Runtime(config, city=city)
    _built.append(rt)
    return rt


def close_runtimes() -> None:
    """Close the store of every Runtime built so far (again, where a server's stop closed it)."""
    while _built:
        _built.pop().store.close()


def serve_app(rt_or_config: Runtime | Config, city: City | None = None) -> ServerThread:
    """A server (start it with `with`) for the app of a Runtime, or of one built from a config."""
    from command_center.app import build_app
    from command_center.config import Config

    rt = build_runtime(rt_or_config, city) if isinstance(rt_or_config, Config) else rt_or_config
    return ServerThread(build_app(rt))


PG_ADMIN = os.environ.get("CC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def postgres_database(prefix: str = "cc_test") -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards; the test is skipped
    when psycopg or the server (CC_TEST_POSTGRES, default 127.0.0.1:5432) is missing."""
    import pytest

    psycopg = pytest.importorskip("psycopg")
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN}: {exc}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
