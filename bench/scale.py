"""Benchmark: scaling out. Detection throughput with 1, 2 and 3 `command-center worker`
processes, and case creation on PostgreSQL against SQLite.

(a) Workers: N real `command-center worker` processes share simulated cameras
(`sim://street`, rendered in the workers, as a camera feed would be decoded there) by
leases in Redis, each running the project's ONNX model behind the motion gate, ONNX
Runtime on `--threads` threads per worker. Counted: frames the vision stage took
(`frames_out` in the `camera.status` events the workers publish on the bus every 5 s),
summed over cameras, per second of a fixed window after a warm-up. Cameras offer more
frames than one worker takes, so the figure is what the workers can process.

(b) Stores: the same intake loop as `bench cases` (`Dispatcher.intake` on the sample
city, group commit of `--batch`), on SQLite (WAL, synchronous=FULL) in a temporary
folder and on PostgreSQL in a database made for the run and dropped after.

`ratio` = 3-worker ÷ 1-worker frames/s (the largest ÷ the smallest worker count run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import redis

from bench.cases import _intakes
from bench.report import report
from command_center.bus.redis_codec import decode
from command_center.config import CONFIG_DIR
from command_center.store import create_store
from dispatch.catalog import load_catalog
from dispatch.city import load_or_generate
from dispatch.dispatcher import Dispatcher
from dispatch.intake import Intake

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "grid-yolo.onnx"


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench scale", description=__doc__)
    parser.add_argument("--workers", default="1,2,3", help="worker counts to run, comma-separated ('' skips)")
    parser.add_argument("--cameras", type=int, default=6)
    parser.add_argument("--fps", type=float, default=15.0, help="frames/s each camera offers")
    parser.add_argument("--size", default="640x360", help="camera frame size")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime threads per worker")
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--warmup", type=float, default=12.0, help="seconds before counting (leases, model load)")
    parser.add_argument("--seconds", type=float, default=20.0, help="counting window per worker count")
    parser.add_argument("--cases", type=int, default=2000, help="intakes per store (0 skips the store part)")
    parser.add_argument("--batch", type=int, default=64, help="most cases per group commit")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres", help="an admin URL")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    figures: dict[str, Any] = {"cameras": args.cameras, "camera_fps": args.fps, "threads_per_worker": args.threads}
    counts = [int(n) for n in args.workers.split(",") if n.strip()]
    for n in counts:
        _status(f"{n} worker(s) on {args.cameras} cameras: {args.warmup:g} s warm-up, {args.seconds:g} s counted")
        fps, cores = _workers_fps(n, args)
        figures[f"workers_{n}_fps"] = round(fps, 1)
        figures[f"workers_{n}_fps_per_worker"] = round(fps / n, 1)
        if cores is not None:  # what the workers used of the machine: the ceiling is os.cpu_count()
            figures[f"workers_{n}_cores_used"] = round(cores, 2)
            figures[f"workers_{n}_fps_per_core"] = round(fps / cores, 1) if cores else 0.0
    if args.cases > 0:
        figures.update(_stores(args))
    if counts:
        base, top = figures[f"workers_{min(counts)}_fps"], figures[f"workers_{max(counts)}_fps"]
        figures["ratio"] = round(top / base, 2) if base else 0.0
    else:
        figures["ratio"] = figures.get("pg_over_sqlite", 0.0)
    return report(figures, args.json)


# ---------------------------------------------------------------- (a) detection workers


def _worker_config(folder: Path, prefix: str, args: argparse.Namespace) -> Path:
    width, height = (int(v) for v in args.size.lower().split("x"))
    cameras = [
        {
            "id": f"cam-{i:02d}",
            "kind": "sim",
            "url": f"sim://street?seed={i}&width={width}&height={height}",
            "fps": args.fps,
            "location": {"lon": 113.3, "lat": 23.1},
        }
        for i in range(args.cameras)
    ]
    config = {
        "server": {"data_dir": str(folder / "var")},
        "store": f"sqlite:///{folder / 'var' / 'cc.db'}",
        "bus": f"{args.redis}?prefix={prefix}",
        "city": {"generator": {"seed": 7, "districts": 1}},
        "detector": {"backend": "onnx", "model": str(args.model.resolve()), "threads": args.threads},
        "sharding": {"enabled": True, "lease_ttl_s": 5, "heartbeat_s": 1, "scan_s": 1},
        "cameras": cameras,
    }
    path = folder / "workers.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def _workers_fps(n: int, args: argparse.Namespace) -> tuple[float, float | None]:
    """Frames/s the vision stages of `n` workers took, and the CPU cores they used meanwhile."""
    prefix = f"bench-scale-{secrets.token_hex(4)}"
    client = redis.Redis.from_url(args.redis, decode_responses=True)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        folder = Path(tmp)
        config = _worker_config(folder, prefix, args)
        try:
            for i in range(n):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "command_center", "worker", "--config", str(config), "--id", f"w{i}"],
                        cwd=ROOT,
                        stdout=subprocess.DEVNULL,
                        stderr=(folder / f"w{i}.log").open("wb"),
                    )
                )
            began = time.time()
            time.sleep(args.warmup)
            cpu_before = _cpu_s(procs)
            time.sleep(args.seconds)
            cpu_after = _cpu_s(procs)
            for i, proc in enumerate(procs):
                if proc.poll() is not None:
                    raise RuntimeError(f"worker w{i} exited: {(folder / f'w{i}.log').read_text()[-2000:]}")
            statuses = _statuses(client, f"{prefix}:stream:cameras", began + args.warmup)
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
            client.close()
    cores = None if cpu_before is None or cpu_after is None else (cpu_after - cpu_before) / args.seconds
    return _rate(statuses), cores


def _cpu_s(procs: list[subprocess.Popen[bytes]]) -> float | None:
    """CPU seconds (user + system) the processes used so far; None off Linux."""
    total = 0.0
    try:
        for proc in procs:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, ValueError, IndexError):
        return None
    return total


def _statuses(client: redis.Redis, stream: str, since: float) -> dict[str, list[tuple[float, int]]]:
    """Each camera's (time, frames taken by vision) from its status events after `since`."""
    out: dict[str, list[tuple[float, int]]] = {}
    # redis-py types replies for every protocol and encoding; this client decodes responses
    # (see _workers_fps), and XRANGE answers [(entry id, fields), ...].
    entries = cast("list[tuple[str, dict[str, str]]]", client.xrange(stream, min=f"{int(since * 1000)}-0"))
    for entry_id, fields in entries:
        event = decode(fields)
        if event.type != "camera.status" or event.data.get("frames_out") is None:
            continue
        at = int(entry_id.split("-", 1)[0]) / 1000
        out.setdefault(event.data["id"], []).append((at, int(event.data["frames_out"])))
    return out


