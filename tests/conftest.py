"""Shared fixtures: a small generated city, and a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from command_center.auth import Principal
from dispatch.city import City, generate_city

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REDIS = "redis://127.0.0.1:6379/0"


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
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
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

    def ws_url_for(self, **who: str | None) -> str:
        """The websocket URL with a token, as the pages send it."""
        return f"{self.ws_url}?token={token_for(self.app.state.runtime, **who)}"  # type: ignore[attr-defined, arg-type]

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
    """A signed token for a Runtime's app, minted without an account (no argon2 in every test)."""
    principal = Principal(user or worker_id or role, role, jurisdiction, worker_id)  # type: ignore[arg-type]
    return rt.auth.signer.issue(principal)[0]  # type: ignore[attr-defined]


def auth_headers(rt: object, **who: str | None) -> dict[str, str]:
    """Authorization headers for `rt`'s app; an admin of the whole city unless told otherwise."""
    return {"Authorization": f"Bearer {token_for(rt, **who)}"}  # type: ignore[arg-type]
