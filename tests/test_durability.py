"""Durability: a burst of 10,000 incidents on the Redis bus, the `command-center serve`
process that turns them into cases killed with SIGKILL midway and started again; in
the end every incident is in exactly one case: none lost, none taken in twice.

The dispatcher here is the runtime's own (`CaseWork.take_in` in a real serve
process); the test only plays the cameras' part, as `record_incident` does: each
incident stored first, then published as `incident.created`. Dedupe is narrowed to
identical points (`dedupe_radius_m: 0`), so each incident should make a case of its own
and the case count is exact. Runs on SQLite and on PostgreSQL (a database made for the
run and dropped after; skipped, saying why, when the server cannot be reached).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from bench.route import _draw_points
from command_center.bus.redis_codec import encode
from command_center.config import CONFIG_DIR
from command_center.events import Event
from command_center.store import CaseQuery, create_store
from dispatch.catalog import load_catalog
from dispatch.city import load_or_generate
from tests.helpers import REDIS, ROOT, free_port

ADMIN = os.environ.get("CC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
N = 10_000
KILL_AFTER = 3_000  # entries the dispatcher group has read (incident.updated ones too) at the kill
PUBLISH_CHUNK = 250  # one pipelined round trip; paced so the burst outlasts the kill
PUBLISH_RATE = 500.0  # incidents/s offered: the burst goes on while the dispatcher is dead


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cc.db'}"
        return
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed")
    name = f"cc_durability_{secrets.token_hex(4)}"
    try:
        _admin(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable at {ADMIN}: {exc}")
    yield ADMIN.rsplit("/", 1)[0] + "/" + name
    _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _incidents(data: Path) -> list[dict[str, Any]]:
    """Shaped like `IncidentRecorder.record`'s documents, at distinct points in the city."""
    city = load_or_generate(7, 1, cache_dir=data / "cache")  # the serve process reuses the cache
    lons, lats = _draw_points(city, N, 11, inside=True)
    codes = [m.code for m in load_catalog(CONFIG_DIR / "matters.yaml").items]
    now = datetime.now(UTC).isoformat()
    return [
        {
            "id": f"D{i:06d}",
            "ts": now,
            "camera_id": "durability",
            "rule": "durability",
            "zone": "z",
            "label": "durability",
            "score": 0.9,
            "box": [0.0, 0.0, 1.0, 1.0],
            "track_id": i,
            "location": {"lon": float(lons[i]), "lat": float(lats[i])},
            "grid_code": None,
            "matter_code": codes[i % len(codes)],
            "matter_name": None,
            "snapshot_url": f"/api/incidents/D{i:06d}/snapshot.jpg",
            "clip_url": None,
            "state": "new",
            "case_id": None,
        }
        for i in range(N)
    ]


def _store_incidents(url: str, docs: list[dict[str, Any]]) -> None:
    store = create_store(url)
    try:
        with getattr(store, "batch", contextlib.nullcontext)():
            for doc in docs:
                store.add_incident(doc)
    finally:
        store.close()


