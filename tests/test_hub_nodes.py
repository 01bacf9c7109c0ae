"""Several API nodes behind one address: every node delivers every event under the same
seq, and a client that reconnects to another node resumes with `since` and misses
nothing (seq and history live in Redis, see hub.py and hub_history.py).

Nodes run in this process (a Runtime and uvicorn each), and, last, as two `command-center
serve` processes of which one is killed. Uses the Redis at 127.0.0.1:6379 with a key
prefix of its own per test (deleted after).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import redis
import redis.asyncio as aioredis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from command_center.auth import Principal
from command_center.auth.tokens import TokenSigner
from command_center.bus.redis_codec import encode
from command_center.config import parse_config
from command_center.events import Event
from command_center.hub import Hub
from command_center.hub_history import Post, RedisHubHistory
from dispatch.city import City
from tests.helpers import REDIS, ROOT, ServerThread, free_port, serve_app

CHANNEL = "grids"  # no consumer but the hub: the events need no real content


@contextlib.contextmanager
def node(root: Path, name: str, prefix: str, city: City, history: int = 1000) -> Iterator[ServerThread]:
    data = root / name
    config = parse_config(
        {
            "server": {"data_dir": str(data)},
            "store": f"sqlite:///{data / 'cc.db'}",
            "bus": f"{REDIS}?prefix={prefix}&block_ms=200&backoff_max_s=0.2",
            "hub": {"history": history},
        }
    )
    with serve_app(config, city=city) as server:
        server.run(rt(server).bus.ready())  # its hub's group exists: it sees what comes next
        yield server


def rt(server: ServerThread) -> Any:
    """The app's services (app.state): .bus, .hub, ..."""
    return server.app.state  # type: ignore[attr-defined]


def publish(server: ServerThread, n: int) -> None:
    server.run(rt(server).bus.publish(Event(CHANNEL, "grid.updated", {"n": n})))


@contextlib.contextmanager
def subscribe(server: ServerThread, since: int | None = None) -> Iterator[ClientConnection]:
    with server.ws_connect() as conn:
        op: dict[str, Any] = {"op": "subscribe", "channels": [CHANNEL]}
        if since is not None:
            op["since"] = {CHANNEL: since}
        conn.send(json.dumps(op))
        yield conn


