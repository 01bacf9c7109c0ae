"""Benchmark: importing a city (`command-center bench import`).

Ours: `run_import` of the sample city's grid map (GeoJSON, 23,020 areas) and roster (CSV,
22,368 workers) into a fresh store — read, every check (codes, geometry, overlaps,
parents; columns, phones, grid codes, duplicates), the diff against what is stored, the
history rows, one transaction. Baseline, in the same run: a raw bulk insert of the same
rows from the same files into a fresh store of the same schema — the stdlib's json and
csv readers and one executemany per table, no checks, no history, no diff: what a
hand-written loader that trusts its input would do. The ratio is the baseline's time
over ours (our throughput ÷ the baseline's), for the two files together.

Then the full sample city as the demo imports it (map, roster with an account per
worker, 500 cameras) into another fresh store, timed end to end.
"""

from __future__ import annotations

import argparse
import csv
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import report
from command_center.config import Config, parse_config
from command_center.registry.imports import ImportContext, ImportOptions, run_import
from command_center.registry.sample_city import (
    SampleFiles,
    import_sample_city,
    sample_city,
    write_sample_files,
)
from command_center.store import create_store

ROOT = Path(__file__).resolve().parent.parent


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench import", description=__doc__)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--districts", type=int, default=11)
    parser.add_argument("--cameras", type=int, default=500, help="cameras in the full sample city")
    parser.add_argument("--repeat", type=int, default=2, help="timed runs of each side; the best counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cc-bench-import-") as tmp:
        folder = Path(tmp)
        _status("generating the sample city's files")
        city = sample_city(args.seed, args.districts, ROOT / "var" / "cache")
        files = write_sample_files(folder / "files", city, cameras=args.cameras)
        ours_grids, ours_roster = [], []
        base_grids, base_roster = [], []
        for n in range(args.repeat):
            _status(f"run {n + 1}/{args.repeat}: ours")
            grids_s, roster_s = _ours(files, folder / f"ours-{n}")
            ours_grids.append(grids_s)
            ours_roster.append(roster_s)
            _status(f"run {n + 1}/{args.repeat}: raw bulk insert")
            grids_s, roster_s, rows = _baseline(files, folder / f"base-{n}")
            base_grids.append(grids_s)
            base_roster.append(roster_s)
        _status("the full sample city, as the demo imports it")
        full_s = _full(files, folder / "full")

    ours = min(ours_grids) + min(ours_roster)
    base = min(base_grids) + min(base_roster)
    figures: dict[str, Any] = {
        "areas": rows["areas"],
        "workers": rows["workers"],
        "grids_ours_s": round(min(ours_grids), 3),
        "grids_raw_insert_s": round(min(base_grids), 3),
        "roster_ours_s": round(min(ours_roster), 3),
        "roster_raw_insert_s": round(min(base_roster), 3),
        "roster_ours_rows_per_s": round(rows["workers"] / min(ours_roster)),
        "grids_ratio": round(min(base_grids) / min(ours_grids), 3),
        "roster_ratio": round(min(base_roster) / min(ours_roster), 3),
        "sample_city_s": round(full_s, 2),
        "sample_city_cameras": args.cameras,
        "ratio": base / ours,
    }
    return report(figures, args.json)


def _config(folder: Path) -> Config:
    folder.mkdir(parents=True, exist_ok=True)
    return parse_config({"server": {"data_dir": str(folder)}, "store": f"sqlite:///{folder / 'cc.db'}"})


def _ours(files: SampleFiles, folder: Path) -> tuple[float, float]:
    from command_center.city_map import load_city

    config = _config(folder)
    store = create_store(config.store)  # migrated on open: the schema is there before the clock starts
    try:
        city = load_city(config, store)
        started = time.perf_counter()
        _applied(run_import("grids", files.grids, ImportContext(store, city, config), ImportOptions(actor="bench")))
        grids_s = time.perf_counter() - started
        city = load_city(config, store)  # the imported map, as the next import would check against
        started = time.perf_counter()
        _applied(run_import("roster", files.roster, ImportContext(store, city, config), ImportOptions(actor="bench")))
        return grids_s, time.perf_counter() - started
    finally:
        store.close()


def _applied(result: Any) -> None:
    if not result.applied:
        raise SystemExit(f"bench import: the {result.kind} import was refused: {result.problems[:3]}")


def _baseline(files: SampleFiles, folder: Path) -> tuple[float, float, dict[str, int]]:
    config = _config(folder)
    create_store(config.store).close()  # the same schema, made by the same migrations
    db = sqlite3.connect(folder / "cc.db")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")  # the store's own setting: a commit is on disk
    db.execute("CREATE TABLE bench_areas (code TEXT PRIMARY KEY, name TEXT, level TEXT, parent TEXT, geometry TEXT)")
    try:
        started = time.perf_counter()
        doc = json.loads(files.grids.read_text(encoding="utf-8"))
        areas = [
            (p["code"], p["name"], p["level"], p["parent"], json.dumps(f["geometry"]))
            for f in doc["features"]
            for p in (f["properties"],)
        ]
        with db:
            db.executemany("INSERT INTO bench_areas VALUES (?, ?, ?, ?, ?)", areas)
        grids_s = time.perf_counter() - started

        started = time.perf_counter()
        now = datetime.now(UTC).isoformat()
        with files.roster.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))[1:]
        with db:
            db.executemany(
                "INSERT INTO workers (id, code, name, phone, kind, level, active, updated_at, updated_by)"
                " VALUES (?, ?, ?, ?, ?, ?, 1, ?, 'bench')",
                [(r[0], r[1], r[2], r[3], r[5], r[6], now) for r in rows],
            )
            db.executemany(
                "INSERT INTO worker_grids (worker_id, grid_code, shift, valid_from, source) VALUES (?, ?, ?, ?, 'bench')",
                [(r[0], r[4], r[7], now) for r in rows],
            )
        return grids_s, time.perf_counter() - started, {"areas": len(areas), "workers": len(rows)}
    finally:
        db.close()


def _full(files: SampleFiles, folder: Path) -> float:
    config = _config(folder)
    store = create_store(config.store)
    try:
        started = time.perf_counter()
        import_sample_city(files, store, config, password="bench-sample-city")
        return time.perf_counter() - started
    finally:
        store.close()


def _status(message: str) -> None:
    print(f"[bench import] {message}", file=sys.stderr, flush=True)
