"""The sample city, made the way a real city is made: generated files, then the importer.

`write_sample_files` writes what a city's grid office would bring — the grid map as
GeoJSON (every level), the roster as a CSV with Chinese headers, optionally cameras as
a CSV — from the deterministic generator. `import_sample_city` runs them through
`run_import`, the path `command-center import` and the console take, so the demo
exercises the real import (and `bench import` measures it).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from command_center.registry.imports import ImportContext, ImportOptions, ImportResult, Progress, run_import
from dispatch.city import City, city_to_geojson, load_or_generate
from dispatch.city.codes import LEVELS

if TYPE_CHECKING:
    from command_center.config import Config
    from command_center.store import Store

ROSTER_HEADER = ("工号", "编号", "姓名", "手机", "网格编码", "专兼职", "级别", "班次")
CAMERA_HEADER = ("编号", "名称", "地址", "类型", "经度", "纬度", "朝向", "网格编码")
KIND_LABEL = {"full_time": "专职", "part_time": "兼职"}
SHIFT_LABEL = {"day": "白班", "night": "夜班", "all": "全天"}
PRECISION = 7  # decimals of a degree in the sample's GeoJSON: about a centimetre


@dataclass(frozen=True, slots=True)
class SampleFiles:
    grids: Path
    roster: Path
    cameras: Path | None = None


def write_sample_files(folder: Path, city: City, cameras: int = 0) -> SampleFiles:
    """The city's map, roster (and `cameras` simulated cameras, one per grid spread over the
    city) as a city would deliver them."""
    folder.mkdir(parents=True, exist_ok=True)
    grids = folder / "grids.geojson"
    doc = city_to_geojson(city, levels=LEVELS, precision=PRECISION)
    grids.write_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    roster = folder / "roster.csv"
    with roster.open("w", newline="", encoding="utf-8-sig") as f:  # the BOM: Excel opens it as UTF-8
        out = csv.writer(f)
        out.writerow(ROSTER_HEADER)
        for i, w in enumerate(city.workers):
            level = "专业" if w.kind == "full_time" else "基础"
            number = w.code or f"{w.grid_code[:6]}-{i + 1:05d}"
            out.writerow((w.id, number, w.name, w.phone, w.grid_code, KIND_LABEL[w.kind], level, SHIFT_LABEL[w.shift]))
    return SampleFiles(grids, roster, _write_cameras(folder, city, cameras) if cameras else None)


def _write_cameras(folder: Path, city: City, count: int) -> Path:
    path = folder / "cameras.csv"
    step = max(1, len(city.grids) // count)
    with path.open("w", newline="", encoding="utf-8-sig") as f:
        out = csv.writer(f)
        out.writerow(CAMERA_HEADER)
        for n, grid in enumerate(city.grids[::step][:count]):
            url = f"sim://street?seed={n % 50 + 1}&width=320&height=180"
            out.writerow((f"cam-{n + 1:05d}", f"{grid.name}路口", url, "sim", f"{grid.lon:.6f}", f"{grid.lat:.6f}", (n * 37) % 360, grid.code))
    return path


def sample_city(seed: int, districts: int, cache_dir: Path) -> City:
    return load_or_generate(seed, districts, cache_dir=cache_dir)


def import_sample_city(
    files: SampleFiles,
    store: Store,
    config: Config,
    password: str | None = "worker",
    progress: Callable[[str], Progress | None] | None = None,
) -> list[ImportResult]:
    """Grids, then the roster (with an account per worker sharing `password`; None: no
    accounts), then cameras when there are any: each all or nothing. Raises ValueError
    naming the first problem when a step is refused (the files are generated: a problem
    is a bug, not bad input)."""
    from command_center.city_map import load_city

    def step(kind: str, path: Path, city: City, options: ImportOptions) -> ImportResult:
        context = ImportContext(store, city, config, progress(kind) if progress else None)
        result = run_import(kind, path, context, options)
        if not result.applied:
            first = result.problems[0] if result.problems else "refused"
            raise ValueError(f"the sample city's {kind} did not import: {first}")
        return result

    results = [step("grids", files.grids, load_city(config, store), ImportOptions(actor="sample"))]
    city = load_city(config, store)  # the map just imported: the roster's and cameras' grid codes are checked on it
    accounts = ImportOptions(actor="sample", with_users=password is not None, password=password)
    results.append(step("roster", files.roster, city, accounts))
    if files.cameras is not None:
        results.append(step("cameras", files.cameras, city, ImportOptions(actor="sample")))
    return results
