"""Bench: the cross-analysis and the care-demand forecast on the sample, and the forecast's
backtest (`command-center bench basedata-analysis [--people 20000] [--store sqlite|postgresql://…]`).

The sample city's first district gets `--people` generated people (basedata.sample) over
`--grids` grids, sealed under a throwaway key, `--cases` cases spread over the last 90 days,
and the sample ledger (basedata.care_sample: memberships joining over the last 8 quarters at
a rising rate). Then, after one warm-up call each, `--repeat` timed calls of:
- the analysis (store/basedata_analysis.by_area: the per-grid sums the database keeps,
  migration 0032) of the district per grid, community, street and the district itself, p50
  and p95 in ms, beside the same analysis grouped over the records (grouped_by_area: what
  each call did before 0032), whose answers must be equal;
- the forecast's SQL input (store/care_demand.demand_input) per community.
Last, the backtest on that ledger through the same SQL path: the last complete quarter
forecast from the four before it, per (community, group), WAPE of each method.

ratio = the grouping's p95 ÷ the kept sums' p95 for the district (the baseline: the same
answers computed over the records in the same run, as every call did before 0032).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from basedata.care import CarePolicy
from basedata.care_sample import LedgerSpec, memberships
from basedata.forecast import HISTORY, Quarter, backtest
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from bench.report import report
from bench.scale import _postgres_db
from command_center.store import Store, create_store
from command_center.store.basedata_analysis import by_area, grouped_by_area
from command_center.store.basedata_records import base_data_store
from command_center.store.care_demand import demand_input
from command_center.store.care_records import care_store
from dispatch.cases import Case, CaseState
from dispatch.city import generate_city

TZ = ZoneInfo("Asia/Shanghai")


@contextmanager
def _store(url: str) -> Iterator[Store]:
    if url == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cc-bench-analysis-") as tmp:
            store = create_store(f"sqlite:///{Path(tmp) / 'cc.db'}")
            yield store
            store.close()
        return
    with _postgres_db(url) as scratch:
        store = create_store(scratch)
        yield store
        store.close()


def _fill(store: Store, args: argparse.Namespace, today: date) -> dict[str, Any]:
    city = generate_city(seed=7, districts=2)
    district = city.grids[0].code[:6]
    grids = [(g.code, g.lon, g.lat) for g in city.grids if g.code.startswith(district)][: args.grids]
    records = list(generate(grids, SampleSpec(people=args.people, seed=3), FieldCipher(FieldKey(bytes(32)))))
    base_data_store(store).upsert_mixed(iter(records), by="bench")
    rng = random.Random(5)
    now = datetime.now(UTC)
    for n in range(args.cases):
        code, lon, lat = rng.choice(grids)
        at = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
        store.insert_case(Case(f"C-bench-{n}", CaseState.DISPATCHED, "0101", code, "video", at,
                               at + timedelta(days=2), lon, lat))  # fmt: skip
    care, added = care_store(store), 0
    for membership in memberships(records, LedgerSpec(today=today), CarePolicy()):
        care.add(membership, by="bench")
        added += 1
    people = sum(1 for kind, _ in records if kind == "person")
    return {
        "district": district,
        "grids": len(grids),
        "people": people,
        "cases": args.cases,
        "memberships": added,
    }


def _timed(call: Callable[[], object], repeat: int) -> dict[str, float]:
    call()
    spent = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        spent.append((time.perf_counter() - started) * 1000)
    spent.sort()
    return {
        "p50_ms": round(statistics.median(spent), 2),
        "p95_ms": round(spent[max(0, int(len(spent) * 0.95) - 1)], 2),
    }


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench basedata-analysis", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--grids", type=int, default=100)
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument(
        "--store", default="sqlite", help="sqlite, or a PostgreSQL admin URL (a scratch database is made)"
    )
    args = parser.parse_args(argv)
    today = date.today()
    with _store(args.store) as store:
        figures: dict[str, Any] = {"store": store.dialect} | _fill(store, args, today)  # type: ignore[attr-defined]
        records, prefix = base_data_store(store), figures["district"]
        since, before = (  # whole days in the city's zone, as the API asks (the case facts count by day)
            datetime.combine(today - timedelta(days=89), datetime.min.time(), TZ),
            datetime.combine(today + timedelta(days=1), datetime.min.time(), TZ),
        )
        for level in ("grid", "community", "street", "district"):
            kept, grouped = (partial(how, records, level, prefix, today, since, before) for how in (by_area, grouped_by_area))
            if kept() != grouped():
                differ = [(a, b) for a, b in zip(kept(), grouped(), strict=False) if a != b][:3]
                raise SystemExit(f"the kept sums differ from the grouping per {level}: {differ}")
            figures[f"analysis_{level}"] = _timed(kept, args.repeat)
            figures[f"analysis_{level}_grouped"] = _timed(grouped, args.repeat)
        coming = Quarter.of(today).shift(1)
        figures["forecast_input"] = _timed(
            lambda: demand_input(records, 12, prefix, coming, HISTORY + 1), args.repeat
        )
        found = demand_input(records, 12, prefix, coming, HISTORY + 1)
        tested = backtest(
            [g.new_per_quarter for c in found.areas for g in c.ledger.values()], found.quarters[-1]
        )
        figures["backtest"] = tested.to_dict()
    district = figures["analysis_district"]["p95_ms"]
    figures["ratio"] = round(figures["analysis_district_grouped"]["p95_ms"] / max(district, 1e-9), 2)
    return report(figures, args.json)


if __name__ == "__main__":
    run()
