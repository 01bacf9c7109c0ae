"""Benchmark: durable case creation and assignment, and incident → case latency on the bus.

(a) Ours: `Dispatcher.intake` on the full sample city with the real SQLite store
(WAL, synchronous=FULL) in a temporary folder: matter, dedupe check, point → grid,
deadline, worker, then the case row, its timeline and the assignment committed. One
transaction per case, and again with the store's group commit (`SQLiteStore.batch`:
one transaction per batch, each case acknowledged only after its batch is on disk).
Baseline: the very same rows written with bare sqlite3, same schema and pragmas, with
the same commit pattern (one transaction per case, and per batch): the disk's price for
durability, with no work in front of it. `ratio` = ours ÷ baseline, one transaction per
case on both sides (every case durable on its own); the group-commit pair is printed too.

(b) Latency: the runtime's real bus and dispatcher wiring; incidents are stored and
published as `incident.created` at a steady rate, and the time until the matching
`case.created` (or `case.updated`, for one merged into an open duplicate) is seen on
the bus is recorded.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import report
from bench.route import _draw_points
from command_center.config import CONFIG_DIR, parse_config
from command_center.events import Event
from command_center.store.columns import case_columns
from command_center.store.migrate import upgrade_sqlite
from command_center.store.sqlite import SQLiteStore
from dispatch.cases import Case
from dispatch.catalog import Catalog, load_catalog
from dispatch.city import City, GridIndex, load_or_generate
from dispatch.dispatcher import Dispatcher
from dispatch.intake import Intake


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench cases", description=__doc__)
    parser.add_argument("--cases", type=int, default=5000, help="intakes for the throughput runs")
    parser.add_argument("--batch", type=int, default=64, help="most cases per group commit")
    parser.add_argument("--incidents", type=int, default=2000, help="incidents for the bus latency run (0: skip)")
    parser.add_argument("--rate", type=float, default=200.0, help="incidents per second offered on the bus")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--districts", type=int, default=11)
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache"), help="where the generated city is cached")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    _status("loading the sample city")
    city = load_or_generate(args.seed, args.districts, cache_dir=args.cache_dir)
    index = GridIndex(city)
    catalog = load_catalog(CONFIG_DIR / "matters.yaml")
    intakes = _intakes(city, catalog, args.cases, args.seed)
    figures: dict[str, Any] = {"grids": len(city.grids), "workers": len(city.workers), "cases": args.cases}

    with tempfile.TemporaryDirectory(prefix="bench-cases-") as tmp:
        folder = Path(tmp)
        _status(f"ours, one transaction per case: {args.cases} intakes")
        single_s, cases = _ours(city, index, catalog, folder / "single.db", intakes, batch=1)
        _status(f"ours, group commit of up to {args.batch}")
        batched_s, _ = _ours(city, index, catalog, folder / "batched.db", intakes, batch=args.batch)
        _status("baseline: bare sqlite3, same rows, one transaction per case")
        # A duplicate comes back as the case it joined: keep each case's last version.
        final = list({c.id: c for c in cases}.values())
        baseline_s = _baseline(folder / "baseline.db", final, batch=1)
        baseline_batched_s = _baseline(folder / "baseline-batched.db", final, batch=args.batch)
        figures.update(
            {
                "created": len(final),
                "merged_as_duplicates": args.cases - len(final),
                "dispatched": sum(1 for c in final if c.assignee),
                # Confirm-first matters (configs/matters.yaml) wait for the hall, unassigned.
                "waiting_for_confirmation": sum(1 for c in final if c.confirm_by is not None),
                "ours_single_cps": round(args.cases / single_s),
                "ours_batched_cps": round(args.cases / batched_s),
                "baseline_cps": round(len(final) / baseline_s),
                "baseline_batched_cps": round(len(final) / baseline_batched_s),
                "batched_ratio": round(len(final) / batched_s / (len(final) / baseline_batched_s), 2),
            }
        )
        if args.incidents > 0:
            _status(f"bus latency: {args.incidents} incidents at {args.rate:g}/s")
            figures.update(asyncio.run(_bus_latency(city, folder / "runtime", args.incidents, args.rate, args.seed)))
    figures["ratio"] = round(figures["ours_single_cps"] / figures["baseline_cps"], 2)
    return report(figures, args.json)


def _intakes(city: City, catalog: Catalog, n: int, seed: int) -> list[Intake]:
    """Points inside the city outline (so some fall between grids), matters at random."""
    lons, lats = _draw_points(city, n, seed, inside=True)
    rng = np.random.default_rng([seed, 311])
    codes = [m.code for m in catalog.items]
    matters = rng.integers(len(codes), size=n).tolist()
    now = datetime.now(UTC)
    return [
        Intake("video", lon, lat, now, ref_id=f"I{i:07d}", matter_code=codes[m], description="bench")
        for i, (lon, lat, m) in enumerate(zip(lons.tolist(), lats.tolist(), matters, strict=True))
    ]


def _ours(city: City, index: GridIndex, catalog: Catalog, path: Path, intakes: list[Intake], batch: int) -> tuple[float, list[Case]]:
    store = SQLiteStore(path)
    dispatcher = Dispatcher(city, index, catalog, store)
    out: list[Case] = []
    started = time.perf_counter()
    if batch <= 1:
        out = [dispatcher.intake(item).case for item in intakes]
    else:
        for start in range(0, len(intakes), batch):
            with store.batch():
                dispatcher.prefetch_duplicates(intakes[start : start + batch])  # as the casework does
                out.extend(dispatcher.intake(item).case for item in intakes[start : start + batch])
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed, out


def _baseline(path: Path, cases: list[Case], batch: int) -> float:
    """The same rows, prepared up front, written with no work in front of them."""
    rows = []
    for case in cases:
        timeline = [
            (case.id, e["ts"], e["action"], e["actor"], e["from_state"], e["to_state"], e["note"])
            for e in (entry.to_dict() for entry in case.timeline)
        ]
        rows.append(((*case_columns(case), case.id), timeline))
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    upgrade_sqlite(db)
    started = time.perf_counter()
    for i, (case_row, timeline) in enumerate(rows):
        if i % batch == 0:
            db.execute("BEGIN IMMEDIATE")
        db.execute(
            "INSERT INTO cases (state, is_open, matter_code, grid_code, assignee, created_at, deadline,"
            " version, doc, lon, lat, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            case_row,
        )
        db.executemany(
            "INSERT INTO case_timeline (case_id, ts, action, actor, from_state, to_state, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            timeline,
        )
        if i % batch == batch - 1 or i == len(rows) - 1:
            db.execute("COMMIT")
    elapsed = time.perf_counter() - started
    db.close()
    return elapsed


async def _bus_latency(city: City, folder: Path, n: int, rate: float, seed: int) -> dict[str, Any]:
    from command_center.cli import settle_heap
    from command_center.runtime import Runtime  # the full runtime: only this part needs it

    config = parse_config({"server": {"data_dir": str(folder)}, "store": f"sqlite:///{folder / 'cc.db'}"})
    rt = Runtime(config, city=city)
    # As `serve` does: without it, whether a full collection of the heap the throughput
    # runs left (~100 ms, stalling ~20 incidents at 200/s) lands in this window decides p99.
    settle_heap()
    await rt.start()
    lons, lats = _draw_points(city, n, seed + 1, inside=True)
    codes = [m.code for m in rt.catalog.items]
    sent: dict[str, float] = {}
    latencies: list[float] = []
    subscription = rt.bus.subscribe(["cases"], "bench")
    done = asyncio.Event()

    async def observe() -> None:
        async for event in subscription:
            # case.created, or case.updated when the incident joined an open duplicate
            if event.type in ("case.created", "case.updated"):
                for incident_id in event.data.get("incident_ids", ()):
                    if incident_id in sent:
                        latencies.append(time.perf_counter() - sent.pop(incident_id))
            if len(latencies) >= n:
                done.set()
                return

    # Stored up front, as record_incident does before publishing: this run times the
    # bus → dispatcher → store → bus leg, not incident storage (one commit each).
    docs = [_incident(i, float(lons[i]), float(lats[i]), codes[i % len(codes)]) for i in range(n)]
    store = rt.store
    with store.batch():
        for doc in docs:
            store.add_incident(doc)
    watcher = asyncio.create_task(observe())
    started = time.perf_counter()
    try:
        for i, doc in enumerate(docs):
            sent[doc["id"]] = time.perf_counter()
            await rt.bus.publish(Event("incidents", "incident.created", doc))
            # Steady pacing against the clock: a slow step is caught up, not added up.
            await asyncio.sleep(max(0.0, started + (i + 1) / rate - time.perf_counter()))
        await asyncio.wait_for(done.wait(), timeout=max(60.0, 10 * n / rate))
    finally:
        elapsed = time.perf_counter() - started
        watcher.cancel()
        await rt.stop()
    ms = np.array(latencies) * 1000
    return {
        "bus_incidents": n,
        "bus_rate_offered": rate,
        "bus_cases_per_s": round(len(latencies) / elapsed, 1),
        "bus_latency_p50_ms": round(float(np.percentile(ms, 50)), 2),
        "bus_latency_p99_ms": round(float(np.percentile(ms, 99)), 2),
        "bus_latency_max_ms": round(float(ms.max()), 2),
    }


def _incident(i: int, lon: float, lat: float, matter: str) -> dict[str, Any]:
    return {
        "id": f"B{i:07d}",
        "ts": datetime.now(UTC).isoformat(),
        "camera_id": "bench",
        "rule": "bench",
        "zone": "z",
        "label": "bench",
        "score": 0.9,
        "box": [0, 0, 1, 1],
        "location": {"lon": lon, "lat": lat},
        "matter_code": matter,
        "snapshot_url": f"/api/incidents/B{i:07d}/snapshot.jpg",
        "clip_url": None,
        "state": "new",
        "case_id": None,
    }


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    run()
