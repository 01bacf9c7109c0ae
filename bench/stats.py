"""Benchmark: the statistics page's queries over a generated year (`command-center bench stats`).

`--cases` (default 1,000,000) cases of `--year` over the sample city (11 districts) are
generated into a fresh SQLite file (or, `--store postgresql://…/postgres`, a fresh database
on that server) by command_center/stats_generate.py: cases, timelines and facts in bulk,
then `case_daily` summed. Not timed as a query (reported as `generate_s`). `--keep PATH`
keeps the SQLite file and `--reuse PATH` starts from one, or from a store URL (no generation).

Then `--runs` rounds, each with a random area (city, a district, a street or a community)
and a random period (a month, a quarter, half a year or the whole year): each of the page's
five queries (store/stats_records.py: summary, series, areas, matters, hotspots) run by
ours and by the same aggregate written by hand in SQL over `case_facts` (the facts filtered
by their indexed day and grid-code range, summed in one GROUP BY), alternately, and
their answers compared (the case counts must agree). Printed: p50 and p95 per query, ours
and hand, and `ratio: X` = the worst query's hand p95 ÷ our p95 (above 1: ours faster).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import report
from bench.scale import _postgres_db
from command_center.stats_generate import generate
from command_center.store import create_store
from command_center.store.basedata_sql import grid_range
from command_center.store.stats_queries import StatsQuery
from command_center.store.stats_records import StatsRecords, stats_store
from dispatch.catalog import load_catalog
from dispatch.city import City, generate_city

CATALOG = Path(__file__).resolve().parent.parent / "configs" / "matters.yaml"
QUERIES = ("summary", "series", "areas", "matters", "hotspots")
CHILD = {4: 6, 6: 9, 9: 12, 12: 15}
SUMS = ("count(*), sum(closed), sum(CASE WHEN on_time = 1 THEN 1 ELSE 0 END), sum(deferred), sum(reworked), "
        "coalesce(sum(close_min), 0)")  # fmt: skip
WHERE = "counted = 1 AND created_day >= :lo AND created_day <= :hi AND grid_code >= :alo AND grid_code < :ahi"
HAND = {
    "summary": f"SELECT {SUMS} FROM case_facts WHERE {WHERE}",
    "series": f"SELECT created_day, source, count(*) FROM case_facts WHERE {WHERE} GROUP BY 1, 2 ORDER BY 1, 2",
    "areas": f"SELECT substr(grid_code, 1, {{digits}}), {SUMS} FROM case_facts WHERE {WHERE} GROUP BY 1",
    "matters": f"SELECT matter_code, min(matter_class), {SUMS} FROM case_facts WHERE {WHERE} GROUP BY 1 ORDER BY 3 DESC, 1",
    "hotspots": f"""WITH mix AS (SELECT cell_x, cell_y, matter_code, count(*) AS m FROM case_facts WHERE {WHERE}
GROUP BY 1, 2, 3), top AS (SELECT cell_x, cell_y, sum(m) AS n FROM mix GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 20)
SELECT top.cell_x, top.cell_y, top.n, mix.matter_code, mix.m FROM top JOIN mix ON mix.cell_x = top.cell_x
AND mix.cell_y = top.cell_y ORDER BY 3 DESC, 1, 2, 5 DESC, 4""",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="command-center bench stats", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--districts", type=int, default=11, help="of the sample city (11: all of it)")
    parser.add_argument("--store", default="sqlite", help="sqlite, or a PostgreSQL server's admin URL")
    parser.add_argument("--keep", type=Path, help="SQLite: keep the generated database here")
    parser.add_argument(
        "--reuse", help="a database generated before (no generation): a SQLite file or a store URL"
    )
    parser.add_argument("--json", action="store_true")
    return parser


@contextmanager
def _store_url(args: argparse.Namespace) -> Iterator[str]:
    if args.reuse:
        yield args.reuse if "://" in args.reuse else f"sqlite:///{args.reuse}"
    elif args.store == "sqlite" and args.keep:
        yield f"sqlite:///{args.keep}"
    elif args.store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="cc-bench-stats-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'cc.db'}"
    else:
        with _postgres_db(args.store) as url:
            yield url


def _areas(city: City) -> list[str]:
    """Area prefixes to draw from: the city, its districts, streets and communities."""
    top = next(a.code[:4] for a in city.areas.values() if a.level == "city")
    return [top, *(a.code[:6] for a in city.districts), *(a.code[:9] for a in city.streets),
            *(a.code[:12] for a in city.communities)]  # fmt: skip


def _draw(rng: random.Random, areas: list[str], year: int) -> StatsQuery:
    level = rng.choice((4, 6, 9, 12))
    prefix = rng.choice([a for a in areas if len(a) == level])
    days = rng.choice((30, 91, 182, 365))
    start = date(year, 1, 1) + timedelta(days=rng.randrange(0, 366 - days))
    return StatsQuery(start=start, end=start + timedelta(days=days - 1), prefix=prefix)


def _ours(stats: StatsRecords, name: str, query: StatsQuery) -> Callable[[], Any]:
    calls: dict[str, Callable[[], Any]] = {
        "summary": lambda: stats.summary(query),
        "series": lambda: stats.series(query, "source"),
        "areas": lambda: stats.areas(query, CHILD[len(query.prefix)]),
        "matters": lambda: stats.matters(query),
        "hotspots": lambda: stats.hotspots(query, 20),
    }
    return calls[name]


def _hand(stats: StatsRecords, name: str, query: StatsQuery) -> Callable[[], Any]:
    sql = HAND[name].replace("{digits}", str(CHILD[len(query.prefix)]))
    if stats.dialect == "postgresql":
        sql = re.sub(r":(\w+)", r"%(\1)s", sql)
    area = grid_range(query.prefix)
    params = {
        "lo": query.start.isoformat(),
        "hi": query.end.isoformat(),
        "alo": area["lo"],
        "ahi": area["hi"],
    }

    def run() -> Any:
        with stats.store._reading() as db:
            return db.execute(sql, params).fetchall()

    return run


def _cases_of(name: str, answer: Any) -> int:
    """The cases an answer counts (ours or the hand's), to check the two agree."""
    if name == "summary":
        return int(answer["cases"] if isinstance(answer, dict) else answer[0][0])
    if name == "series":
        return sum(int(r[-1]) for r in answer)
    if name == "areas":
        return (
            sum(int(s["cases"]) for s in answer.values())
            if isinstance(answer, dict)
            else sum(int(r[1]) for r in answer)
        )
    if name == "matters":
        return sum(int(r[2]["cases"]) if isinstance(r[2], dict) else int(r[2]) for r in answer)
    return (
        sum(h.cases for h in answer)
        if answer and hasattr(answer[0], "cases")
        else len({(r[0], r[1]) for r in answer})
    )


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    began = time.perf_counter()
    answer = fn()
    return (time.perf_counter() - began) * 1000, answer


def _measure(stats: StatsRecords, city: City, args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    areas = _areas(city)
    times: dict[str, dict[str, list[float]]] = {q: {"ours": [], "hand": []} for q in QUERIES}
    for _ in range(args.runs + 1):  # the first round warms the caches up, and is not counted
        query = _draw(rng, areas, args.year)
        for name in QUERIES:
            (t_ours, ours), (t_hand, hand) = (
                _timed(_ours(stats, name, query)),
                _timed(_hand(stats, name, query)),
            )
            if name != "hotspots" and _cases_of(name, ours) != _cases_of(name, hand):
                raise AssertionError(
                    f"{name} disagrees on {query}: {_cases_of(name, ours)} ≠ {_cases_of(name, hand)}"
                )
            times[name]["ours"].append(t_ours)
            times[name]["hand"].append(t_hand)
    figures: dict[str, Any] = {}
    ratios = []
    for name, sides in times.items():
        p95 = {side: _p95(values[1:]) for side, values in sides.items()}
        p50 = {side: statistics.median(values[1:]) for side, values in sides.items()}
        figures[f"{name}_ms"] = (
            f"ours p50 {p50['ours']:.1f} p95 {p95['ours']:.1f}; hand p50 {p50['hand']:.1f} p95 {p95['hand']:.1f}"
        )
        ratios.append(p95["hand"] / p95["ours"])
    figures["ratio"] = min(ratios)
    return figures


def _p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


def run(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    city = generate_city(seed=7, districts=args.districts)
    with _store_url(args) as url:
        store = create_store(url)
        try:
            began = time.perf_counter()
            written = 0
            if not args.reuse:
                now = datetime(args.year + 1, 1, 1, tzinfo=UTC)
                written = generate(store, city, load_catalog(CATALOG), args.cases, args.year, args.seed, now)  # type: ignore[arg-type]
                # as autovacuum (or an operator after a load) would: PostgreSQL's VACUUM also
                # marks the pages all-visible, so index-only scans need not visit the table
                with store._reading() as db:  # type: ignore[attr-defined]  # (autocommit: VACUUM runs outside a transaction)
                    db.execute("VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE", {})  # type: ignore[attr-defined]
            generated = time.perf_counter() - began
            print(f"generated {written} cases in {generated:.0f} s", file=sys.stderr, flush=True)
            figures = {
                "store": stats_store(store).dialect,
                "cases": written,
                "generate_s": round(generated, 1),
                "runs": args.runs,
            }
            figures |= _measure(stats_store(store), city, args)
        finally:
            store.close()
    return report(figures, args.json)


if __name__ == "__main__":
    run()
