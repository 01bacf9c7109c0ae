"""The websocket protocol against a real uvicorn server and a real client, on loopback."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.sync.client import connect

from command_center.hub import MAX_BATCH, Hub
from command_center.hub_parts import Access
from tests.helpers import ROOT


def hub_app(hub: Hub) -> Starlette:
    """The hub alone; `?prefix=` and `?only=` stand in for what a token would grant."""

    async def ws(websocket: WebSocket) -> None:
        only = websocket.query_params.get("only")
        access = Access(websocket.query_params.get("prefix", ""), frozenset(only.split(",")) if only else None)
        await hub.serve(websocket, access)

    return Starlette(routes=[WebSocketRoute("/ws", ws)])


def recv(conn, timeout: float = 5.0) -> dict:  # noqa: ANN001
    return json.loads(conn.recv(timeout=timeout))


def recv_type(conn, type_: str, timeout: float = 5.0) -> dict:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while True:
        msg = recv(conn, max(0.01, deadline - time.monotonic()))
        if msg.get("type") == type_:
            return msg


def test_subscribe_receive_in_order_with_increasing_seq(serve) -> None:  # noqa: ANN001
    hub = Hub()
    with serve(hub_app(hub)) as server, connect(server.ws_url) as conn:
        conn.send(json.dumps({"op": "subscribe", "channels": ["incidents", "cases"]}))
        assert recv_type(conn, "subscribed")["channels"] == ["incidents", "cases"]
        for i in range(5):
            server.call(hub.publish, "incidents", "incident.created", {"id": f"I{i}"})
        server.call(hub.publish, "cases", "case.created", {"id": "C1"})
        server.call(hub.publish, "other", "x", {})  # not subscribed
        got = [recv(conn) for _ in range(6)]
        assert [m["seq"] for m in got if m["channel"] == "incidents"] == [1, 2, 3, 4, 5]
        assert [m["data"]["id"] for m in got if m["channel"] == "incidents"] == [f"I{i}" for i in range(5)]
        assert [m for m in got if m["channel"] == "cases"][0] == {
            "channel": "cases", "seq": 1, "type": "case.created", "data": {"id": "C1"}
        }
        conn.send(json.dumps({"op": "ping"}))
        assert recv(conn) == {"type": "pong"}


def test_a_batching_client_gets_a_burst_in_few_frames_and_in_order(serve) -> None:  # noqa: ANN001
    hub = Hub()

    def burst() -> None:  # no await between the publishes: all of them queue before a writer runs
        for i in range(150):
            hub.publish("incidents", "incident.created", {"n": i})

    subscribe = json.dumps({"op": "subscribe", "channels": ["incidents"]})
    with serve(hub_app(hub)) as server, connect(f"{server.ws_url}?batch=1") as batched, connect(server.ws_url) as plain:
        for conn in (batched, plain):
            conn.send(subscribe)
            recv_type(conn, "subscribed")
        server.call(burst)
        frames, messages = [], []
        while len(messages) < 150:
            frame = recv(batched)
            frames.append(frame)
            messages.extend(frame if isinstance(frame, list) else [frame])
        assert [m["seq"] for m in messages] == list(range(1, 151))
        assert [m["data"]["n"] for m in messages] == list(range(150))
        assert 3 <= len(frames) < 10 and max(len(f) for f in frames if isinstance(f, list)) <= MAX_BATCH
        assert [recv(plain)["seq"] for _ in range(150)] == list(range(1, 151))  # one message a frame
        # Counted (messages and frames) once each send returns, which may be just after the
        # client has read it: give the writer a moment to finish counting.
        deadline = time.monotonic() + 2
        while hub.stats.sent - hub.stats.frames != 150 - len(frames) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert hub.stats.sent - hub.stats.frames == 150 - len(frames)
        server.call(hub.publish, "incidents", "incident.created", {"n": 150})
        assert recv(batched)["seq"] == 151  # a lone message is not wrapped, and never waits for company


def test_since_replays_what_was_missed(serve) -> None:  # noqa: ANN001
    hub = Hub(history=50)
    with serve(hub_app(hub)) as server:
        for i in range(10):
            server.call(hub.publish, "incidents", "incident.created", {"n": i})
        with connect(server.ws_url) as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": ["incidents"], "since": {"incidents": 7}}))
            replayed = [recv(conn) for _ in range(3)]
            assert [m["seq"] for m in replayed] == [8, 9, 10]
            assert recv(conn)["type"] == "subscribed"
            server.call(hub.publish, "incidents", "incident.created", {"n": 10})
            assert recv(conn)["seq"] == 11


def test_gap_older_than_history_asks_for_resync(serve) -> None:  # noqa: ANN001
    hub = Hub(history=5)
    with serve(hub_app(hub)) as server:
        for i in range(20):
            server.call(hub.publish, "cases", "case.updated", {"n": i})
        with connect(server.ws_url) as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": ["cases"], "since": {"cases": 3}}))
            msg = recv(conn)
            assert msg == {"type": "resync", "channel": "cases", "seq": 20}
            assert hub.stats.resyncs == 1


def test_bad_messages_get_an_error_not_a_disconnect(serve) -> None:  # noqa: ANN001
    hub = Hub()
    with serve(hub_app(hub)) as server, connect(server.ws_url) as conn:
        conn.send("not json")
        assert "error" in recv(conn)
        conn.send(json.dumps({"op": "fly"}))
        assert recv(conn)["error"] == "unknown op 'fly'"
        conn.send(json.dumps({"op": "subscribe", "channels": "incidents"}))
        assert "error" in recv(conn)
        conn.send(json.dumps({"op": "ping"}))
        assert recv(conn) == {"type": "pong"}


def test_slow_client_is_dropped_and_others_get_everything(serve) -> None:  # noqa: ANN001
    hub = Hub(queue_size=8)
    big = {"blob": "x" * 256_000}
    with serve(hub_app(hub)) as server, connect(server.ws_url, max_size=None) as fast:
        slow = stalled_client(server.port, ["incidents"])
        fast.send(json.dumps({"op": "subscribe", "channels": ["incidents"]}))
        recv_type(fast, "subscribed")
        # 30 MB to a client that never reads: more than the socket buffers hold.
        latencies = []
        for i in range(120):
            sent = time.perf_counter()
            server.call(hub.publish, "incidents", "incident.created", {"n": i, **big})
            assert recv(fast)["seq"] == i + 1
            latencies.append(time.perf_counter() - sent)
        # The stalled client never holds the others up: their tail latency stays that of a
        # 256 kB message on loopback, far from the seconds a blocking send would take.
        assert sorted(latencies)[int(0.99 * len(latencies))] < 0.5
        deadline = time.monotonic() + 10
        while hub.stats.disconnected_slow == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.stats.disconnected_slow == 1
        assert len(hub.clients) == 1
        server.call(hub.publish, "incidents", "incident.created", {"n": "after"})
        assert recv(fast)["data"] == {"n": "after"}
        view = hub.view(per_client=5)
        assert view["disconnected_slow"] == 1 and view["clients"] == 1 and view["queue_limit"] == 8
        assert view["max_queue_depth"] == 8 and view["per_client"][0]["sent"] >= 121
        slow.close()


def stalled_client(port: int, channels: list[str]) -> socket.socket:
    """A websocket client that subscribes and then never reads: a phone on a dead network.

    Written on a raw socket with a tiny receive buffer, because client libraries keep
    reading into their own buffers."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)
    assert b" 101 " in response.split(b"\r\n", 1)[0]
    payload = json.dumps({"op": "subscribe", "channels": channels}).encode()
    mask = os.urandom(4)
    assert len(payload) < 126
    sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


