"""Importing a grid map into the store: GeoJSON and GeoPackage, the map every node then
loads, bad maps refused with feature and field and nothing stored, a running node
following a new map."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from command_center.city_map import load_city
from command_center.config import Config, parse_config
from command_center.registry.imports import ImportContext, ImportOptions, ImportResult, run_import
from command_center.store import Store, create_store
from dispatch.city import LEVELS, City, city_to_geojson
from tests.helpers import SHARED, build_runtime
from tests.test_import_gis import city_areas, write_map

OUTLINES = SHARED / "geo" / "guangzhou_districts.geojson"
CHEAP_HASH = {"hash_time_cost": 1, "hash_memory_kib": 1024}


@pytest.fixture(scope="module")
def generated() -> City:
    if not OUTLINES.exists():
        pytest.skip(f"{OUTLINES} is absent")
    from dispatch.city.inside import generate_inside, read_outlines

    return generate_inside(read_outlines(OUTLINES), seed=7, streets=33)


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Config, Store]]:
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "auth": CHEAP_HASH,
        }
    )
    store = create_store(config.store)
    yield config, store
    store.close()


def write_geojson(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def apply(path: Path, store: Store, context: City, config: Config, **options: Any) -> ImportResult:
    return run_import("grids", path, ImportContext(store, context, config), ImportOptions(**options))


def test_a_geojson_map_is_stored_and_every_node_loads_it(
    generated: City, setup: tuple[Config, Store], small_city: City, tmp_path: Path
) -> None:
    config, store = setup
    path = write_geojson(tmp_path / "map.geojson", city_to_geojson(generated, LEVELS, precision=9))
    dry = apply(path, store, small_city, config, dry_run=True)
    assert not dry.applied and dry.counts["grids"] == len(generated.grids) and store.city_map_seq() is None
    refused = apply(path, store, small_city, config, district="440104")
    assert not refused.applied and refused.problems[0].row is None and store.city_map_seq() is None
    result = apply(path, store, small_city, config, actor="chief")
    codes = {g.code for g in generated.grids}
    assert result.applied and result.counts == {
        "districts": 11, "streets": 33, "communities": len(generated.communities), "grids": len(generated.grids),
        "warnings": 0, "workers_without_grid": len({w.id for w in small_city.workers if w.grid_code not in codes}),
    }  # fmt: skip
    loaded = load_city(config, store)  # what any node loads, with no file of its own
    assert set(loaded.areas) == set(generated.areas) and loaded.workers == []
    some = generated.grids[17]
    assert loaded.areas[some.code].polygon.equals_exact(some.polygon, 1e-8)


def test_a_geopackage_in_a_projected_crs_imports_the_same_map(
    generated: City, setup: tuple[Config, Store], small_city: City, tmp_path: Path
) -> None:
    config, store = setup
    path = tmp_path / "map.gpkg"
    write_map(path, city_areas(generated))
    result = apply(path, store, small_city, config)
    assert result.applied, result.problems[:3]
    assert set(load_city(config, store).areas) == set(generated.areas)


def test_bad_maps_name_feature_and_field_and_store_nothing(
    generated: City, setup: tuple[Config, Store], small_city: City, tmp_path: Path
) -> None:
    config, store = setup
    doc = city_to_geojson(generated, LEVELS, precision=9)
    grids = [i for i, f in enumerate(doc["features"]) if f["properties"]["level"] == "grid"]
    overlapping = json.loads(json.dumps(doc))
    a, b = grids[10], grids[11]
    overlapping["features"][b]["geometry"] = overlapping["features"][a]["geometry"]
    bad_points = json.loads(json.dumps(doc))
    bad_points["features"][grids[20]]["geometry"]["coordinates"] = [
        [[200.0, 95.0], [201.0, 95.0], [201.0, 96.0], [200.0, 95.0]]
    ]
    for name, bad, feature in (("overlap", overlapping, b), ("coordinates", bad_points, grids[20])):
        result = apply(write_geojson(tmp_path / f"{name}.geojson", bad), store, small_city, config)
        assert not result.applied, name
        assert [(p.row, p.column) for p in result.problems] == [(feature, "geometry")], (
            name,
            result.problems[:5],
        )
        assert store.city_map_seq() is None, name


def test_a_running_node_follows_a_newly_imported_map(
    generated: City, setup: tuple[Config, Store], small_city: City, tmp_path: Path
) -> None:
    config, store = setup
    rt = build_runtime(config, small_city)  # running on another map, no roster in the store
    before = rt.city.city
    path = write_geojson(tmp_path / "map.geojson", city_to_geojson(generated, LEVELS, precision=9))
    assert apply(path, store, small_city, config).applied
    asyncio.run(rt.registry.poll())  # what the follower does every second
    assert set(rt.city.city.areas) == set(generated.areas) and rt.dispatcher.city is rt.city.city
    assert rt.city.city.workers == before.workers  # the people stay until a roster says otherwise
    grid = generated.grids[5]
    assert rt.dispatcher.index.locate(grid.lon, grid.lat).grid_code == grid.code  # type: ignore[union-attr]