def take(conn: ClientConnection, until_seq: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Channel messages (and resyncs) up to seq `until_seq`; heartbeats and acks skipped."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while not out or out[-1].get("seq", 0) < until_seq:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg.get("channel") == CHANNEL and msg.get("type") != "resync":
            out.append(msg)
        elif msg.get("type") == "resync":
            out.append(msg)
            return out
    return out


def quiet(conn: ClientConnection, wait: float = 0.5) -> list[dict[str, Any]]:
    """Channel messages that still come within `wait`: none, when nothing was sent twice."""
    out = []
    with contextlib.suppress(TimeoutError):
        while True:
            msg = json.loads(conn.recv(timeout=wait))
            if msg.get("channel") == CHANNEL:
                out.append(msg)
    return out


def test_clients_on_two_nodes_get_every_event_with_the_same_seq(
    prefix: str, tmp_path: Path, small_city: City
) -> None:
    with (
        node(tmp_path, "a", prefix, small_city) as a,
        node(tmp_path, "b", prefix, small_city) as b,
        subscribe(a) as on_a,
        subscribe(b) as on_b,
    ):
        for conn in (on_a, on_b):
            assert json.loads(conn.recv(timeout=5))["type"] == "subscribed"
        for n in range(6):
            publish(a if n % 2 else b, n)
        got_a, got_b = take(on_a, 6), take(on_b, 6)
        assert [m["seq"] for m in got_a] == [1, 2, 3, 4, 5, 6]
        assert got_a == got_b
        assert sorted(m["data"]["n"] for m in got_a) == list(range(6))
        assert quiet(on_a) == [] and quiet(on_b, 0.1) == []


def test_a_client_moving_to_another_node_gets_exactly_what_it_missed(
    prefix: str, tmp_path: Path, small_city: City
) -> None:
    with node(tmp_path, "a", prefix, small_city) as a:
        with subscribe(a) as conn:
            for n in range(3):
                publish(a, n)
            seen = take(conn, 3)
        for n in range(3, 7):  # while it is away
            publish(a, n)
        # Node b starts only now: it never saw those events, Redis keeps them for it.
        with node(tmp_path, "b", prefix, small_city) as b, subscribe(b, since=seen[-1]["seq"]) as conn:
            replayed = take(conn, 7)
            assert [m["seq"] for m in replayed] == [4, 5, 6, 7]
            assert [m["data"]["n"] for m in replayed] == [3, 4, 5, 6]
            publish(a, 7)
            publish(b, 8)
            live = take(conn, 9)
            assert [m["seq"] for m in live] == [8, 9]
            assert quiet(conn) == []


def test_since_older_than_the_shared_history_asks_for_a_resync(
    prefix: str, tmp_path: Path, small_city: City
) -> None:
    with node(tmp_path, "a", prefix, small_city, history=5) as a:
        with subscribe(a) as conn:
            for n in range(12):
                publish(a, n)
            take(conn, 12)
        with node(tmp_path, "b", prefix, small_city, history=5) as b:
            with subscribe(b, since=2) as conn:
                assert take(conn, 12)[-1] == {"type": "resync", "channel": CHANNEL, "seq": 12}
            with subscribe(b, since=7) as conn:  # still in the history: replayed
                assert [m["seq"] for m in take(conn, 12)] == [8, 9, 10, 11, 12]


def test_a_reconnect_while_events_keep_coming_has_no_gap_and_no_duplicate(
    prefix: str, tmp_path: Path, small_city: City
) -> None:
    total = 300
    with node(tmp_path, "a", prefix, small_city) as a, node(tmp_path, "b", prefix, small_city) as b:
        published = threading.Event()

        async def keep_publishing() -> None:
            for n in range(total):
                await rt(a).bus.publish(Event(CHANNEL, "grid.updated", {"n": n}))
                await asyncio.sleep(0.002)
            published.set()

        assert a.loop is not None
        with subscribe(a) as first:
            assert json.loads(first.recv(timeout=5))["type"] == "subscribed"
            asyncio.run_coroutine_threadsafe(keep_publishing(), a.loop)
            before = take(first, 40)
        with subscribe(b, since=before[-1]["seq"]) as conn:  # mid-stream, to the other node
            after = take(conn, total, timeout=30)
            assert published.wait(10)
            seqs = [m["seq"] for m in before + after]
            assert seqs == list(range(1, total + 1))
            assert [m["data"]["n"] for m in before + after] == list(range(total))
            assert quiet(conn) == []


# ------------------------------------------------------------------ separate processes


def serve_process(root: Path, name: str, prefix: str, secret: str) -> tuple[subprocess.Popen[str], int]:
    """`command-center serve` with the shared bus and token secret, its own data dir."""
    data, port = root / name, free_port()
    data.mkdir()
    config = {
        "server": {"data_dir": str(data), "port": port, "host": "127.0.0.1"},
        "store": f"sqlite:///{data / 'cc.db'}",
        "bus": f"{REDIS}?prefix={prefix}&block_ms=200&backoff_max_s=0.2",
        "auth": {"secret": secret},
        "city": {"generator": {"seed": 7, "districts": 2}},
    }
    path = data / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    proc = subprocess.Popen(
        [sys.executable, "-m", "command_center", "serve", "--config", str(path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=(data / "log.txt").open("w"),
        text=True,
    )
    return proc, port


def wait_up(proc: subprocess.Popen[str], port: int, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"node on port {port} did not come up: {log.read_text()}")


def test_a_client_of_a_killed_node_resumes_on_another_and_misses_nothing(prefix: str, tmp_path: Path) -> None:
    secret = secrets.token_hex(32)
    token = TokenSigner(secret.encode(), 3600).issue(Principal("admin", "admin", "", None))[0]  # type: ignore[arg-type]
    bearer = {"Authorization": f"Bearer {token}"}  # `serve` made the admin account (version 0)
    (a, port_a), (b, port_b) = (serve_process(tmp_path, n, prefix, secret) for n in ("a", "b"))
    sync = redis.Redis.from_url(REDIS, decode_responses=True)
    stream = f"{prefix}:stream:{CHANNEL}"
    stop = threading.Event()
    try:
        wait_up(a, port_a, tmp_path / "a" / "log.txt")
        wait_up(b, port_b, tmp_path / "b" / "log.txt")
        deadline = time.monotonic() + 20  # both hubs' fan-out groups exist: both see what comes next
        while sum(g["name"].startswith("hub@") for g in groups(sync, stream)) < 2:
            assert time.monotonic() < deadline, groups(sync, stream)
            time.sleep(0.1)

        total = 200

        def keep_publishing() -> None:  # as any node's bus would: XADD to the topic's stream
            for n in range(total):
                if stop.is_set():
                    return
                sync.xadd(stream, encode(Event(CHANNEL, "grid.updated", {"n": n})))
                time.sleep(0.005)

        publisher = threading.Thread(target=keep_publishing, daemon=True)
        before: list[dict[str, Any]] = []
        with connect(f"ws://127.0.0.1:{port_a}/ws", additional_headers=bearer) as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": [CHANNEL]}))
            assert json.loads(conn.recv(timeout=5))["type"] == "subscribed"
            publisher.start()
            before = take(conn, 50)
            a.kill()  # SIGKILL: no clean close, its fan-out group is left behind
            a.wait(10)
            with contextlib.suppress(ConnectionClosed, TimeoutError):
                while True:  # whatever was on the wire still arrives, then the connection ends
                    msg = json.loads(conn.recv(timeout=5))
                    if msg.get("channel") == CHANNEL:
                        before.append(msg)
        last = before[-1]["seq"]
        assert last < total  # killed mid-stream: the rest must come from node b
        with connect(f"ws://127.0.0.1:{port_b}/ws", additional_headers=bearer) as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": [CHANNEL], "since": {CHANNEL: last}}))
            after = take(conn, total, timeout=30)
            publisher.join(30)
            assert [m["seq"] for m in before + after] == list(range(1, total + 1))
            assert [m["data"]["n"] for m in before + after] == list(range(total))
            assert quiet(conn) == []
    finally:
        stop.set()
        for proc in (a, b):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        sync.close()


def groups(client: redis.Redis, stream: str) -> list[dict[str, Any]]:
    try:
        return client.xinfo_groups(stream)  # type: ignore[return-value]
    except redis.ResponseError:  # no stream yet
        return []


# ------------------------------------------------------------------ the Redis history alone


def test_an_event_is_numbered_once_and_a_lost_counter_never_goes_back(prefix: str) -> None:
    async def scenario() -> None:
        client = aioredis.Redis.from_url(REDIS, decode_responses=True)
        history = RedisHubHistory(client, prefix, history=3)
        try:
            posts = [Post(f"e{i}", CHANNEL, "grid.updated", {"n": i}, "440103" if i % 2 else None) for i in range(5)]
            assert await history.assign(posts, [0] * 5) == [(i, True) for i in range(1, 6)]
            # Another node handling the same events gets the same seqs back.
            assert await history.assign(posts[3:], [0, 0]) == [(4, False), (5, False)]
            now, replay = (await history.since({CHANNEL: 3}))[CHANNEL]
            assert now == 5 and replay is not None
            assert [(seq, json.loads(m)["data"]["n"], area) for seq, m, area in replay] == [
                (4, 3, "440103"), (5, 4, None)
            ]
            assert json.loads(replay[0][1]) == {"channel": CHANNEL, "seq": 4, "type": "grid.updated", "data": {"n": 3}}
            assert (await history.since({CHANNEL: 1}))[CHANNEL] == (5, None)  # trimmed to 3: resync
            assert (await history.since({CHANNEL: 5}))[CHANNEL] == (5, [])
            # Redis lost everything (restarted without persistence): a node that has
            # delivered up to 5 never sees a seq at or below it handed out again.
            await client.delete(f"{prefix}:hub:seq:{CHANNEL}", f"{prefix}:hub:hist:{CHANNEL}")
            assert await history.assign([Post("e9", CHANNEL, "grid.updated", {})], [5]) == [(6, True)]
            assert (await history.since({CHANNEL: 9}))[CHANNEL] == (6, None)  # a client from before
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_a_redelivered_event_is_not_delivered_twice(prefix: str) -> None:
    async def scenario() -> None:
        client = aioredis.Redis.from_url(REDIS, decode_responses=True)
        hub = Hub()
        hub.shared = RedisHubHistory(client, prefix, history=10)
        try:
            first, second = (Post(f"e{i}", CHANNEL, "grid.updated", {"n": i}) for i in range(2))
            await hub.publish_all([first, second])
            await hub.publish_all([first])  # the bus hands an event out again (at least once)
            assert hub.channels[CHANNEL].seq == 2 and hub.stats.published == 2
        finally:
            await client.aclose()

    asyncio.run(scenario())
