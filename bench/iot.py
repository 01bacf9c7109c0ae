"""Benchmark: devices' readings through a broker (`command-center bench iot`).

A private Mosquitto (a temporary config on a free loopback port) and a fresh store (SQLite in
a temporary folder, or a fresh PostgreSQL database with `--store postgresql://…`) holding
`--devices` smoke detectors spread over the sample city's grids. The broker's config raises
`max_queued_messages` (Mosquitto's default, 1000, would drop readings of a subscriber that
falls behind: docs/IOT_MQTT.md) and `max_inflight_messages` (20 by default), so that a
backlog shows as a backlog and not as losses.

A publisher process (paho, QoS 1) sends `--rate` messages/s in total for `--seconds`,
round-robin over the devices, a reading of `smoke` each; a share of them (`--alarm-share`) are
alarms, each on a device of its own, whose `ts` is the moment of publishing.

Two sides, one after the other in the same run, each under the same publisher:
- baseline: a bare subscriber (aiomqtt, the same persistent session, QoS 1 and manual PUBACK
  as the intake) that only decodes the JSON;
- ours: the real intake (mqtt/intake.py) and the IoT loop (iot_loop.py): registry lookups,
  the rule engine, the readings and devices written to the store, incidents stored and
  published on the bus.

Per side: the sustained rate (messages handled between the first publish and the publisher's
end ÷ that window), the backlog at the end (sent − handled), the time to drain it, and the
latency of alarms (the payload's ts → the incident stored and published, for the baseline the
message decoded), p50/p95/p99. `ratio` = ours ÷ baseline rate. `--profile N` profiles our side
(the main thread: the store's writes run in threads and show as waits) and prints its N
costliest functions to stderr.

Where the time went (docs/BENCHMARKS.md, iot): each message is two SQLite transactions
(`add_readings`, `touch`), each with its fsync (WAL, synchronous=FULL), ≈ 3.3 ms a message on
the 2-core VM: a ceiling near 300 messages/s; inside one `store.batch()` the same writes cost
0.023 ms a message. A group commit in the intake (a batch, one transaction, then the PUBACKs)
is what would lift it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import multiprocessing
import pstats
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.report import report

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "cc/devices/{}/readings"


def run(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    if args.devices < 2 or args.rate <= 0 or args.seconds <= 0:
        raise SystemExit("bench iot: --devices ≥ 2, --rate and --seconds > 0")
    figures: dict[str, Any] = {"devices": args.devices, "rate": args.rate, "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="cc-bench-iot-") as tmp, _store_url(args.store, Path(tmp)) as url:
        broker = _Broker(Path(tmp), args.messages_queued)
        try:
            broker.start()
            figures["store"] = url.split(":", 1)[0]
            figures["register_s"] = _register(url, args)
            for side in ("baseline", "ours"):
                figures.update(asyncio.run(_side(side, url, broker.port, args)))
                peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                figures[f"{side}_peak_rss_mb"] = round(peak_kb / 1024)
        finally:
            broker.stop()
    figures["ratio"] = figures["ours_rate"] / figures["baseline_rate"] if figures["baseline_rate"] else 0.0
    return report(figures, args.json)


def _parser() -> argparse.ArgumentParser:
    # fmt: off
    parser = argparse.ArgumentParser(prog="command-center bench iot", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=1000.0, help="messages/s in total")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the publisher sends, per side")
    parser.add_argument("--alarm-share", type=float, default=0.002, help="share of alarm messages (0.002: 0.2 %%)")
    parser.add_argument("--drain-s", type=float, default=60.0, help="after the publisher: how long to wait for a backlog")
    parser.add_argument("--messages-queued", type=int, default=1_000_000,
                        help="the broker's max_queued_messages per session (Mosquitto's default is 1000)")
    parser.add_argument("--store", default="sqlite", help="sqlite (a temporary file) or a PostgreSQL admin URL")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--districts", type=int, default=11, help="districts of the sample city")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "cache", help="where the city is cached")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile our side, print N functions")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    # fmt: on
    return parser


@contextlib.contextmanager
def _store_url(store: str, folder: Path) -> Iterator[str]:
    if store == "sqlite":
        yield f"sqlite:///{folder / 'cc.db'}"
        return
    from bench.scale import _postgres_db

    try:  # a database of its own, dropped after
        with _postgres_db(store) as url:
            yield url
    except ConnectionError as exc:
        raise SystemExit(f"bench iot: {exc}") from None


class _Broker:
    """Mosquitto on a free loopback port, in memory (no persistence: nothing here outlives the run)."""

    def __init__(self, home: Path, queued: int) -> None:
        found = shutil.which("mosquitto", path="/usr/local/sbin:/usr/sbin:/usr/local/bin:/usr/bin")
        if found is None:
            raise SystemExit("bench iot: mosquitto is not installed (apt-get install mosquitto)")
        self.binary = found
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.conf = home / "mosquitto.conf"
        # max_queued_messages: what waits for a subscriber behind (default 1000: more are DROPPED);
        # max_inflight_messages: QoS 1 messages sent to a client and not yet acknowledged (default 20).
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            f"max_queued_messages {queued}\nmax_queued_bytes 0\nmax_inflight_messages 100\n"
            f"log_dest file {home}/mosquitto.log\nuser root\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.conf)], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("bench iot: mosquitto did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def device_ids(count: int) -> list[str]:
    return [f"smoke-{n:06d}" for n in range(count)]


def _register(url: str, args: argparse.Namespace) -> float:
    """The devices, over the sample city's grids, in one transaction (not part of either side)."""
    from command_center.registry.device_model import Device
    from command_center.registry.sample_city import sample_city
    from command_center.store import create_store
    from command_center.store.device_records import device_store

    grids = sample_city(args.seed, args.districts, args.cache_dir).grids
    started = time.perf_counter()
    store = create_store(url)
    try:
        devices = [
            Device.model_validate(
                {
                    "id": i,
                    "name": f"烟感{n}",
                    "kind": "smoke",
                    "lon": g.lon,
                    "lat": g.lat,
                    "grid_code": g.code,
                }
            )
            for n, i in enumerate(device_ids(args.devices))
            for g in (grids[n % len(grids)],)
        ]
        device_store(store).upsert_all(devices, by="bench")
    finally:
        store.close()
    return round(time.perf_counter() - started, 2)


