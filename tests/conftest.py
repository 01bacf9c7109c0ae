"""Shared fixtures: a Redis key prefix, a small generated city, a server class, and the
closing of every Runtime a test module built. What tests import lives in tests/helpers.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dispatch.city import City, generate_city
from tests.helpers import REDIS, ServerThread, close_runtimes, postgres_database


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a `slow` test run first, in their own order: with `make test`'s two
    processes taking whole files, a long file picked up last would leave one core idle."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


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


@pytest.fixture
def serve() -> Iterator[type[ServerThread]]:
    yield ServerThread


@pytest.fixture(scope="module", autouse=True)
def runtimes() -> Iterator[None]:
    """Closes the store of every Runtime the module built with helpers.build_runtime (or
    serve_app), after its module-scoped servers stopped: autouse fixtures are set up first,
    so torn down last."""
    yield
    close_runtimes()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty store on each database (PostgreSQL: a scratch database, skipped when unreachable)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cc.db'}"
        return
    with postgres_database("cc_scratch") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (tests/browser.py)."""
    from tests.browser import chromium

    with chromium() as found:
        yield found
