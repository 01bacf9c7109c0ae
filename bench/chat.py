"""Benchmark: the residents' chat with their grid workers, delivery against the hub's raw fan-out.

The real app (Runtime + build_app under uvicorn on loopback, SQLite or PostgreSQL) with
`--residents` residents (2,000) and `--workers` workers (200, one grid each, on duty all day),
every one on a websocket of their own: a resident on /api/residents/me/chats/ws hearing
`chat:<id>`, a worker on /ws hearing `tasks:<id>`. Each resident has a conversation with their
grid's worker.

Ours: `--rate` messages a second (200) in total for `--seconds` (30), every other one from a
resident (POST /api/residents/me/chats/{id}/messages) and the rest from the worker answering
(POST /api/chats/{id}/messages), sent from a process of their own: the token checked, the
conversation looked up and scoped, the flood limits counted, the message stored, then
published. Latency: due time of the send → the frame read at the other party's socket.
Since issue 22's fast path (command_center/chat_fast.py) the message is delivered before it
is stored and before the sender's `chat.sent` answer, which comes after the commit: what
is measured is the pending `chat.message` frame (the only one carrying the text); the
`chat.stored` frame that confirms it is not timed. The sending socket gets `chat.sent` alone
(chat_socket.py), the other party `chat.message` and `chat.stored`. Each message has a ref of its own
(`ref` makes a re-send idempotent: a repeated one would be answered and not delivered).

Two baselines, same run, same sockets, same rate and message shape, taking turns with ours:
- **relay** (what `ratio` is measured against): the same frames from the senders' sockets to
  the server, handed as they come to the hub (`Hub.publish` for the other party's channel)
  without the store or any check: the hub's raw fan-out of a message a client sends, hop for
  hop. ratio = relay p99 ÷ ours p99 (1.0: the chat costs nothing over the hub).
- **raw** in the process (`ratio_in_process` = raw p99 ÷ ours p99): `Hub.publish` called on
  the server's loop with no sender at all, so it leaves out the sender's hop to the server
  (`ours_arrive_…`: 3–6 ms of p99 on the 2-core VM), which no chat can skip. It was this
  bench's only baseline before; it is kept so that the figures compare with the old ones.
`…_handed_p50_ms`/`…_handed_p99_ms` time each of the three from when the server took the message
in hand (raw: `Hub.publish` called; ours: `chat.send` called; relay: its op called) to the frame
read at the other party: one socket hop each, so `ratio_handed` (raw ÷ ours) is what the chat's
own work on the server costs over the hub's fan-out, the sender's hop left out of both.
`ours_arrive_…` and `ours_server_…` split ours (warm-up included): from the due time to the
op's arrival in the server, and the server's own part before the frames are queued
(`_Split`); `ours_send_late_…`: how late the client process wrote the frame (part of `arrive`).
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.chat_load import ChatLoad, send_over_http
from bench.hub import LoopThread, _free_port, paced
from bench.report import report

RELAY = "bench.relay"
MARK = re.compile(r"#[rw](\d+)@([0-9.]+)#")  # a measured message's index and due time, in its text


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _runtime(args: argparse.Namespace, data: Path) -> Any:
    from command_center.config import parse_config
    from command_center.runtime import Runtime
    from dispatch.city import generate_city

    config = parse_config({
        "server": {"data_dir": str(data)},
        "store": args.store or f"sqlite:///{data / 'cc.db'}",
        "residents": {"chat": {"office_hours": {"hours": "00:00-24:00"}}},
    })  # fmt: skip
    return Runtime(config, city=generate_city(seed=7, districts=args.districts))


def _people(rt: Any, args: argparse.Namespace) -> list[dict[str, str]]:
    """The residents, their workers and conversations, straight into the store; their tokens."""
    from command_center.auth import Principal
    from command_center.auth.tokens import load_or_create_secret
    from command_center.store.chat_records import chat_store
    from command_center.store.resident_records import resident_store
    from residents.tokens import ResidentSigner

    city = rt.city.city
    grids = [
        (g.code, ws[0].id)
        for g in city.grids
        if len(ws := city.workers_by_grid.get(g.code, [])) == 1 and ws[0].shift == "all"
    ]
    grids = [(g, w) for g, w in grids if len(rt.city.grids_of(w)) == 1][: args.workers]
    if len(grids) < args.workers:
        raise SystemExit(
            f"the city has only {len(grids)} grids with one all-day worker; use more --districts"
        )
    secret = (
        rt.config.auth.secret.encode()
        if rt.config.auth.secret
        else load_or_create_secret(rt.config.server.data_dir)
    )
    signer = ResidentSigner(secret, 86400)
    residents, chats, now = resident_store(rt.store), chat_store(rt.store), datetime.now(UTC)
    rt.store.add_users([{"username": w, "password_hash": "-", "role": "worker", "jurisdiction": "", "worker_id": w,
                         "created_at": now.isoformat()} for _, w in grids])  # fmt: skip
    worker_tokens = {w: rt.auth.signer.issue(Principal(w, "worker", "", w))[0] for _, w in grids}
    people = []
    for k in range(args.residents):
        grid, worker = grids[k % len(grids)]
        resident = residents.sign_in(f"bench-{k:059d}", "v1:-", "138****0000", now)
        conversation, _ = chats.open_conversation(resident.id, grid, worker, now)
        people.append({"resident": resident.id, "resident_token": signer.issue(resident.id, resident.token_version)[0],
                       "worker": worker, "worker_token": worker_tokens[worker], "conversation": conversation["id"]})  # fmt: skip
    return people


def _specs(port: int, people: list[dict[str, str]]) -> list[tuple[str, str, str, str]]:
    specs = [(f"ws://127.0.0.1:{port}/api/residents/me/chats/ws?batch=1",
              json.dumps({"op": "subscribe", "channels": [f"chat:{p['resident']}"]}),
              f"Authorization: Bearer {p['resident_token']}\r\n", "w") for p in people]  # fmt: skip
    seen: dict[str, str] = {}
    for p in people:
        seen.setdefault(p["worker"], p["worker_token"])
    specs += [(f"ws://127.0.0.1:{port}/ws?batch=1", json.dumps({"op": "subscribe", "channels": [f"tasks:{w}"]}),
               f"Authorization: Bearer {token}\r\n", "r") for w, token in seen.items()]  # fmt: skip
    return specs


def _figures(tallies: list[dict[str, Any]], expected: int) -> dict[str, Any]:
    """The rounds' deliveries together: counts, and latency percentiles over all of them."""
    lat = np.concatenate([np.frombuffer(t["latencies"], dtype=np.float64) for t in tallies]) * 1000
    delivered = sum(int(t["delivered"]) for t in tallies)
    return {
        "delivered": delivered, "expected": expected, "lost": expected - delivered,
        "dropped_clients": max(t["dropped"] for t in tallies),
        "p50_ms": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 2) if lat.size else None,
        "max_ms": round(float(lat.max()), 2) if lat.size else None,
        # each round's p99 alone: one round far off the others is the machine, not the path
        "rounds_p99_ms": [round(float(np.percentile(np.frombuffer(t["latencies"], dtype=np.float64), 99)) * 1000, 2)
                          if len(t["latencies"]) else None for t in tallies],
    }  # fmt: skip