@pytest.mark.parametrize("since", [{"incidents": "seven"}, ["x"]])
def test_malformed_since_is_ignored(serve, since) -> None:  # noqa: ANN001
    hub = Hub()
    with serve(hub_app(hub)) as server, connect(server.ws_url) as conn:
        conn.send(json.dumps({"op": "subscribe", "channels": ["incidents"], "since": since}))
        assert recv(conn)["type"] == "subscribed"


def channel_messages(conn, n: int, timeout: float = 5.0) -> list[dict]:  # noqa: ANN001
    out: list[dict] = []
    while len(out) < n:
        msg = recv(conn, timeout)
        if "channel" in msg:
            out.append(msg)
    return out


def test_a_district_client_never_gets_another_districts_events(serve) -> None:  # noqa: ANN001
    hub = Hub()
    with (
        serve(hub_app(hub)) as server,
        connect(f"{server.ws_url}?prefix=440103") as district,
        connect(server.ws_url) as city,
    ):
        for conn in (district, city):
            conn.send(json.dumps({"op": "subscribe", "channels": ["incidents", "grids"]}))
            recv_type(conn, "subscribed")
        published = [
            ("incidents", {"id": "a1"}, "440103001001001"),
            ("incidents", {"id": "b1"}, "440104001001001"),
            ("incidents", {"id": "x1"}, "-"),  # should have a place, has none: city-wide only
            ("incidents", {"id": "c1"}, "440100000000000"),  # filed at city level
            ("grids", {"id": "map"}, None),  # a notice for everyone
            ("incidents", {"id": "a2"}, "440103002000000"),
        ]
        for channel, data, area in published:
            server.call(hub.publish, channel, "x", data, area)
        assert [m["data"]["id"] for m in channel_messages(city, 6)] == ["a1", "b1", "x1", "c1", "map", "a2"]
        got = channel_messages(district, 3)
        assert [m["data"]["id"] for m in got] == ["a1", "map", "a2"]
        # seq is the channel's: the district sees gaps where others' events were
        assert [m["seq"] for m in got if m["channel"] == "incidents"] == [1, 5]
        with pytest.raises(TimeoutError):
            channel_messages(district, 1, timeout=0.3)


