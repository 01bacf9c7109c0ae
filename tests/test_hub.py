"""The websocket protocol against a real uvicorn server and a real client, on loopback."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket
from websockets.sync.client import connect

from command_center.hub import Hub


def hub_app(hub: Hub) -> Starlette:
    async def ws(websocket: WebSocket) -> None:
        await hub.serve(websocket)

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
        for i in range(120):
            server.call(hub.publish, "incidents", "incident.created", {"n": i, **big})
            assert recv(fast)["seq"] == i + 1
        deadline = time.monotonic() + 10
        while hub.stats.disconnected_slow == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.stats.disconnected_slow == 1
        assert len(hub.clients) == 1
        server.call(hub.publish, "incidents", "incident.created", {"n": "after"})
        assert recv(fast)["data"] == {"n": "after"}
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
