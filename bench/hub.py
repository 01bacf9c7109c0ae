"""Benchmark: websocket fan-out of live events to many subscribers.

Ours: the real app (Runtime + build_app under uvicorn on loopback), N clients
signed in with a token and subscribed to `cameras` (taking batched frames unless
`--frames single`); events go in through the bus,
as the runtime's own do, and out through the hub (area scoping, history, per-client
queues). Baseline, same run, same clients and messages: a bare `websockets` server
that hands every message to `websockets.broadcast` for all its connections.

Each message carries its publish time; clients (bare asyncio protocols in worker
processes) record the delivery latency of every measured message. msgs/s = measured
deliveries ÷ (first measured publish → last delivery); ratio = ours ÷ baseline's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import uvicorn
import websockets
from websockets.asyncio.server import ServerConnection, serve

from bench.report import report
from bench.ws_load import LoadClients, new_loop

CHANNEL = "cameras"
SUBSCRIBE = json.dumps({"op": "subscribe", "channels": [CHANNEL]})
Publish = Callable[[int, float], "Awaitable[None] | None"]  # (index, time it is due)


def payload(i: int, t: float, lon: float, lat: float) -> dict[str, Any]:
    """About the size and shape of a camera status event; `i` and `t` first (the clients look for them)."""
    return {
        "i": i, "t": t, "id": f"cam-{i % 64:04d}", "name": "Tianhe Rd / Tiyu W Rd", "kind": "rtsp",
        "state": "online", "location": {"lon": lon, "lat": lat}, "fps_in": 5.0, "fps_out": 5.0, "dropped": 0,
        "reconnects": 0, "last_frame_age_s": 0.12, "last_error": None, "note": "x" * 120,
    }  # fmt: skip


class LoopThread:
    """An event loop on its own thread, for a server under test."""

    def __init__(self) -> None:
        self.loop = new_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[Any], timeout: float = 120) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


async def paced(total: int, rate: float, publish: Publish, mark: int) -> float:
    """Publish messages 0..total-1 at `rate` per second; returns when message `mark` was due.

    Each message carries the time it was due, not the time it went out: a server that
    holds up its publisher must not hide the wait from the latency (coordinated omission).
    """
    loop = asyncio.get_running_loop()
    start, wall = loop.time(), time.time()
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        result = publish(i, wall + i / rate)
        if result is not None:
            await result
    return wall + mark / rate


def measure(
    name: str, load: LoadClients, url: str, server: LoopThread, publish: Publish,
    args: argparse.Namespace, headers: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    _status(f"{name}: connecting {args.clients} clients")
    t0 = time.perf_counter()
    connected = load.connect(url, args.clients, SUBSCRIBE, headers=headers)
    connect_s = time.perf_counter() - t0
    if connected < args.clients:
        _status(f"{name}: only {connected} of {args.clients} clients connected")
    time.sleep(0.5)  # let the subscriptions land
    warm, measured = int(args.warmup * args.rate), int(args.seconds * args.rate)
    load.measure(warm, warm + measured)
    _status(f"{name}: publishing {warm} + {measured} messages at {args.rate}/s")
    first_measured = server.run(paced(warm + measured, args.rate, publish, warm), timeout=args.warmup + args.seconds + 60)
    tally = load.finish(time.time() + args.drain)
    lat = np.frombuffer(tally["latencies"], dtype=np.float64) * 1000
    expected = connected * measured
    span = max(tally["last_rx"] - first_measured, 1e-9)
    return {
        "connected": connected,
        "connect_s": round(connect_s, 2),
        "delivered": int(tally["delivered"]),
        "expected": expected,
        "lost": expected - int(tally["delivered"]),
        "dropped_clients": tally["dropped"],
        "msgs_per_s": round(tally["delivered"] / span),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if lat.size else None,
        "max_ms": round(float(lat.max()), 2) if lat.size else None,
    }


def run_ours(load: LoadClients, args: argparse.Namespace, port: int) -> dict[str, Any]:
    from command_center.app import build_app
    from command_center.auth import Principal
    from command_center.cli import settle_heap
    from command_center.config import parse_config
    from command_center.events import Event
    from command_center.runtime import Runtime
    from dispatch.city import generate_city

    data = Path(tempfile.mkdtemp(prefix="bench-hub-"))
    config = parse_config(
        {
            "server": {"data_dir": str(data)},
            "store": f"sqlite:///{data / 'cc.db'}",
            "hub": {"queue_size": args.queue_size},
            # every client signs in as the one bench account
            "auth": {"max_sessions_per_user": {"ws": args.clients + 10}},
        }
    )
    city = generate_city(seed=7, districts=1)
    rt = Runtime(config, city=city)
    grid = city.grids[len(city.grids) // 2]
    rt.store.add_users([{"username": "bench", "password_hash": "-", "role": "officer", "jurisdiction": "",
                         "worker_id": None, "created_at": "2026-01-01T00:00:00+00:00"}])  # fmt: skip
    token, _ = rt.auth.signer.issue(Principal("bench", "officer"))  # the account's version 0
    server = LoopThread()
    app = build_app(rt)
    settle_heap()  # as `serve` does
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws=args.ws))
    serving = asyncio.run_coroutine_threadsafe(uv.serve(), server.loop)
    while not uv.started:
        if serving.done():
            serving.result()
        time.sleep(0.05)

    def publish(i: int, t: float) -> Awaitable[None]:
        return rt.bus.publish(Event(CHANNEL, "camera.status", payload(i, t, grid.lon, grid.lat)))

    try:
        batch = "?batch=1" if args.frames == "batch" else ""
        bearer = {"Authorization": f"Bearer {token}"}
        figures = measure("ours", load, f"ws://127.0.0.1:{port}/ws{batch}", server, publish, args, bearer)
        view = rt.hub.view()
        figures["hub"] = {k: view[k] for k in ("sent", "frames", "disconnected_slow", "lagging", "max_queue_depth")}
    finally:
        uv.should_exit = True
        serving.result(30)
        server.stop()
    return figures


def run_baseline(load: LoadClients, args: argparse.Namespace, port: int) -> dict[str, Any]:
    connections: set[ServerConnection] = set()
    seq = 0

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()  # the subscribe message, as the hub reads it
        connections.add(ws)
        try:
            await ws.wait_closed()
        finally:
            connections.discard(ws)

    def publish(i: int, t: float) -> None:
        nonlocal seq
        seq += 1
        message = json.dumps(
            {"channel": CHANNEL, "seq": seq, "type": "camera.status", "data": payload(i, t, 113.3, 23.1)},
            ensure_ascii=False,
        )
        websockets.broadcast(connections, message)

    async def start() -> Any:
        return await serve(handler, "127.0.0.1", port, compression=None, max_queue=None)

    server = LoopThread()
    ws_server = server.run(start())
    try:
        return measure("baseline", load, f"ws://127.0.0.1:{port}/", server, publish, args)
    finally:
        ws_server.close()
        server.run(ws_server.wait_closed())
        server.stop()


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench hub", description=__doc__)
    parser.add_argument("--clients", type=int, default=1000, help="websocket subscribers")
    parser.add_argument("--rate", type=float, default=100, help="messages published per second")
    parser.add_argument("--seconds", type=float, default=5, help="measured publishing time")
    parser.add_argument("--warmup", type=float, default=1, help="published before measuring")
    parser.add_argument("--drain", type=float, default=10, help="longest wait for the last deliveries")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument(
        "--frames", choices=("batch", "single"), default="batch",
        help="ours: batch (what has queued for a client goes in one frame, /ws?batch=1) or one message a frame",
    )  # fmt: skip
    parser.add_argument("--ws", default="auto", help="uvicorn's websocket implementation for ours (serve uses auto)")
    parser.add_argument("--queue-size", type=int, default=256, help="the hub's per-client queue (hub.queue_size)")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.clients * 2 + 256  # both ends of every connection live on this machine
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))

    load = LoadClients(args.processes)
    try:
        ours = run_ours(load, args, args.port or _free_port())
        baseline = run_baseline(load, args, args.port or _free_port())
    finally:
        load.close()
    figures: dict[str, Any] = {
        "clients": args.clients,
        "rate": args.rate,
        "seconds": args.seconds,
        "frames": args.frames,
        "offered_msgs_per_s": round(args.clients * args.rate),
        **{f"ours_{k}": v for k, v in ours.items()},
        **{f"baseline_{k}": v for k, v in baseline.items()},
        "ratio": round(ours["msgs_per_s"] / max(baseline["msgs_per_s"], 1), 2),
    }
    return report(figures, args.json)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    run()
