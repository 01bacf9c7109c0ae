"""Benchmark: a signed-in user's latency while a flood of bad sign-ins arrives.

A real `command-center serve` process (argon2 at its default cost, the default login
throttling, `server.trusted_proxies: [127.0.0.1]` so that the flood can come from many
addresses through X-Forwarded-For). A signed-in officer reads GET /api/cases at a steady
rate; latency counts from when each request was due (no coordinated omission). First
alone (the baseline), then while ~500 bad sign-ins per second arrive, each from another
address and for another account, so that neither throttle bucket stops them and every
one reaches the password check. The last line is `ratio: X`, baseline p99 / flooded p99:
1.0 means the flood costs the reader nothing, 0.5 that its p99 doubled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import report

ACCOUNT, PASSWORD = "reader", "reader-password-1"


def _status(text: str) -> None:
    print(f"[bench login] {text}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Pool:
    """Keep-alive HTTP/1.1 connections to the server, made as needed up to `size`."""

    def __init__(self, port: int, size: int) -> None:
        self.port, self.size = port, size
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def request(self, raw: bytes) -> int | None:
        """The answer's status; None when every connection was busy (not sent)."""
        if self.idle:
            conn = self.idle.pop()
            status = await self._exchange(conn, raw)
            if status:
                return status
            # the server had closed it (idle keep-alive timeout): once more, on a new one
        if self.opened < self.size:
            self.opened += 1
            try:
                conn = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self.opened -= 1
                return 0
        else:
            return None
        return await self._exchange(conn, raw)

    async def _exchange(self, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter], raw: bytes) -> int:
        reader, writer = conn
        try:
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
            await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.opened -= 1
            writer.close()
            return 0
        self.idle.append(conn)
        return status