def _raw(
    rt: Any,
    server: LoopThread,
    load: ChatLoad,
    people: list[dict[str, str]],
    args: argparse.Namespace,
    base: int,
    handed: dict[int, float],
) -> dict[str, Any]:
    """The hub alone: each message published to the other party's channel, nothing else."""
    warm, measured = int(args.warmup * args.rate), int(args.seconds * args.rate)

    def publish(i: int, t: float) -> None:
        p = people[(i // 2) % len(people)]
        sender, channel = ("r", f"tasks:{p['worker']}") if i % 2 == 0 else ("w", f"chat:{p['resident']}")
        data = {"seq": i, "conversation_id": p["conversation"], "from": "resident" if sender == "r" else "worker",
                "sender": "居民", "kind": "text", "text": f"#{sender}{base + i}@{t:.6f}#", "location": None,
                "photo_url": None, "created_at": datetime.now(UTC).isoformat(), "read_at": None}  # fmt: skip
        handed[base + i] = time.time()
        rt.hub.publish(channel, "chat.message", data)

    load.measure(base + warm, base + warm + measured)
    _status(f"raw: publishing {warm} + {measured} messages at {args.rate}/s")
    server.run(paced(warm + measured, args.rate, publish, warm), timeout=args.warmup + args.seconds + 60)
    return load.finish(time.time() + args.drain)


def _relayed(p: dict[str, str], mark: str, text: str) -> str:
    """The relay baseline's frame: the message for the other party's channel, handed to Hub.publish by
    the server as it comes (`_relay_op`): raw's work with ours' hop from the sender's socket."""
    channel = f"tasks:{p['worker']}" if mark == "r" else f"chat:{p['resident']}"
    data = {"seq": None, "conversation_id": p["conversation"], "from": "resident" if mark == "r" else "worker",
            "sender": "居民", "kind": "text", "text": text, "location": None, "photo_url": None,
            "created_at": datetime.now(UTC).isoformat(), "read_at": None}  # fmt: skip
    return json.dumps({"op": RELAY, "channel": channel, "data": data}, ensure_ascii=False)


def _relay_op(hub: Any) -> None:
    async def relay(_client: Any, msg: dict[str, Any]) -> None:
        hub.publish(str(msg["channel"]), "chat.message", msg["data"])

    hub.ops[RELAY] = relay  # this bench's server only


def _ours(
    port: int,
    load: ChatLoad,
    people: list[dict[str, str]],
    args: argparse.Namespace,
    base: int,
    relay: bool = False,
) -> dict[str, Any]:
    """The chat: every other message from a resident, the rest from the worker answering; over
    the websockets (`chat.send`) or, with --via http, POSTed from a process of its own. With
    `relay`, the same frames' hop to the server, then Hub.publish alone (`_relayed`)."""
    warm, measured = int(args.warmup * args.rate), int(args.seconds * args.rate)
    total, n = warm + measured, len(people)
    workers = {
        w: n + k for k, w in enumerate(dict.fromkeys(p["worker"] for p in people))
    }  # their specs' places
    start_at = time.time() + 2.0  # the senders are ready by then
    plans: list[list[tuple[int, float, str]]] = [[] for _ in range(args.processes)]
    posts = []
    for i in range(total):
        p, due = people[(i // 2) % n], start_at + i / args.rate
        mark, spec = ("r", (i // 2) % n) if i % 2 == 0 else ("w", workers[p["worker"]])
        text = f"#{mark}{base + i}@{due:.6f}#"
        frame = json.dumps({"op": "chat.send", "ref": base + i, "conversation": p["conversation"], "text": text})
        frame = _relayed(p, mark, text) if relay else frame
        plans[spec % args.processes].append((spec // args.processes, due, frame))
        if mark == "r":
            posts.append(
                (
                    f"/api/residents/me/chats/{p['conversation']}/messages",
                    f"Bearer {p['resident_token']}",
                    text,
                )
            )
        else:
            posts.append((f"/api/chats/{p['conversation']}/messages", f"Bearer {p['worker_token']}", text))
    load.measure(base + warm, base + total)
    _status(f"{'relay' if relay else 'ours'}: sending {warm} + {measured} messages at {args.rate}/s over {args.via}")
    limit = args.warmup + args.seconds + 120
    if relay:
        load.send(plans, limit)
    elif args.via == "http":
        send_over_http(f"http://127.0.0.1:{port}", posts, args.rate, start_at, limit)
    else:
        load.late.extend(load.send(plans, limit))
    return load.finish(time.time() + args.drain)


class _Split:
    """Where ours' latency goes, timed in the server around `chat.send`: `arrive` = due time →
    the op reached the server (the sender's process, the socket, the server's read: what raw
    does not pay); `server` = the op's checks and publishing (its commit goes on after).
    `handed`: each message's index → when the server took it in hand (raw: `Hub.publish`
    called; ours and relay: their op called), from which `_handed` times its delivery."""

    def __init__(self) -> None:
        self.arrive: list[float] = []
        self.server: list[float] = []
        self.handed: dict[int, float] = {}

    def figures(self, late: list[float]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, xs in (("send_late", late), ("arrive", self.arrive), ("server", self.server)):
            a = np.array(xs) * 1000
            out[f"ours_{name}_p50_p99_ms"] = [round(float(np.percentile(a, q)), 2) for q in (50, 99)] if a.size else None
        return out


def _split(hub: Any) -> _Split:
    split, op, relay = _Split(), hub.ops["chat.send"], hub.ops[RELAY]

    async def timed(client: Any, msg: dict[str, Any]) -> None:
        t0 = time.time()
        await op(client, msg)
        if (found := MARK.search(str(msg.get("text")))) is not None:
            split.handed[int(found.group(1))] = t0
            split.arrive.append(t0 - float(found.group(2)))
            split.server.append(time.time() - t0)

    async def relayed(client: Any, msg: dict[str, Any]) -> None:
        if (found := MARK.search(str(msg["data"]["text"]))) is not None:
            split.handed[int(found.group(1))] = time.time()
        await relay(client, msg)

    hub.ops["chat.send"], hub.ops[RELAY] = timed, relayed
    return split


def _handed(tallies: list[dict[str, Any]], handed: dict[int, float]) -> dict[str, Any]:
    """Delivery from the server's hands: each message's read at the other party less the time
    the server took it in hand; the same measure for raw, ours and relay."""
    indices = np.concatenate([np.frombuffer(t["indices"], dtype=np.int64) for t in tallies])
    read_at = np.concatenate([np.frombuffer(t["read_at"], dtype=np.float64) for t in tallies])
    started = np.array([handed.get(int(i), np.nan) for i in indices], dtype=np.float64)
    lat = (read_at - started)[~np.isnan(started)] * 1000
    if not lat.size:
        return {"handed_p50_ms": None, "handed_p99_ms": None}
    return {"handed_p50_ms": round(float(np.percentile(lat, 50)), 2),
            "handed_p99_ms": round(float(np.percentile(lat, 99)), 2)}  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="command-center bench chat", description=__doc__)
    parser.add_argument(
        "--residents", type=int, default=2000, help="residents connected, one conversation each"
    )
    parser.add_argument("--workers", type=int, default=200, help="grid workers connected, one grid each")
    parser.add_argument("--rate", type=float, default=200, help="messages per second, both ways together")
    parser.add_argument(
        "--seconds", type=float, default=30, help="measured time of each (ours and raw), in all rounds"
    )
    parser.add_argument("--rounds", type=int, default=3, help="raw and ours take turns this many times")
    parser.add_argument("--warmup", type=float, default=2, help="sent before measuring")
    parser.add_argument("--drain", type=float, default=3, help="wait for the last deliveries")
    parser.add_argument(
        "--store", default="", help="store URL (default: SQLite in a temporary folder); postgresql://…"
    )
    parser.add_argument("--districts", type=int, default=1, help="the generated city's districts")
    parser.add_argument("--processes", type=int, default=2, help="client processes")
    parser.add_argument("--via", choices=("socket", "http"), default="socket",
                        help="ours: send on the websockets (chat.send) or POST each message")  # fmt: skip
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def run(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = (args.residents + args.workers) * 2 + 512
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(need, hard), hard))
    import uvicorn

    from command_center.app import build_app
    from command_center.cli import settle_heap

    data = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    rt = _runtime(args, data)
    people = _people(rt, args)
    port = args.port or _free_port()
    server = LoopThread()
    app = build_app(rt)
    _relay_op(rt.hub)
    split = _split(rt.hub)
    settle_heap()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    import asyncio

    serving = asyncio.run_coroutine_threadsafe(uv.serve(), server.loop)
    while not uv.started:
        if serving.done():
            serving.result()
        time.sleep(0.05)
    load = ChatLoad(args.processes)
    try:
        _status(f"connecting {args.residents} residents and {args.workers} workers")
        connected = load.connect(_specs(port, people))
        time.sleep(1.0)  # the subscriptions land
        # Rounds, raw and ours in turn: a machine whose load changes (other jobs) weighs on both alike.
        each = argparse.Namespace(**{**vars(args), "seconds": args.seconds / args.rounds})
        raws, ourses, relays = [], [], []
        for r in range(args.rounds):
            raws.append(_raw(rt, server, load, people, each, (2 * r + 1) * 10_000_000, split.handed))
            ourses.append(_ours(port, load, people, each, base=(2 * r + 2) * 10_000_000))
            relays.append(_ours(port, load, people, each, base=(2 * r + 102) * 10_000_000, relay=True))
        measured = args.rounds * int(each.seconds * args.rate)
        raw = _figures(raws, measured) | _handed(raws, split.handed)
        ours = _figures(ourses, measured) | _handed(ourses, split.handed) | {"via": args.via}
        relay = _figures(relays, measured) | _handed(relays, split.handed)
        view = rt.hub.view()
        hub = {k: view[k] for k in ("sent", "frames", "disconnected_slow", "lagging", "max_queue_depth")}
    finally:
        load.close()
        uv.should_exit = True
        serving.result(60)
        server.stop()
    figures: dict[str, Any] = {
        "residents": args.residents, "workers": args.workers, "connected": connected, "rate": args.rate,
        "seconds": args.seconds, "rounds": args.rounds, "store": rt.config.store.split(":", 1)[0],
        **{f"ours_{k}": v for k, v in ours.items()}, **{f"raw_{k}": v for k, v in raw.items()},
        **{f"relay_{k}": v for k, v in relay.items()}, "hub": hub, **split.figures(late=list(load.late)),
        "ratio_in_process": round((raw["p99_ms"] or 0) / max(ours["p99_ms"] or 1e9, 1e-9), 2),
        # None over HTTP: a POST is not timed by the server's op (`_split`)
        "ratio_handed": round(raw["handed_p99_ms"] / max(ours["handed_p99_ms"], 1e-9), 2)
        if raw["handed_p99_ms"] and ours["handed_p99_ms"] else None,
        "ratio": round((relay["p99_ms"] or 0) / max(ours["p99_ms"] or 1e9, 1e-9), 2),
    }  # fmt: skip
    return report(figures, args.json)


if __name__ == "__main__":
    run()