def _rate(statuses: dict[str, list[tuple[float, int]]]) -> float:
    """Frames/s summed over cameras. A camera whose lease moved restarts from 0 on a fresh
    runner: a count that went down is taken as counted from zero."""
    total = 0.0
    for points in statuses.values():
        if len(points) < 2:
            continue
        frames = sum(b - a if b >= a else b for (_, a), (_, b) in zip(points, points[1:], strict=False))
        span = points[-1][0] - points[0][0]
        if span > 0:
            total += frames / span
    return total


# ---------------------------------------------------------------- (b) stores


def _stores(args: argparse.Namespace) -> dict[str, Any]:
    city = load_or_generate(7, 11, cache_dir=ROOT / ".cache")
    catalog = load_catalog(CONFIG_DIR / "matters.yaml")
    intakes = _intakes(city, catalog, args.cases, 7)
    out: dict[str, Any] = {"store_cases": args.cases}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        _status(f"SQLite: {args.cases} intakes, group commit of up to {args.batch}")
        sqlite_cps = _intake_rate(f"sqlite:///{Path(tmp) / 'cc.db'}", city, catalog, intakes, args.batch)
    out["sqlite_cases_per_s"] = round(sqlite_cps)
    _status(f"PostgreSQL: {args.cases} intakes, group commit of up to {args.batch}")
    try:
        with _postgres_db(args.postgres) as url:
            pg_cps = _intake_rate(url, city, catalog, intakes, args.batch)
    except ConnectionError as exc:
        _status(f"PostgreSQL skipped: {exc}")
        return out
    out["postgres_cases_per_s"] = round(pg_cps)
    out["pg_over_sqlite"] = round(pg_cps / sqlite_cps, 2)
    return out


def _intake_rate(url: str, city: Any, catalog: Any, intakes: list[Intake], batch: int) -> float:
    """`bench cases`' group-commit loop, on whichever store the URL names."""
    from dispatch.city import GridIndex

    store = create_store(url)
    try:
        dispatcher = Dispatcher(city, GridIndex(city), catalog, store)
        started = time.perf_counter()
        for start in range(0, len(intakes), batch):
            with getattr(store, "batch", contextlib.nullcontext)():
                dispatcher.prefetch_duplicates(intakes[start : start + batch])  # as the casework does
                for item in intakes[start : start + batch]:
                    dispatcher.intake(item)
        return len(intakes) / (time.perf_counter() - started)
    finally:
        store.close()


@contextlib.contextmanager
def _postgres_db(admin: str) -> Iterator[str]:
    """A database of its own for the run, dropped after; ConnectionError when unreachable."""
    import psycopg

    name = f"cc_bench_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"CREATE DATABASE {name}")
    except psycopg.OperationalError as exc:
        raise ConnectionError(f"PostgreSQL unreachable at {admin}: {exc}") from None
    try:
        yield admin.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    run()
