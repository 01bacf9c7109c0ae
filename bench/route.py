"""Benchmark: point → grid lookup on the sample city.

Ours: `GridIndex.locate_many` (lon/lat in, full 5-level answer out, 属地兜底 for misses).
Baseline: a bare shapely `STRtree(grids).query(points, predicate="within")` on
prebuilt points, which answers less (tree indices only, misses left unanswered).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import shapely
from shapely import STRtree

from bench.report import report
from dispatch.city import City, GridIndex, generate_city


def run(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="command-center bench route", description=__doc__)
    parser.add_argument("--seed", type=int, default=7, help="city and point seed")
    parser.add_argument("--points", type=int, default=200_000, help="points for the batch lookups")
    parser.add_argument("--single", type=int, default=20_000, help="points for one-at-a-time locate()")
    parser.add_argument("--districts", type=int, default=11)
    parser.add_argument(
        "--inside",
        action="store_true",
        help="draw points inside the city outline instead of its bounding box",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement; the best counts")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)

    _status("generating sample city")
    started = time.perf_counter()
    city = generate_city(args.seed, args.districts, progress=True)
    generate_s = time.perf_counter() - started
    _status(f"city: {len(city.grids)} grids, {len(city.communities)} communities in {generate_s:.2f} s")

    started = time.perf_counter()
    index = GridIndex(city)
    index_s = time.perf_counter() - started
    lons, lats = _draw_points(city, args.points, args.seed, args.inside)

    _status(f"timing {args.points} points")
    grids = np.array([g.polygon for g in city.grids], dtype=object)
    baseline_tree = STRtree(grids)
    points = shapely.points(lons, lats)
    baseline_s = _best(args.repeat, lambda: baseline_tree.query(points, predicate="within"))
    ours_s = _best(args.repeat, lambda: index.locate_many(lons, lats))
    results = index.locate_many(lons, lats)

    n_single = min(args.single, args.points)
    single_s = _best(
        1,
        lambda: [
            index.locate(x, y)
            for x, y in zip(lons[:n_single].tolist(), lats[:n_single].tolist(), strict=True)
        ],
    )

    in_grid = sum(1 for r in results if r is not None and not r.fallback)
    fallback = sum(1 for r in results if r is not None and r.fallback)
    figures: dict[str, Any] = {
        "grids": len(city.grids),
        "points": args.points,
        "inside": args.inside,
        "generate_s": round(generate_s, 3),
        "index_build_s": round(index_s, 3),
        "in_grid": in_grid,
        "fallback": fallback,
        "unlocated": args.points - in_grid - fallback,
        "locate_many_pps": round(args.points / ours_s),
        "baseline_query_pps": round(args.points / baseline_s),
        "locate_single_pps": round(n_single / single_s),
        "locate_single_us": round(single_s / n_single * 1e6, 2),
        "ratio": round((args.points / ours_s) / (args.points / baseline_s), 2),
    }
    return report(figures, args.json)


def _draw_points(city: City, n: int, seed: int, inside: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, n])
    minx, miny, maxx, maxy = city.bounds
    if not inside:
        return rng.uniform(minx, maxx, n), rng.uniform(miny, maxy, n)
    outline = (
        city.root.polygon if city.root is not None else shapely.union_all([d.polygon for d in city.districts])
    )
    shapely.prepare(outline)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    found = 0
    while found < n:
        x, y = rng.uniform(minx, maxx, 2 * n), rng.uniform(miny, maxy, 2 * n)
        keep = shapely.contains_xy(outline, x, y)
        xs.append(x[keep])
        ys.append(y[keep])
        found += int(keep.sum())
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def _best(repeat: int, work: Callable[[], object]) -> float:
    """Fastest of `repeat` runs: the least disturbed by whatever else the machine does."""
    best = float("inf")
    for _ in range(max(repeat, 1)):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _status(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    run()