def get(path: str, token: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n".encode()


def bad_login(n: int) -> bytes:
    body = json.dumps({"username": f"guess{n}", "password": "not-the-password"}).encode()
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    return (
        f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Forwarded-For: {address}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def paced(rate: float, seconds: float, fire: Any) -> None:
    """Call fire(i, due) at `rate` per second for `seconds`; each call runs as its own task."""
    loop = asyncio.get_running_loop()
    start, tasks = loop.time(), set()
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(fire(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=30)


HEALTH = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def flood(port: int, rate: float, seconds: float, connections: int, control: bool, out: Connection) -> None:
    """The attacker, in a process of its own: its work must not delay the reader's client."""

    async def main() -> dict[str, Any]:
        pool, codes = Pool(port, connections), Counter[str]()

        async def attack(i: int, _due: float) -> None:
            status = await pool.request(HEALTH if control else bad_login(i))
            codes["not sent (all connections busy)" if status is None else str(status)] += 1

        began = time.perf_counter()
        await paced(rate, seconds, attack)
        sent = sum(n for k, n in codes.items() if k.isdigit())
        return {"flood_per_s": round(sent / (time.perf_counter() - began), 1), "flood_answers": dict(sorted(codes.items()))}

    out.send(asyncio.run(main()))


async def phase(port: int, token: str, args: argparse.Namespace, with_flood: bool) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    readers = Pool(port, 16)
    latencies: list[float] = []
    reader_codes: Counter[int] = Counter()
    request = get("/api/cases?limit=20", token)
    seconds = args.warmup + args.seconds
    attacker, results = None, None
    if with_flood:
        results, theirs = mp.get_context("spawn").Pipe()
        attacker = mp.get_context("spawn").Process(
            target=flood, args=(port, args.flood_rate, seconds + 1, args.flood_connections, args.control, theirs),
            daemon=True,
        )
        attacker.start()
        await asyncio.sleep(1.0)  # the process starts and its flood is under way
    measure_from = loop.time() + args.warmup

    async def read(_i: int, due: float) -> None:
        status = await readers.request(request)
        reader_codes[status or 0] += 1
        if due >= measure_from:
            latencies.append((loop.time() - due) * 1000)

    await paced(args.rate, seconds, read)
    lat = np.array(latencies)
    figures: dict[str, Any] = {
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "reads": len(lat),
        "read_errors": {str(code): n for code, n in sorted(reader_codes.items()) if code != 200},
    }
    if attacker is not None and results is not None:
        figures |= await asyncio.to_thread(results.recv)
        attacker.join(10)
    return figures


def start_server(data: Path, port: int, auth: dict[str, Any]) -> subprocess.Popen[bytes]:
    from command_center.auth.passwords import Passwords
    from command_center.auth.users import Account, Users
    from command_center.store import create_store

    config: dict[str, Any] = {
        "server": {"data_dir": str(data), "host": "127.0.0.1", "port": port, "trusted_proxies": ["127.0.0.1"]},
        "store": f"sqlite:///{data / 'cc.db'}",
        "city": {"generator": {"seed": 7, "districts": 1}},
        "auth": auth,
    }
    (data / "config.yaml").write_text(json.dumps(config))  # JSON is YAML
    store = create_store(config["store"])
    Users(store, Passwords()).seed([Account(ACCOUNT, PASSWORD, "officer")])  # `serve` then seeds nothing
    store.close()
    log = (data / "serve.log").open("wb")
    return subprocess.Popen([sys.executable, "-m", "command_center", "serve", "--config", str(data / "config.yaml")],
                            stdout=log, stderr=subprocess.STDOUT)  # fmt: skip


async def sign_in(port: int, timeout: float = 60) -> str:
    body = json.dumps({"username": ACCOUNT, "password": PASSWORD}).encode()
    raw = (f"POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body  # fmt: skip
    deadline = time.monotonic() + timeout
    while True:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(raw)
            answer = await reader.read()
            writer.close()
            return str(json.loads(answer.split(b"\r\n\r\n", 1)[1])["token"])
        except (OSError, ValueError, KeyError):
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not come up") from None
            await asyncio.sleep(0.3)


async def measure(port: int, args: argparse.Namespace) -> dict[str, Any]:
    token = await sign_in(port)
    _status(f"baseline: {args.rate:g} reads/s for {args.warmup:g} + {args.seconds:g} s")
    alone = await phase(port, token, args, with_flood=False)
    what = "GET /api/health" if args.control else "bad sign-ins from random addresses"
    _status(f"flood: the same, with {args.flood_rate:g}/s {what}")
    flooded = await phase(port, token, args, with_flood=True)
    return {"alone": alone, "flooded": flooded}


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench login", description=__doc__)
    parser.add_argument("--rate", type=float, default=60, help="the signed-in user's reads per second")
    parser.add_argument("--flood-rate", type=float, default=500, help="bad sign-ins per second")
    parser.add_argument("--flood-connections", type=int, default=256, help="connections the flood may use")
    parser.add_argument("--seconds", type=float, default=15, help="measured time per phase")
    parser.add_argument("--warmup", type=float, default=2, help="unmeasured time at the start of each phase")
    parser.add_argument("--hash-threads", type=int, help="auth.hash_threads (default: the server's)")
    parser.add_argument("--hash-memory-kib", type=int, help="auth.hash_memory_kib (default: 65536, argon2-cffi's)")
    parser.add_argument(
        "--control", action="store_true",
        help="flood with GET /api/health instead: what the request rate alone costs, with no password check",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    data = Path(tempfile.mkdtemp(prefix="bench-login-"))
    port = _free_port()
    _status("starting `command-center serve` (argon2 at its default cost)")
    auth = {k: v for k, v in (("hash_threads", args.hash_threads), ("hash_memory_kib", args.hash_memory_kib)) if v}
    server = start_server(data, port, auth)
    try:
        got = asyncio.run(measure(port, args))
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(15)
        if server.poll() is None:
            server.kill()
    alone, flooded = got["alone"], got["flooded"]
    figures: dict[str, Any] = {
        "reads_per_s": args.rate,
        "flood_offered_per_s": args.flood_rate,
        **{f"baseline_{k}": v for k, v in alone.items() if not k.startswith("flood")},
        **{f"flooded_{k}": v for k, v in flooded.items()},
        "ratio": round(alone["p99_ms"] / max(flooded["p99_ms"], 1e-9), 2),
    }
    return report(figures, args.json)