# the publisher (a process of its own: its pacing and paho's thread do not share our GIL)
def _publish(port: int, devices: int, rate: float, seconds: float, alarm_share: float, out: Any) -> None:
    import paho.mqtt.client as paho

    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{uuid.uuid4().hex[:8]}")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    ids = device_ids(devices)
    total = int(rate * seconds)
    alarms = min(int(total * alarm_share), devices // 2)
    every = total // alarms if alarms else total + 1
    # alarm devices: the last `alarms`, one alarm each; the readings go round the others
    plain = ids[: devices - alarms]
    started = time.time()
    sent = alarm_sent = 0
    info = None
    for n in range(total):
        ahead = started + n / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
        if n % every == every - 1 and alarm_sent < alarms:
            device, value = ids[devices - alarms + alarm_sent], 0.5
            alarm_sent += 1
        else:
            device, value = plain[n % len(plain)], 0.02
        payload = json.dumps({"ts": datetime.now(UTC).isoformat(), "readings": {"smoke": value}})
        info = client.publish(TOPIC.format(device), payload, qos=1)
        sent += 1
    ended = time.time()
    if info is not None:
        info.wait_for_publish(timeout=60)  # every PUBACK in (the broker has them all)
    client.loop_stop()
    client.disconnect()
    out.send({"sent": sent, "alarms": alarm_sent, "started": started, "ended": ended})


@dataclass
class _Tally:
    handled: int = 0
    latencies: list[float] = field(default_factory=list)

    def alarm(self, ts: str) -> None:
        self.latencies.append((time.time() - datetime.fromisoformat(ts).timestamp()) * 1000)


async def _side(side: str, url: str, port: int, args: argparse.Namespace) -> dict[str, Any]:
    from command_center.mqtt.config import MqttConfig

    config = MqttConfig(enabled=True, port=port, client_id=f"bench-{side}-{uuid.uuid4().hex[:8]}")
    tally = _Tally()
    extra: dict[str, Any] = {}
    if side == "baseline":
        consumer, subscribed, stop = _bare(config, tally)
    else:
        consumer, subscribed, stop = await _ours(config, url, tally, extra)
    task = asyncio.create_task(consumer())
    await asyncio.wait_for(subscribed.wait(), 10)
    profile = cProfile.Profile() if side == "ours" and args.profile else None
    if profile is not None:
        profile.enable()
    try:
        out = await _drive(side, port, args, tally)
    finally:
        if profile is not None:
            profile.disable()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await stop()
    if profile is not None:
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(args.profile)
    for key, value in extra.items():
        out[f"{side}_{key}"] = value() if callable(value) else value
    return out


async def _drive(side: str, port: int, args: argparse.Namespace, tally: _Tally) -> dict[str, Any]:
    """The publisher's run, a progress bar meanwhile; the figures of the side."""
    ctx = multiprocessing.get_context("spawn")
    mine, theirs = ctx.Pipe(duplex=False)
    publisher = ctx.Process(
        target=_publish, args=(port, args.devices, args.rate, args.seconds, args.alarm_share, theirs)
    )
    publisher.start()
    total = int(args.rate * args.seconds)
    samples: list[tuple[float, int]] = []  # (wall time, handled so far): the count at the window's end
    with tqdm(total=total, desc=side, unit=" msg", file=sys.stderr, mininterval=1) as bar:
        while not mine.poll():
            await asyncio.sleep(0.05)
            samples.append((time.time(), tally.handled))
            bar.update(tally.handled - bar.n)
            if not publisher.is_alive() and not mine.poll():
                raise SystemExit("bench iot: the publisher died")
        done = mine.recv()
        drain_from = time.perf_counter()
        while tally.handled < done["sent"] and time.perf_counter() - drain_from < args.drain_s:
            await asyncio.sleep(0.05)
            bar.update(tally.handled - bar.n)
        bar.update(tally.handled - bar.n)
    publisher.join(10)
    # the window: the first publish to the last; handled within it (the last sample before its end)
    window = done["ended"] - done["started"]
    at_end = max((n for at, n in samples if at <= done["ended"]), default=0)
    lat = sorted(tally.latencies)
    return {
        f"{side}_sent": done["sent"],
        f"{side}_alarms_sent": done["alarms"],
        f"{side}_handled": tally.handled,
        f"{side}_rate": round(at_end / window, 1),
        f"{side}_backlog_at_end": done["sent"] - at_end,
        f"{side}_drain_s": round(time.perf_counter() - drain_from, 2),
        f"{side}_window_s": round(window, 2),
        f"{side}_alarms_seen": len(lat),
        **{f"{side}_latency_p{p}_ms": _pct(lat, p) for p in (50, 95, 99)},
    }


def _pct(values: list[float], p: int) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(len(values) * p / 100))], 1)


