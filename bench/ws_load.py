"""Websocket load for `bench hub`: many receiving clients in worker processes.

A client is a bare asyncio protocol (handshake, masked text frames out, unmasked
frames in, no compression), so that a thousand of them fit in two processes and the
clients cost the machine as little as possible: both servers measured feed the same
clients. A frame may hold one message or a batch of them (the hub's `?batch=1`). Each message's publish time and index are read from its payload without
parsing the whole JSON (`"i": N, "t": T` lead the data object).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import multiprocessing as mp
import os
import time
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any, TypeVar
from urllib.parse import urlsplit


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where installed (as uvicorn picks it for `serve`), else asyncio's own; the
    servers compared and the clients all use the same kind."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _frame(text: str) -> bytes:
    """A masked client text frame."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


C = TypeVar("C", bound="Client")


@dataclass
class Tally:
    """What one worker process saw of the measured messages [first, last)."""

    first: int = -1
    last: int = -1
    delivered: int = 0
    latencies: array = field(default_factory=lambda: array("d"))
    last_rx: float = 0.0
    done: int = 0  # clients that got the last measured message


class Client(asyncio.Protocol):
    def __init__(
        self, host: str, path: str, subscribe: str, tally: Tally, opened: asyncio.Future[None], headers: str = ""
    ) -> None:
        self.host, self.path, self.subscribe = host, path, subscribe
        self.headers = headers  # extra handshake lines, each ending in CRLF (the Authorization header)
        self.tally = tally
        self.opened = opened
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.closed = False
        self.got_last = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(  # type: ignore[union-attr]
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{self.headers}\r\n".encode()
        )

    def connection_lost(self, _exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self.buf[: self.buf.find(b"\r\n")])
            del self.buf[: end + 4]
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode(errors="replace")))
                self.transport.close()  # type: ignore[union-attr]
                return
            self.upgraded = True
            self.transport.write(_frame(self.subscribe))  # type: ignore[union-attr]
            self.opened.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buf, pos, size = self.buf, 0, len(self.buf)
        now = time.time()
        while size - pos >= 2:
            opcode, n = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if size - pos < 4:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif n == 127:
                if size - pos < 10:
                    break
                n, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + n:
                break
            start = pos + head
            if opcode == 1:
                self._text(start, start + n, now)
            elif opcode == 8:
                self.transport.close()  # type: ignore[union-attr]
            elif opcode == 9:  # ping: answer with a masked pong carrying the same payload
                payload = bytes(buf[start : start + n])
                mask = os.urandom(4)
                self.transport.write(  # type: ignore[union-attr]
                    bytes([0x8A, 0x80 | n]) + mask + bytes(b ^ mask[j % 4] for j, b in enumerate(payload))
                )
            pos = start + n
        del buf[:pos]

    def _text(self, start: int, end: int, now: float) -> None:
        """A text frame in buf[start:end]: one hub message or a batch of them (a JSON array)."""
        buf, tally = self.buf, self.tally
        at = buf.find(b'"i": ', start, end)
        while at >= 0:
            comma = buf.find(b",", at)
            i = int(buf[at + 5 : comma])
            if tally.first <= i < tally.last:
                t_at = buf.find(b'"t": ', comma)
                t = float(buf[t_at + 5 : buf.find(b",", t_at)])
                tally.delivered += 1
                tally.latencies.append(now - t)
                tally.last_rx = now
                if i == tally.last - 1 and not self.got_last:
                    self.got_last = True
                    tally.done += 1
            at = buf.find(b'"i": ', comma, end)