def test_reconnect_with_since_gets_exactly_the_missed_events_in_scope(serve) -> None:  # noqa: ANN001
    hub = Hub(history=100)
    area = {"a": "440103001001001", "b": "440104001001001"}
    with serve(hub_app(hub)) as server:
        with connect(f"{server.ws_url}?prefix=440103") as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": ["cases"]}))
            recv_type(conn, "subscribed")
            for i in range(3):
                server.call(hub.publish, "cases", "case.updated", {"n": i}, area["a"])
            last = channel_messages(conn, 3)[-1]["seq"]
        # offline: events in both districts
        for i in range(3, 9):
            server.call(hub.publish, "cases", "case.updated", {"n": i}, area["a" if i % 2 else "b"])
        with connect(f"{server.ws_url}?prefix=440103") as conn:
            conn.send(json.dumps({"op": "subscribe", "channels": ["cases"], "since": {"cases": last}}))
            replayed = []
            while (msg := recv(conn)).get("type") != "subscribed":
                replayed.append(msg)
            assert [m["data"]["n"] for m in replayed] == [3, 5, 7]
            assert [m["seq"] for m in replayed] == [4, 6, 8]
            server.call(hub.publish, "cases", "case.updated", {"n": 9}, area["a"])
            assert recv(conn)["data"]["n"] == 9  # live again, nothing doubled or lost


def test_a_worker_connection_hears_only_its_task_channel(serve) -> None:  # noqa: ANN001
    hub = Hub()
    with serve(hub_app(hub)) as server, connect(f"{server.ws_url}?only=tasks:W1") as phone:
        phone.send(json.dumps({"op": "subscribe", "channels": ["cases", "tasks:W2", "tasks:W1"]}))
        refused = recv(phone)
        assert refused["error"] == "not allowed to subscribe" and refused["channels"] == ["cases", "tasks:W2"]
        assert recv(phone)["channels"] == ["tasks:W1"]
        for channel in ("cases", "tasks:W2", "tasks:W1"):
            server.call(hub.publish, channel, "task.assigned", {"to": channel}, "440103001001001")
        assert recv(phone)["data"] == {"to": "tasks:W1"}
        with pytest.raises(TimeoutError):
            recv(phone, timeout=0.3)
        assert hub.stats.refused_channels == 2


def test_bench_hub_prints_a_ratio_last() -> None:
    """`command-center bench hub` end to end, small: the real app and the websockets baseline."""
    args = ["--clients", "20", "--rate", "20", "--seconds", "1", "--warmup", "0.5", "--processes", "1"]
    proc = subprocess.run(
        [sys.executable, "-m", "command_center", "bench", "hub", *args], capture_output=True, text=True, cwd=ROOT, timeout=180
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1].startswith("ratio: ") and float(lines[-1].split()[1]) > 0
    figures = dict(line.split(": ", 1) for line in lines)
    assert figures["ours_lost"] == "0" and figures["baseline_lost"] == "0"
    assert float(figures["ours_p99_ms"]) > 0 and figures["ours_dropped_clients"] == "0"


def test_rate_of_sends_is_measured_over_a_window() -> None:
    hub = Hub()
    for t, sent in ((0.0, 0), (1.0, 500), (2.0, 1500)):
        hub.stats.sent = sent
        hub._sample_rate(t)
    assert hub.sent_per_s() == 750.0
    assert hub.view()["sent_per_s"] == 750.0
