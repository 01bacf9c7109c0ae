"""Benchmark: a district's base data in PostgreSQL (`command-center bench basedata`).

The sample district (basedata.sample: about 2 million people, 300,000 buildings with
`--households-per-building` 2.6) spread over `--grids` grids of the sample city's biggest
district is first written to CSV files on disk. That is not timed: it stands for the files a
district hands over. Two files per kind come out of the same generated records:

- `<kind>.csv`, the import format: clear ID numbers and phones, as a district's sheets
  hold them;
- `<kind>.table.csv`, the table's own columns: the values the generator sealed (AES-GCM,
  HMAC index, tail), dates as text, stamps, NULL as \\N.

Ours (timed): `import_files` of the five import files into a fresh, migrated database:
the real importer path: read, every cell checked (codes, ID check digits, phones, dates,
choices), duplicates and references, each ID number and phone sealed, next checks counted,
the existence lookups, then the upsert (COPY into staging tables, INSERT … ON CONFLICT),
all in one transaction.

Baseline (timed, same run): PostgreSQL `COPY … FROM STDIN (FORMAT csv)` of the five table
files, byte for byte, into the same tables (same schema and indexes, made by the same
migrations) of another fresh database, in one transaction: no parsing, no checks, no
sealing. What is fair: both sides start from files on disk and end with the same rows
committed; ours seals (sealing is part of an import's real cost, and a district's files
are never pre-sealed), the baseline copies values sealed beforehand, off the clock. So the
ratio (baseline time ÷ ours) is what the checks and the sealing cost against the fastest
load PostgreSQL offers.

Then per-grid counts (`BaseDataRecords.counts_by_grid`) over the imported district for
one grid, one street and the whole district, `--repeat` times each after one warm-up
call, p50 and p95 in ms. ANALYZE runs first, as autovacuum would soon after a bulk load.

`--profile N` runs our import under cProfile and prints its N costliest functions to
stderr (the import is slower then: read the ratio from a run without it). Where the time
went at 20,000 people (ratio 0.12): about 78 % checking the rows (a person's row most:
ID check digits twice, once as the cell's check and again as sealing normalises it; dates;
the models), 17 % of it sealing, 19 % the upsert (itself about 2.6 times the raw COPY),
4 % each reading the files and the existence lookups. A ratio of 0.5 would need the whole
import within twice a raw COPY: the upsert alone takes more.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import pstats
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

import psycopg
from tqdm import tqdm

from basedata.model import Record, RecordKind
from basedata.protect import KEY_BYTES, FieldCipher, FieldKey, FieldKind
from basedata.sample import SampleSpec, generate
from bench.report import report
from bench.scale import _postgres_db
from command_center.config import parse_config
from command_center.importing.basedata import ORDER, import_files
from command_center.registry.imports import ImportContext, ImportOptions
from command_center.registry.sample_city import sample_city
from command_center.store import create_store
from command_center.store.basedata_records import base_data_store, to_row
from command_center.store.basedata_schema import TABLES
from dispatch.city import City

ROOT = Path(__file__).resolve().parent.parent
NULL = r"\N"  # the table files' NULL: an empty cell stays an empty string (a building's name)
# The import files' columns: the model's field names, which the importer takes as headers.
IMPORT_COLUMNS: dict[str, tuple[str, ...]] = {
    "address": ("code", "text", "lon", "lat", "grid_code", "verified_at"),
    "building": ("code", "address_code", "name", "floors", "use", "rental", "lon", "lat", "grid_code", "verified_at"),
    "household": ("id", "building_code", "room", "kind", "grid_code", "verified_at"),
    "person": ("id", "household_id", "name", "id_number", "phone", "sex", "birth_date", "kind", "arrival_date",
               "grid_code", "verified_at"),
    "organisation": ("id", "name", "credit_code", "kind", "address_code", "contact_phone", "grid_code", "verified_at"),
}  # fmt: skip
SEALED_FIELDS = {"id_number", "phone", "contact_phone"}


def run(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    city = sample_city(args.seed, args.districts, args.cache_dir)
    grids = _district_grids(city, args.grids)
    spec = SampleSpec(people=args.people, seed=args.seed, households_per_building=args.households_per_building)
    figures: dict[str, Any] = {"people": args.people, "grids": len(grids), "district": grids[0][0][:6]}
    with tempfile.TemporaryDirectory(prefix="cc-bench-basedata-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        rows = _write_files(folder, grids, spec)
        figures["generate_s"] = round(time.perf_counter() - started, 2)
        figures.update({f"{kind}_rows": n for kind, n in rows.items()})
        try:
            with _postgres_db(args.store) as ours_url, _postgres_db(args.store) as base_url:
                figures.update(_timed_imports(folder, city, ours_url, base_url, rows, args.profile))
                figures.update(_counts(ours_url, grids[0][0], spec.as_of, args.repeat))
        except ConnectionError as exc:
            raise SystemExit(f"bench basedata: {exc}") from None
    return report(figures, args.json)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="command-center bench basedata", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--people", type=int, default=2_000_000)
    parser.add_argument("--grids", type=int, default=1500, help="grids of the biggest district (0: all of them)")
    parser.add_argument("--households-per-building", type=float, default=2.6,
                        help="2.6: about 300,000 buildings for 2 million people")  # fmt: skip
    parser.add_argument("--store", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="an admin URL of the PostgreSQL server; the bench makes its databases there, drops them after")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=50, help="timed calls of each per-grid count")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--districts", type=int, default=11, help="districts of the sample city")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "cache", help="where the city is cached")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="cProfile our import, print N functions")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser


def _district_grids(city: City, count: int) -> list[tuple[str, float, float]]:
    """The first `count` grids (by code: whole streets first) of the district with most grids."""
    per_district = Counter(grid.code[:6] for grid in city.grids)
    biggest = max(per_district, key=lambda code: (per_district[code], code))
    grids = sorted((g.code, g.lon, g.lat) for g in city.grids if g.code.startswith(biggest))
    return grids[:count] if count > 0 else grids


class _KeepingCipher(FieldCipher):
    """Seals like FieldCipher and remembers each value's clear text until it is taken: the
    import files need the clear value of what the generator sealed, without opening it again."""

    def __init__(self, key: FieldKey) -> None:
        super().__init__(key)
        self.clear: dict[str, str] = {}

    def seal(self, kind: FieldKind, value: str) -> Any:
        sealed = super().seal(kind, value)
        self.clear[sealed.cipher] = value
        return sealed


@dataclass(slots=True)
class _Out:
    """One kind's two files being written."""

    files: tuple[TextIO, TextIO]
    plain: Any  # csv writer of the import file
    table: Any  # csv writer of the table file