def _serve(data: Path, port: int, store: str, prefix: str, log: str) -> subprocess.Popen[bytes]:
    config = {
        "server": {"data_dir": str(data), "port": port, "host": "127.0.0.1"},
        "store": store,
        # reclaim_idle_s small: the killed consumer's pending entries are taken over soon.
        "bus": f"{REDIS}?prefix={prefix}&block_ms=200&reclaim_idle_s=1&reclaim_every_s=0.5&backoff_max_s=0.2",
        "city": {"generator": {"seed": 7, "districts": 1}},
        "dispatch": {"dedupe_radius_m": 0},
    }
    path = data / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return subprocess.Popen(
        [sys.executable, "-m", "command_center", "serve", "--config", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(data / log).open("wb"),
    )


def _wait_up(proc: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"serve on port {port} did not come up: {log.read_text()}")


def _dispatcher_group(client: redis.Redis, stream: str) -> dict[str, Any]:
    for group in client.xinfo_groups(stream):
        if group["name"] == "dispatcher":
            return group
    return {"entries-read": 0, "pending": 0, "lag": None}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.slow
def test_a_killed_dispatcher_loses_no_incident_and_duplicates_none(
    prefix: str, store_url: str, tmp_path: Path
) -> None:
    data = tmp_path / "var"
    data.mkdir()
    docs = _incidents(data)
    _store_incidents(store_url, docs)  # stored before published, as record_incident does
    stream = f"{prefix}:stream:incidents"
    client = redis.Redis.from_url(REDIS, decode_responses=True)
    port = free_port()
    first = _serve(data, port, store_url, prefix, "first.log")
    second: subprocess.Popen[bytes] | None = None
    stop = threading.Event()
    published = [0]

    def burst() -> None:
        began = time.monotonic()
        for start in range(0, N, PUBLISH_CHUNK):
            if stop.is_set():
                return
            with client.pipeline(transaction=False) as pipe:
                for doc in docs[start : start + PUBLISH_CHUNK]:
                    pipe.xadd(stream, encode(Event("incidents", "incident.created", doc)))
                pipe.execute()
            published[0] = start + len(docs[start : start + PUBLISH_CHUNK])
            time.sleep(max(0.0, began + published[0] / PUBLISH_RATE - time.monotonic()))

    publisher = threading.Thread(target=burst, daemon=True)
    try:
        _wait_up(first, port, data / "first.log")
        began = time.monotonic()
        publisher.start()
        deadline = time.monotonic() + 90
        while int(_dispatcher_group(client, stream)["entries-read"] or 0) < KILL_AFTER:
            assert time.monotonic() < deadline, _dispatcher_group(client, stream)
            assert first.poll() is None, (data / "first.log").read_text()
            time.sleep(0.05)
        first.kill()  # SIGKILL: no ack of what it held, no clean close
        first.wait(10)
        at_kill = _dispatcher_group(client, stream)
        committed = _case_count(store_url)
        # The stream also carries the dispatcher's own incident.updated events: read > committed.
        print(
            f"killed: group read {at_kill['entries-read']}, {at_kill['pending']} pending;"
            f" {committed} cases committed; {published[0]} published"
        )

        second = _serve(data, port, store_url, prefix, "second.log")
        _wait_up(second, port, data / "second.log")
        publisher.join(60)
        assert published[0] == N
        deadline = time.monotonic() + 150  # generous: the VM may be busy; a stall still fails
        while True:  # every entry read by the group and acknowledged
            group = _dispatcher_group(client, stream)
            if group["lag"] == 0 and group["pending"] == 0 and int(group["entries-read"] or 0) >= N:
                break
            assert time.monotonic() < deadline, group
            assert second.poll() is None, (data / "second.log").read_text()
            time.sleep(0.2)
        took = time.monotonic() - began
        counters = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=5).json()
    finally:
        stop.set()
        for proc in (first, second):
            if proc is not None:
                _stop(proc)
        client.close()

    store = create_store(store_url)
    try:
        cases, total = store.list_cases(CaseQuery(limit=10 * N))
        incidents, _ = store.list_incidents(limit=10 * N)
    finally:
        store.close()
    print(f"{N} incidents → {total} cases in {took:.1f} s; after restart: {_counters(counters)}")
    taken = Counter(i for case in cases for i in case.incident_ids)
    ids = {doc["id"] for doc in docs}
    lost = sorted(ids - set(taken))
    twice = sorted(i for i, n in taken.items() if n > 1)
    # On a failure, what the serve processes logged about the lost incidents says why.
    said = [
        line for log in ("first.log", "second.log") if (data / log).exists()
        for line in (data / log).read_text(errors="replace").splitlines() if any(i in line for i in lost[:10])
    ]  # fmt: skip
    assert lost == [], f"{len(lost)} incidents in no case: {lost[:10]}; logged: {said[:20]}"
    assert twice == [], f"{len(twice)} incidents in more than one case: {twice[:10]}"
    assert set(taken) == ids
    assert total == len(cases) == N  # no dedupe at distinct points: one case each
    case_of = {i: case.id for case in cases for i in case.incident_ids}
    unlinked = [d["id"] for d in incidents if d["id"] in ids and d.get("case_id") != case_of[d["id"]]]
    assert unlinked == [], f"{len(unlinked)} incident rows not linked to their case: {unlinked[:10]}"


def _case_count(url: str) -> int:
    store = create_store(url)
    try:
        return store.list_cases(CaseQuery(limit=1))[1]
    finally:
        store.close()


def _counters(health: dict[str, Any]) -> dict[str, Any]:
    keys = ("cases_created", "cases_merged", "incidents_redelivered")
    found = health.get("counters", health)
    return {k: found.get(k) for k in keys if isinstance(found, dict)}
