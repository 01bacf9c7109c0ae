"""`bench basedata`'s reads over the imported district (bench/basedata.py): the per-grid
counts, the building layer's map views, and the whole city's figures extrapolated.

- Counts (`BaseDataRecords.counts_by_grid`, store/basedata_counts.py) for one grid, one
  street and the whole district, asked for today (the day the import counted them for),
  then for the district on a later day (two days on: each grid's due-days in between are
  summed, as on the first read of a new day; the next day is today in some zone and would
  be rolled to) and, for comparison, grouped over the records themselves (the way
  counts were read before migration 0022; fewer repeats, it is slow). The kept counts are
  checked equal to the grouped ones first: at scale, not only in the tests.
- Map views (`buildings_in`, store/basedata_map.py) of a 1280×800 screen at zoom 16 and 14
  (the layer shows from 14) centred on the district's grids in turn.
- The city: Guangzhou's ~18.8 million residents in 11 districts, from the district's
  figures by the number of rows (import, COPY, storage) or of grids (the city's counts).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from functools import partial
from typing import Any

import psycopg

from command_center.store import create_store
from command_center.store.basedata_counts import direct
from command_center.store.basedata_map import BBox, buildings_in
from command_center.store.basedata_records import BaseDataRecords, base_data_store

CITY_PEOPLE = 18_800_000  # Guangzhou's residents (registered and migrant), about
CITY_DISTRICTS = 11
CITY_GRIDS = 20_000  # the sample city's grids at Guangzhou's scale (README)
SCREEN = (1280, 800)  # the wall's map, in pixels
DIRECT_REPEAT = 5  # the GROUP BY over two million records takes seconds: a few calls


def settle(url: str) -> None:
    """VACUUM ANALYZE, as autovacuum does soon after a bulk load (statistics for the planner,
    the visibility map for index-only scans)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def timed(call: Callable[[], Any], repeat: int) -> tuple[Any, float, float]:
    """(the warm-up call's result, p50 ms, p95 ms) of `repeat` calls after one warm-up."""
    found = call()  # plan cached, pages in memory
    times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return found, round(statistics.median(times), 2), round(p95(times), 2)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def counts(url: str, grid: str, today: date, repeat: int) -> dict[str, Any]:
    """p50/p95 of counts_by_grid for a grid, its street and its district; the district's on
    the next day and grouped over the records; whether kept and grouped counts agree."""
    store = create_store(url)
    records = base_data_store(store)
    figures: dict[str, Any] = {}
    try:
        district = grid[:6]
        figures["counts_exact"] = records.counts_by_grid(district, today) == direct(records, district, today)
        for label, prefix in (("grid", grid), ("street", grid[:9]), ("district", district)):
            found, p50, p95_ms = timed(partial(records.counts_by_grid, prefix, today), repeat)
            figures[f"counts_{label}_grids"] = len(found)
            figures[f"counts_{label}_p50_ms"], figures[f"counts_{label}_p95_ms"] = p50, p95_ms
        later = today + timedelta(days=2)  # today nowhere: read with the sums, never rolled
        _, _, figures["counts_district_next_day_p95_ms"] = timed(
            lambda: records.counts_by_grid(district, later), repeat
        )
        _, _, figures["counts_district_grouped_p95_ms"] = timed(
            lambda: direct(records, district, today), DIRECT_REPEAT
        )
    finally:
        store.close()
    return figures


def view(lon: float, lat: float, zoom: int) -> BBox:
    """The box a SCREEN-sized map shows at `zoom` (web Mercator) centred on (lon, lat)."""
    degrees = 360 / (256 * 2**zoom)  # per pixel of longitude
    half_lon = SCREEN[0] * degrees / 2
    half_lat = SCREEN[1] * degrees * math.cos(math.radians(lat)) / 2
    return BBox(lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)


def map_views(url: str, grids: list[tuple[str, float, float]], today: date, repeat: int) -> dict[str, Any]:
    """p95 of the building layer's query over views at zoom 16 and 14, and what they hold."""
    store = create_store(url)
    records = base_data_store(store)
    figures: dict[str, Any] = {}
    try:
        district = grids[0][0][:6]
        centres = [(lon, lat) for _, lon, lat in grids[:: max(1, len(grids) // 20)]]
        for zoom in (16, 14):
            boxes = [view(lon, lat, zoom) for lon, lat in centres]
            shown, times = _map_calls(records, boxes, district, today, repeat)
            figures[f"map_z{zoom}_buildings"] = round(statistics.mean(shown))
            figures[f"map_z{zoom}_p50_ms"] = round(statistics.median(times), 2)
            figures[f"map_z{zoom}_p95_ms"] = round(p95(times), 2)
    finally:
        store.close()
    return figures


def _map_calls(
    records: BaseDataRecords, boxes: list[BBox], prefix: str, today: date, repeat: int
) -> tuple[list[int], list[float]]:
    shown, times = [], []
    for box in boxes:
        buildings_in(records, box, prefix, today=today)  # warm-up
    for i in range(max(len(boxes), repeat)):
        started = time.perf_counter()
        found, _ = buildings_in(records, boxes[i % len(boxes)], prefix, today=today)
        times.append((time.perf_counter() - started) * 1000)
        shown.append(len(found))
    return shown, times


def database_mb(url: str) -> float:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    return round(row[0] / 2**20, 1) if row else 0.0


def city(figures: dict[str, Any]) -> dict[str, Any]:
    """The whole city's figures from the district's: rows scale with people, counts with grids."""
    scale = CITY_PEOPLE / figures["people"]
    rows = sum(
        figures[f"{kind}_rows"] for kind in ("address", "building", "household", "person", "organisation")
    )
    return {
        "city_people": CITY_PEOPLE,
        "city_districts": CITY_DISTRICTS,
        "city_rows_est": round(rows * scale),
        "city_import_min_est": round(figures["ours_s"] * scale / 60, 1),
        "city_copy_min_est": round(figures["copy_s"] * scale / 60, 1),
        "city_db_gb_est": round(figures["db_mb"] * scale / 1024, 1),
        "city_counts_p95_ms_est": round(_city_counts(figures), 1),
    }


def _city_counts(figures: dict[str, Any]) -> float:
    """Every grid of the city in one read: a grid's read, plus the district's cost per
    further grid for the city's other grids (the read is one row per grid)."""
    grids = figures["counts_district_grids"]
    per_grid = max(0.0, figures["counts_district_p50_ms"] - figures["counts_grid_p50_ms"]) / max(1, grids - 1)
    return float(figures["counts_grid_p95_ms"] + per_grid * (CITY_GRIDS - 1))
