"""Load for `bench chat`: residents' and workers' websockets in worker processes, and a
process that sends the chat's messages over HTTP.

Each client has its own address, token and channel (a resident's `chat:<id>` on
/api/residents/me/chats/ws, a worker's `tasks:<id>` on /ws). A measured message's text
carries `#<d><i>@<t>#`: d is who sent it (r: a resident, w: a worker), i its index, t the
wall time it was due. A client counts only what the other party sent (its own echo is not a
delivery), so each measured message is delivered once, at the party it was for.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import re
import time
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import urlsplit

from bench.ws_load import Client, Tally, WorkerPool, _frame, dial, new_loop

MARK = re.compile(rb"#([rw])(\d+)@([0-9.]+)#")


@dataclass
class ChatTally(Tally):
    """A Tally that also keeps which message each delivery was and when it was read, so that
    the bench can time it from when the server took it in hand (`bench.chat`'s `handed`)."""

    indices: array = field(default_factory=lambda: array("q"))
    read_at: array = field(default_factory=lambda: array("d"))


class ChatClient(Client):
    """A bench hub client that reads chat markers, counting those of the other party only."""

    tally: ChatTally

    def __init__(self, *args: Any, counts: bytes) -> None:
        super().__init__(*args)
        self.counts = counts  # b"w" for a resident (what workers sent), b"r" for a worker

    def _text(self, start: int, end: int, now: float) -> None:
        tally = self.tally
        for who, i, t in MARK.findall(bytes(self.buf[start:end])):
            index = int(i)
            if who == self.counts and tally.first <= index < tally.last:
                tally.delivered += 1
                tally.latencies.append(now - float(t))
                tally.indices.append(index)
                tally.read_at.append(now)
                tally.last_rx = now


async def _connect(
    loop: asyncio.AbstractEventLoop, specs: list[tuple[str, str, str, str]], tally: ChatTally
) -> list[ChatClient | None]:
    """specs: (url, subscribe message, Authorization header line, what it counts)."""
    clients = []
    for url, subscribe, headers, counts in specs:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        clients.append(ChatClient(parts.netloc, path, subscribe, tally, loop.create_future(), headers,
                                  counts=counts.encode()))  # fmt: skip
    return await dial(loop, specs[0][0], clients) if specs else []


async def _serve(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    clients: list[ChatClient | None] = []
    tally = ChatTally()
    while True:
        cmd, *args = await loop.run_in_executor(None, conn.recv)
        if cmd == "connect":
            clients = await _connect(loop, args[0], tally)
            conn.send(("ready", sum(c is not None for c in clients)))
        elif cmd == "send":  # [(client, due wall time, text)], each written when it is due
            late = array("d")  # how late each was written: this process's share of the latency
            for k, due, text in args[0]:
                if (delay := due - time.time()) > 0:
                    await asyncio.sleep(delay)
                client = clients[k]
                if client is not None and client.transport is not None and not client.closed:
                    client.transport.write(_frame(text))
                    late.append(time.time() - due)
            conn.send(("sent", late.tobytes()))
        elif cmd == "measure":
            tally.first, tally.last = args
            tally.delivered, tally.latencies, tally.last_rx = 0, array("d"), 0.0
            tally.indices, tally.read_at = array("q"), array("d")
            conn.send(("ok",))
        elif cmd == "finish":
            (expected_by,) = args
            await asyncio.sleep(max(0.0, expected_by - time.time()))
            dropped = sum(1 for c in clients if c is None or c.closed)
            conn.send(("tally", tally.delivered, tally.latencies.tobytes(), tally.last_rx, dropped,
                       tally.indices.tobytes(), tally.read_at.tobytes()))  # fmt: skip
        elif cmd == "quit":
            for c in clients:
                if c is not None and c.transport is not None:
                    c.transport.close()
            return


class ChatLoad(WorkerPool):
    """The residents' and workers' clients, each with its own address and token."""

    def __init__(self, processes: int) -> None:
        super().__init__(processes, _serve)
        self.late = array("d")  # how late the senders wrote ours' frames (`send`), all rounds

    def connect(self, specs: list[tuple[str, str, str, str]], timeout: float = 300) -> int:
        shares = [specs[k :: len(self.pipes)] for k in range(len(self.pipes))]
        for pipe, share in zip(self.pipes, shares, strict=True):
            pipe.send(("connect", share))
        return sum(reply[1] for reply in self._replies("connect", timeout))

    def send(self, plans: list[list[tuple[int, float, str]]], timeout: float) -> array:
        """Each process writes its plan's frames on its own clients, each when it is due; how
        late each was written, in seconds."""
        for pipe, plan in zip(self.pipes, plans, strict=True):
            pipe.send(("send", plan))
        late = array("d")
        for reply in self._replies("send", timeout):
            late.frombytes(reply[1])
        return late

    def finish(self, expected_by: float) -> dict[str, Any]:
        """The merged tally, with each delivery's message index and read time (`indices`, `read_at`)."""
        out = self._finish(expected_by)
        indices, read_at = array("q"), array("d")
        for reply in out.pop("replies"):
            indices.frombytes(reply[5])
            read_at.frombytes(reply[6])
        return out | {"indices": indices, "read_at": read_at}


# ---------------------------------------------------------------- the HTTP sender


async def _send_all(
    base: str, plan: list[tuple[str, str, str]], rate: float, start_at: float
) -> tuple[int, int]:
    """POST plan[i] = (path, Authorization, text) at `rate` per second from wall time `start_at`
    (each text already names its due time); (answered 201, refused or failed)."""
    import httpx

    ok = failed = 0
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:

        async def one(path: str, auth: str, text: str) -> None:
            nonlocal ok, failed
            try:
                answer = await http.post(path, json={"text": text}, headers={"Authorization": auth})
                ok, failed = (ok + 1, failed) if answer.status_code == 201 else (ok, failed + 1)
                if answer.status_code != 201 and failed <= 3:
                    print("refused:", answer.status_code, answer.text[:200], flush=True)
            except httpx.HTTPError as exc:
                failed += 1
                if failed <= 3:
                    print("failed:", repr(exc), flush=True)

        tasks = []
        for i, (path, auth, text) in enumerate(plan):
            delay = start_at + i / rate - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(path, auth, text)))
        await asyncio.gather(*tasks)
    return ok, failed


def _sender(
    conn: Connection, base: str, plan: list[tuple[str, str, str]], rate: float, start_at: float
) -> None:
    with asyncio.Runner(loop_factory=new_loop) as runner:
        conn.send(runner.run(_send_all(base, plan, rate, start_at)))


def send_over_http(
    base: str, plan: list[tuple[str, str, str]], rate: float, start_at: float, timeout: float
) -> tuple[int, int]:
    """The plan sent from a process of its own (not this one's GIL, which the server holds)."""
    ctx = mp.get_context("spawn")
    ours, theirs = ctx.Pipe()
    proc = ctx.Process(target=_sender, args=(theirs, base, plan, rate, start_at), daemon=True)
    proc.start()
    try:
        if not ours.poll(timeout):
            raise TimeoutError("the HTTP sender did not finish")
        result: tuple[int, int] = ours.recv()
        return result
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
