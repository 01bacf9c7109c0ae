"""Shared fixtures: a small generated city, and a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from websockets.sync.client import ClientConnection, connect

from command_center.auth import Principal
from dispatch.city import City, generate_city

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REDIS = "redis://127.0.0.1:6379/0"
# The password of the accounts token_for creates, and its argon2id hash (cheap cost), made
# once here so that no test pays for hashing.
TEST_PASSWORD = "test-account-password"
TEST_HASH = "$argon2id$v=19$m=1024,t=1,p=4$C4DBVFTxJApCgwGkCK3Orw$K8heP/LTTXniVB234jWNbzbqRznxArhxLAqav1Azxmo"


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, its keys deleted afterwards; the test is skipped
    with the reason when Redis is not reachable (.ci/run starts it)."""
    import secrets

    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS} ({exc}); start it as /work/.library/env describes")
    name = f"test-{secrets.token_hex(4)}"
    yield name
    client = redis.Redis.from_url(REDIS)
    for key in client.scan_iter(f"{name}:*"):
        client.delete(key)
    client.close()


@pytest.fixture(scope="session")
def small_city() -> City:
    """Two districts: enough hierarchy for routing, fast to build."""
    return generate_city(seed=7, districts=2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """A real uvicorn server for an ASGI app, on its own thread and loop."""

    def __init__(self, app: object) -> None:
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
        return auth_headers(self.app.state.runtime, **who)  # type: ignore[attr-defined]

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


@pytest.fixture
def serve() -> Iterator[type[ServerThread]]:
    yield ServerThread


def token_for(
    rt: object, role: str = "admin", user: str | None = None, jurisdiction: str = "", worker_id: str | None = None
) -> str:
    """A signed token for a Runtime's app. Its account is created when missing (password
    TEST_PASSWORD, no argon2 run), and the token carries the account's token_version, so
    it is current until the account is changed."""
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