Consumer = tuple[Callable[[], Coroutine[Any, Any, None]], asyncio.Event, Callable[[], Awaitable[None]]]


def _bare(config: Any, tally: _Tally) -> Consumer:
    """The baseline: the intake's client settings (persistent session, QoS 1, manual PUBACK), json only."""
    from command_center.mqtt.connect import acknowledge, client_for

    subscribed = asyncio.Event()

    async def consume() -> None:
        async with client_for(config, config.client_id, manual_ack=True) as client:
            await client.subscribe([(t, config.qos) for t in config.topics])
            subscribed.set()
            async for message in client.messages:
                doc = json.loads(message.payload)
                if doc["readings"].get("smoke", 0) >= 0.15:
                    tally.alarm(doc["ts"])
                tally.handled += 1
                acknowledge(client, message)

    return consume, subscribed, lambda: _forget(config)


async def _ours(config: Any, url: str, tally: _Tally, extra: dict[str, Any]) -> Consumer:
    """Ours: the intake and the IoT loop over the store; the bus's `incidents` heard for latency."""
    from command_center.bus import create_bus
    from command_center.config import parse_config
    from command_center.iot_loop import IotLoop
    from command_center.mqtt.intake import Intake
    from command_center.store import create_store
    from dispatch.catalog import load_catalog

    store = create_store(url)
    bus = create_bus("memory://")
    await bus.start()
    heard = bus.subscribe(["incidents"], "bench")
    counters: dict[str, int] = {}
    loop = IotLoop(store, bus, load_catalog(parse_config({}).catalog), counters)
    intake = Intake(config, loop)

    class _Counted:  # the tally follows the intake's own count; a BatchHandler, as the loop is
        async def handle_many(self, messages: Sequence[tuple[str, bytes]]) -> list[Exception | None]:
            try:
                return await loop.handle_many(messages)
            finally:
                tally.handled += len(messages)

    intake.handler = _Counted()

    async def listen() -> None:
        async for event in heard:
            if event.type == "incident.created":
                tally.alarm(event.data["ts"])

    async def consume() -> None:
        await asyncio.gather(intake.run(), listen())

    async def stop() -> None:
        await heard.close()
        await bus.close()
        store.close()
        await _forget(config)

    extra.update(
        received=lambda: intake.counters.received,
        errors=lambda: intake.counters.errors,
        readings=lambda: counters["iot_readings"],
        incidents=lambda: counters["iot_incidents"],
    )
    return consume, intake.subscribed, stop


async def _forget(config: Any) -> None:
    """End the side's persistent session: the broker would queue the next side's messages for it."""
    from command_center.mqtt.connect import client_for

    async with client_for(config, config.client_id, persistent=False):
        pass
