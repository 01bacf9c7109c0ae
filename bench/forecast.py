"""Benchmark: next week's cases forecast against seasonal-naive (`command-center bench forecast`).

Over a generated year (command_center/stats_generate.py: weekday pattern, a summer swell,
holidays) in SQLite (`--cases`, default 1,000,000, into a temporary file) or a database
generated before (`--reuse` a SQLite file or a store URL, as `bench stats --keep` leaves
one), the daily cases per district and matter class (and the city's per class and in all)
are read by SQL (store/stats_records.py `daily_counts`: the class roll-up, summed per day)
and each series is forecast a week at a time from rolling origins over its last `--weeks`
weeks (default 8), from the days before each origin only, by command_center/stats_forecast.py
and by seasonal-naive (the same weekday one week before). Holidays: the generator's
calendar. Printed: MAPE (%) and MASE of both, summed over every series and held-out week,
and `ratio: X` = naive MASE ÷ ours (above 1: ours better).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import report
from command_center import stats_forecast as model
from command_center.stats_generate import HOLIDAYS, SAMPLE_CATALOG, generate
from command_center.store import create_store
from command_center.store.stats_queries import StatsQuery
from command_center.store.stats_records import stats_store
from dispatch.catalog import load_catalog
from dispatch.city import generate_city


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="command-center bench forecast", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weeks", type=int, default=8, help="held-out weeks (rolling origin)")
    parser.add_argument("--reuse", help="a database generated before: a SQLite file or a store URL")
    parser.add_argument("--json", action="store_true")
    return parser


def _series(url: str, year: int) -> dict[tuple[str, str], np.ndarray]:
    """Each (district, class)'s daily cases of the year, read by SQL, plus the city's per class and in all."""
    store = create_store(url)
    try:
        first, days = date(year, 1, 1), (date(year + 1, 1, 1) - date(year, 1, 1)).days
        query = StatsQuery(start=first, end=date(year, 12, 31), prefix="")
        rows = stats_store(store).daily_counts(query, 6)
    finally:
        store.close()
    out: dict[tuple[str, str], np.ndarray] = {}
    for day, district, klass, cases in rows:
        at = (date.fromisoformat(day) - first).days
        for key in ((district, klass), ("city", klass), ("city", "all")):
            out.setdefault(key, np.zeros(days))[at] += float(cases)
    return out


def _measure(series: dict[tuple[str, str], np.ndarray], year: int, weeks: int) -> dict[str, Any]:
    first = date(year, 1, 1)
    holidays = {date(year, m, d) for m, d in HOLIDAYS}
    sums = {"ours": np.zeros(4), "naive": np.zeros(4)}
    for y in series.values():
        for k in range(weeks, 0, -1):
            origin = len(y) - 7 * k
            history, actual = y[:origin], y[origin : origin + 7]
            for name, predicted in (
                ("ours", model.forecast(history, first, holidays).mean),
                ("naive", model.seasonal_naive(history)),
            ):
                ape, abs_err, n, scale = model.errors(actual, predicted, history)
                sums[name] += (ape, abs_err, n, scale * 7)
    errors = {name: model._errors(list(map(float, total))) for name, total in sums.items()}  # noqa: SLF001
    held = date(year + 1, 1, 1) - timedelta(days=7 * weeks)
    return {
        "series": len(series),
        "held_out": f"{weeks} weeks from {held} (rolling origin, a week at a time)",
        "ours_mape_pct": errors["ours"].mape,
        "naive_mape_pct": errors["naive"].mape,
        "ours_mase": errors["ours"].mase,
        "naive_mase": errors["naive"].mase,
        "mape_ratio": round((errors["naive"].mape or 0) / (errors["ours"].mape or 1), 2),
        "ratio": (errors["naive"].mase or 0) / (errors["ours"].mase or 1),
    }


def run(argv: list[str] | None = None) -> dict[str, Any]:
    args = _parser().parse_args(argv)
    began = time.perf_counter()
    if args.reuse:
        series = _series(args.reuse if "://" in args.reuse else f"sqlite:///{args.reuse}", args.year)
    else:
        with tempfile.TemporaryDirectory(prefix="cc-bench-forecast-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'cc.db'}"
            store = create_store(url)
            try:
                now = datetime(args.year + 1, 1, 1, tzinfo=UTC)
                city, catalog = generate_city(seed=7), load_catalog(SAMPLE_CATALOG)
                generate(store, city, catalog, args.cases, args.year, args.seed, now)  # type: ignore[arg-type]
            finally:
                store.close()
            series = _series(url, args.year)
    read = time.perf_counter() - began
    began = time.perf_counter()
    figures = _measure(series, args.year, args.weeks)
    figures["fit_s"] = round(time.perf_counter() - began, 2)
    figures["read_s"] = round(read, 2)
    return report(figures, args.json)


if __name__ == "__main__":
    run()