def _write_files(folder: Path, grids: list[tuple[str, float, float]], spec: SampleSpec) -> dict[str, int]:
    """The sample's import and table files, one record at a time; rows written per kind."""
    cipher = _KeepingCipher(FieldKey(os.urandom(KEY_BYTES)))  # the baseline's values: any key will do
    at, by = datetime.now(UTC).isoformat(), "bench"
    outs: dict[str, _Out] = {}
    for kind in ORDER:
        files = (_open(folder / f"{kind}.csv"), _open(folder / f"{kind}.table.csv"))
        outs[kind] = _Out(files, csv.writer(files[0]), csv.writer(files[1]))
        outs[kind].plain.writerow(IMPORT_COLUMNS[kind])
        outs[kind].table.writerow(_table_columns(kind))
    rows: Counter[str] = Counter()
    try:
        with tqdm(total=spec.people, desc="generate", unit=" people", file=sys.stderr, mininterval=1) as bar:
            for kind, record in generate(grids, spec, cipher):
                out = outs[kind]
                out.plain.writerow(_import_row(kind, record, cipher.clear))
                # The row as the importer would store it: source "import", the same stamps' shape.
                stored = to_row(kind, record.model_copy(update={"source": "import"}), at, by)
                out.table.writerow([NULL if stored[c] is None else stored[c] for c in _table_columns(kind)])
                rows[kind] += 1
                if kind == "person":
                    bar.update()
    finally:
        for out in outs.values():
            for file in out.files:
                file.close()
    return {kind: rows[kind] for kind in ORDER}


def _open(path: Path) -> TextIO:
    return path.open("w", newline="", encoding="utf-8")


def _table_columns(kind: str) -> list[str]:
    return [c.name for c in TABLES[kind].columns]


def _import_row(kind: RecordKind, record: Record, clear: dict[str, str]) -> list[str]:
    """A record as a district's file writes it: clear personal values, yes/no, ISO dates."""
    values = []
    for name in IMPORT_COLUMNS[kind]:
        value = getattr(record, name)
        if value is None:
            values.append("")
        elif name in SEALED_FIELDS:
            values.append(clear.pop(value.cipher))  # taken: the map holds one record's values at most
        elif isinstance(value, bool):
            values.append("yes" if value else "no")
        else:
            values.append(value.isoformat() if isinstance(value, date) else str(value))
    return values


