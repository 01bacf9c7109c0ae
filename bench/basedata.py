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
the real importer (importing/basedata_fast.py): the files streamed in chunks, every cell
checked (codes, ID check digits, phones, dates, choices), duplicates and references, each ID
number and phone sealed, next checks counted, each chunk COPYed by a writer thread while the
next is checked; the tables being empty, their secondary indexes and the counts are built
after the load (importing/basedata_load.py); all in one transaction.

Baseline (timed, same run): PostgreSQL `COPY … FROM STDIN (FORMAT csv)` of the five table
files, byte for byte, into the same tables (same schema and indexes, made by the same
migrations) of another fresh database, in one transaction: no parsing, no checks, no
sealing. The ratio's baseline copies into the tables with the counts' triggers disabled
(COPY at its fastest: `copy_s`, `ratio`); a third database takes the same COPY with them
firing (the tables as they are: `copy_with_triggers_s`, `ratio_with_triggers`). What is
fair: both sides start from files on disk and end with the same rows committed, indexed
alike; ours seals (sealing is part of an import's real cost, and a district's files are
never pre-sealed), the baseline copies values sealed beforehand, off the clock. So the ratio
(baseline time ÷ ours) is what the checks and the sealing cost against the fastest load
PostgreSQL offers. `--rounds N` runs ours and the bare COPY N times alternately and keeps
the best of each (a shared machine's other work lands on one side or the other).

Then VACUUM ANALYZE (as autovacuum would soon after a bulk load) and the reads over the
imported district, `--repeat` times each after a warm-up (bench/basedata_reads.py): per-grid
counts for a grid, a street and the district (kept by the database: store/basedata_counts.py),
the district's on the next day and grouped over the records as before migration 0022; the
building layer's views at zoom 16 and 14; then the whole city extrapolated (Guangzhou's
~18.8 million residents, 11 districts).

`--profile N` runs our import under cProfile and prints its N costliest functions to
stderr (the import is slower then: read the ratio from a run without it). Where the time
goes now, at 1 million people on the shared 2-core VM: our process ~27 s of CPU (a person's
row ~7 µs of checks and sealing, ~1.5 µs read, ~1.5 µs put in COPY's text form, ~3 µs the
import-wide checks), PostgreSQL's COPY beside it on the other core, then the last table's
indexes and counts (~8 s) after its rows. At 2 million: ratio 0.59 on a quiet machine, 0.37
beside other heavy work (docs/BENCHMARKS.md). Before (the model path, 20,000 people: ratio
0.12): 78 % checking the rows through a pydantic model each (ID check digits twice), 19 %
the upsert (COPY into staging, INSERT … ON CONFLICT: 2.6× a raw COPY), every row in memory.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import pstats
import resource
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
from bench import basedata_reads as reads
from bench.report import report
from bench.scale import _postgres_db
from command_center.config import parse_config
from command_center.importing.basedata import ORDER, import_files
from command_center.registry.imports import ImportContext, ImportOptions
from command_center.registry.sample_city import sample_city
from command_center.store import create_store
from command_center.store.basedata_records import to_row
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
    # Reckoned from today, so the counts are asked for the day the import counted them for,
    # as a district's officers ask on the day of a load.
    spec = SampleSpec(people=args.people, seed=args.seed, households_per_building=args.households_per_building,
                      as_of=date.today())  # fmt: skip
    figures: dict[str, Any] = {"people": args.people, "grids": len(grids), "district": grids[0][0][:6]}
    with tempfile.TemporaryDirectory(prefix="cc-bench-basedata-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        rows = _write_files(folder, grids, spec)
        figures["generate_s"] = round(time.perf_counter() - started, 2)
        figures.update({f"{kind}_rows": n for kind, n in rows.items()})
        try:
            best: list[tuple[float, float]] = []  # (ours, bare COPY) of each earlier round
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            for _ in range(args.rounds - 1):
                with _postgres_db(args.store) as ours_url, _postgres_db(args.store) as bare_url:
                    best.append(_round(folder, city, ours_url, bare_url, args.profile, rows))
            with _postgres_db(args.store) as ours_url, _postgres_db(args.store) as bare_url, \
                    _postgres_db(args.store) as same_url:  # fmt: skip
                timed = _timed_imports(folder, city, (ours_url, bare_url, same_url), rows, args.profile, best)
                growth = round((timed["peak_rss_mb"] * 1024 - rss_before) / 1024)
                figures.update(timed, peak_rss_growth_mb=growth)
                reads.settle(ours_url)
                figures["db_mb"] = reads.database_mb(ours_url)
                figures.update(reads.counts(ours_url, grids[0][0], spec.as_of, args.repeat))
                figures.update(reads.map_views(ours_url, grids, spec.as_of, args.repeat))
                figures.update(reads.city(figures))
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
    parser.add_argument("--repeat", type=int, default=50, help="timed calls of each read (counts, map views)")
    parser.add_argument("--rounds", type=int, default=1, choices=range(1, 6), metavar="1-5",
                        help="our import and the raw COPY each this many times, alternately, best of each "
                             "(a shared machine: other loads land on one side or the other)")  # fmt: skip
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


def _round(folder: Path, city: City, ours_url: str, bare_url: str, profile: int, rows: dict[str, int]) -> tuple[float, float]:
    """Ours, then the raw COPY into bare tables, each into its own fresh database."""
    ours_s = _ours(folder, city, ours_url, profile)
    base_s = _baseline(folder, bare_url, triggers=False)
    for url in (ours_url, bare_url):
        stored = _stored(url)
        if stored != rows:
            raise SystemExit(f"bench basedata: {url.rsplit('/', 1)[-1]} holds {stored}, not the {rows} written")
    return ours_s, base_s


def _timed_imports(
    folder: Path, city: City, urls: tuple[str, str, str], rows: dict[str, int], profile: int,
    earlier: list[tuple[float, float]],
) -> dict[str, Any]:
    """The last round (after any `earlier`: best of each side), then the raw COPY into the
    tables as they are (the counts' triggers firing); times, our peak memory, the ratios."""
    ours_url, bare_url, same_url = urls
    total = sum(rows.values())
    last = _round(folder, city, ours_url, bare_url, profile, rows)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ours_s, base_s = min(o for o, _ in (*earlier, last)), min(b for _, b in (*earlier, last))
    same_s = _baseline(folder, same_url, triggers=True)
    if _stored(same_url) != rows:
        raise SystemExit(f"bench basedata: the COPY with triggers holds {_stored(same_url)}, not {rows}")
    return {
        "rounds": len(earlier) + 1,
        "ours_s": round(ours_s, 2),
        "ours_rows_per_s": round(total / ours_s),
        "peak_rss_mb": round(rss_after / 1024),
        "copy_s": round(base_s, 2),
        "copy_rows_per_s": round(total / base_s),
        "copy_with_triggers_s": round(same_s, 2),
        "ratio_with_triggers": round(same_s / ours_s, 2),
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


def _baseline(folder: Path, url: str, triggers: bool) -> float:
    create_store(url).close()  # the same schema and indexes, by the same migrations
    if not triggers:  # its own database: the counts left unkept there, COPY alone is timed
        with psycopg.connect(url) as conn:
            for kind in ORDER:
                conn.execute(f"ALTER TABLE {TABLES[kind].name} DISABLE TRIGGER USER")
    sizes = {kind: (folder / f"{kind}.table.csv").stat().st_size for kind in ORDER}
    desc = "raw COPY" + (" (counts' triggers firing)" if triggers else "")
    with psycopg.connect(url) as conn, tqdm(total=sum(sizes.values()), desc=desc, unit="B",
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