async def _serve_commands(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    clients: list[Client] = []
    tally = Tally()
    while True:
        # Read on a thread: a reader callback on the loop would make the pipe non-blocking
        # (uvloop does), and a large reply would then fail to send.
        cmd, *args = await loop.run_in_executor(None, conn.recv)
        if cmd == "connect":
            url, n, subscribe, headers = args
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            tally = Tally()
            dialled = await dial(loop, url, [Client(parts.netloc, path, subscribe, tally, loop.create_future(), headers)
                                             for _ in range(n)])  # fmt: skip
            clients = [c for c in dialled if c is not None]
            conn.send(("ready", len(clients)))
        elif cmd == "measure":
            tally.first, tally.last = args
            conn.send(("ok",))
        elif cmd == "finish":
            (deadline,) = args
            live = [c for c in clients if c.upgraded and not c.closed]
            while time.time() < deadline and tally.done < len(live):
                await asyncio.sleep(0.02)
                live = [c for c in live if not c.closed]
            dropped = sum(1 for c in clients if c.upgraded and c.closed)
            conn.send(("tally", tally.delivered, tally.latencies.tobytes(), tally.last_rx, dropped, len(clients)))
            for c in clients:
                if c.transport is not None:
                    c.transport.close()
            await asyncio.sleep(0.2)
        elif cmd == "quit":
            return


async def dial(loop: asyncio.AbstractEventLoop, url: str, clients: list[C]) -> list[C | None]:
    """Connects each client to `url`'s host and port and waits for every handshake; a client
    refused or not upgraded is None in the answer, in its place."""
    parts = urlsplit(url)
    for k, client in enumerate(clients):
        try:
            await loop.create_connection(lambda c=client: c, parts.hostname or "127.0.0.1", parts.port or 80)  # type: ignore[misc]
        except OSError:
            client.opened.cancel()
        if k % 50 == 49:
            await asyncio.sleep(0.01)  # let handshakes progress while we dial
    results = await asyncio.gather(*(c.opened for c in clients), return_exceptions=True)
    return [c if r is None else None for c, r in zip(clients, results, strict=True)]


def run_worker(conn: Connection, serve: Callable[[Connection], Awaitable[None]]) -> None:
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(serve(conn))  # type: ignore[arg-type]


class WorkerPool:
    """Processes holding the clients, each running `serve(conn)` on a loop of its own, driven
    over pipes (spawned: no copy of the parent's threads and loops)."""

    def __init__(self, processes: int, serve: Callable[[Connection], Awaitable[None]]) -> None:
        ctx = mp.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(processes):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=run_worker, args=(theirs, serve), daemon=True)
            proc.start()
            self.pipes.append(ours)
            self.procs.append(proc)

    def _all(self, message: tuple[Any, ...], timeout: float) -> list[tuple[Any, ...]]:
        for pipe in self.pipes:
            pipe.send(message)
        return self._replies(message[0], timeout)

    def _replies(self, what: str, timeout: float) -> list[tuple[Any, ...]]:
        out = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise TimeoutError(f"a load process did not answer {what!r} within {timeout} s")
            out.append(pipe.recv())
        return out

    def measure(self, first: int, last: int) -> None:
        self._all(("measure", first, last), 10)

    def _finish(self, until: float) -> dict[str, Any]:
        """The processes' tallies of the measured messages, merged, once `until` has passed
        (each reply: ("tally", delivered, latencies, last rx, dropped, ...))."""
        replies = self._all(("finish", until), max(10.0, until - time.time() + 10))
        latencies = array("d")
        for reply in replies:
            latencies.frombytes(reply[2])
        return {
            "delivered": sum(r[1] for r in replies),
            "latencies": latencies,
            "last_rx": max(r[3] for r in replies),
            "dropped": sum(r[4] for r in replies),
            "replies": replies,  # whatever more a kind of load sent back
        }

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("quit",))
        for proc in self.procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()


class LoadClients(WorkerPool):
    """Hub clients all alike (`bench hub`)."""

    def __init__(self, processes: int) -> None:
        super().__init__(processes, _serve_commands)

    def connect(
        self, url: str, clients: int, subscribe: str, timeout: float = 120, headers: dict[str, str] | None = None
    ) -> int:
        share = [clients // len(self.pipes) + (k < clients % len(self.pipes)) for k in range(len(self.pipes))]
        lines = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        for pipe, n in zip(self.pipes, share, strict=True):
            pipe.send(("connect", url, n, subscribe, lines))
        return sum(reply[1] for reply in self._replies("connect", timeout))

    def finish(self, deadline: float) -> dict[str, Any]:
        return self._finish(deadline)