def _timed_imports(
    folder: Path, city: City, ours_url: str, base_url: str, rows: dict[str, int], profile: int
) -> dict[str, Any]:
    """Ours, then the baseline, each into its own fresh database; their times and the ratio."""
    total = sum(rows.values())
    ours_s = _ours(folder, city, ours_url, profile)
    base_s = _baseline(folder, base_url)
    for url in (ours_url, base_url):
        stored = _stored(url)
        if stored != rows:
            raise SystemExit(f"bench basedata: {url.rsplit('/', 1)[-1]} holds {stored}, not the {rows} written")
    return {
        "ours_s": round(ours_s, 2),
        "ours_rows_per_s": round(total / ours_s),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "copy_s": round(base_s, 2),
        "copy_rows_per_s": round(total / base_s),
        "ratio": base_s / ours_s,
    }


@contextmanager
def _ticking(desc: str) -> Iterator[None]:
    """An elapsed-time bar while a call that reports no progress of its own runs."""
    done = threading.Event()
    with tqdm(desc=desc, unit=" s", file=sys.stderr, bar_format="{desc}: {elapsed}") as bar:

        def tick() -> None:
            while not done.wait(1):
                bar.refresh()

        ticker = threading.Thread(target=tick, daemon=True)
        ticker.start()
        try:
            yield
        finally:
            done.set()
            ticker.join()


def _ours(folder: Path, city: City, url: str, profile: int) -> float:
    config = parse_config({
        "server": {"data_dir": str(folder / "data")}, "store": url,
        "basedata": {"key_file": str(folder / "keys" / "basedata.key")},
    })  # fmt: skip
    store = create_store(url)  # migrated on open: the schema is there before the clock starts
    paths = [folder / f"{kind}.csv" for kind in ORDER]
    profiler = cProfile.Profile() if profile else None
    try:
        with _ticking("ours: check, seal, upsert"):
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            result = import_files(paths, ImportContext(store, city, config), ImportOptions(actor="bench"))
            if profiler:
                profiler.disable()
            elapsed = time.perf_counter() - started
    finally:
        store.close()
    if not result.applied:
        raise SystemExit(f"bench basedata: our import was refused: {[str(p) for p in result.problems[:3]]}")
    if profiler:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("cumulative").print_stats(profile)
    return elapsed


def _baseline(folder: Path, url: str) -> float:
    create_store(url).close()  # the same schema and indexes, by the same migrations
    sizes = {kind: (folder / f"{kind}.table.csv").stat().st_size for kind in ORDER}
    with psycopg.connect(url) as conn, tqdm(total=sum(sizes.values()), desc="raw COPY", unit="B",
                                            unit_scale=True, file=sys.stderr) as bar:  # fmt: skip
        started = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            for kind in ORDER:
                columns = ", ".join(_table_columns(kind))
                sql = f"COPY {TABLES[kind].name} ({columns}) FROM STDIN (FORMAT csv, HEADER true, NULL '{NULL}')"
                with cur.copy(sql) as copy, (folder / f"{kind}.table.csv").open("rb") as source:
                    while block := source.read(1 << 20):
                        copy.write(block)
                        bar.update(len(block))
        return time.perf_counter() - started


def _stored(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {kind: conn.execute(f"SELECT count(*) FROM {TABLES[kind].name}").fetchone()[0] for kind in ORDER}  # type: ignore[index]


def _counts(url: str, grid: str, today: date, repeat: int) -> dict[str, Any]:
    """p50/p95 of counts_by_grid for a grid, its street and its district."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")
    store = create_store(url)
    records = base_data_store(store)
    figures: dict[str, Any] = {}
    try:
        for label, prefix in (("grid", grid), ("street", grid[:9]), ("district", grid[:6])):
            found = records.counts_by_grid(prefix, today)  # warm-up: plan cached, pages in memory
            times = []
            for _ in range(max(1, repeat)):
                started = time.perf_counter()
                records.counts_by_grid(prefix, today)
                times.append((time.perf_counter() - started) * 1000)
            figures[f"counts_{label}_grids"] = len(found)
            figures[f"counts_{label}_p50_ms"] = round(statistics.median(times), 2)
            figures[f"counts_{label}_p95_ms"] = round(_p95(times), 2)
    finally:
        store.close()
    return figures


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
