"""The sample city, its codes, roster, point lookup and GeoJSON import/export."""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely import STRtree

from dispatch.city import LEVELS, City, GridIndex, generate_city
from dispatch.city.codes import ancestor_at, is_code, level_of, make_code, parent_of, reading_order
from dispatch.city.generator import GUANGZHOU, ORIGIN, load_or_generate
from dispatch.city.geojson import city_to_geojson, load_geojson
from dispatch.city.model import LocalFrame, Worker

REAL_DISTRICTS = Path(__file__).resolve().parents[2] / "shared" / "geo" / "guangzhou_districts.geojson"


@pytest.fixture(scope="module")
def city() -> City:
    return generate_city(seed=7)


@pytest.fixture(scope="module")
def index(city: City) -> GridIndex:
    return GridIndex(city)


def _sample(items: list, k: int, seed: int = 1) -> list:
    return random.Random(seed).sample(items, min(k, len(items)))


# ---------------------------------------------------------------- codes


def test_code_helpers() -> None:
    assert make_code("440106") == "440106000000000"
    assert make_code("440106", 1) == "440106001000000"
    assert make_code("440106", 1, 2) == "440106001002000"
    assert make_code("440106", 1, 2, 3) == "440106001002003"
    assert [level_of(c) for c in ("440100000000000", "440106000000000", "440106001000000")] == [
        "city",
        "district",
        "street",
    ]
    assert level_of("440106001002003") == "grid"
    assert parent_of("440106001002003") == "440106001002000"
    assert parent_of("440106001000000") == "440106000000000"
    assert parent_of("440106000000000") == "440100000000000"
    assert parent_of("440100000000000") is None
    assert ancestor_at("440106001002003", "street") == "440106001000000"
    assert ancestor_at("440106001000000", "grid") is None
    with pytest.raises(ValueError):
        make_code("4401", 1)
    with pytest.raises(ValueError):
        make_code("440106", 1000)
    with pytest.raises(ValueError):
        level_of("44010600100200")


def test_reading_order_is_rows_north_to_south_then_west_to_east() -> None:
    xs = [10.0, 0.0, 5.0, 0.0]
    ys = [100.0, 98.0, 50.0, 52.0]  # two rows: y≈100 and y≈50
    assert reading_order(xs, ys, band=20.0) == [1, 0, 3, 2]


# ---------------------------------------------------------------- generator


def test_counts_are_at_reference_scale(city: City) -> None:
    assert len(city.districts) == 11
    assert abs(len(city.streets) - 176) <= 176 * 0.05
    assert abs(len(city.communities) - 2800) <= 2800 * 0.05
    assert abs(len(city.grids) - 20_000) <= 20_000 * 0.05
    assert abs(len(city.workers) - 22_367) <= 22_367 * 0.05
    full_time = sum(w.kind == "full_time" for w in city.workers) / len(city.workers)
    assert 0.28 < full_time < 0.34
    assert {d.code[:6] for d in city.districts} == {d.code for d in GUANGZHOU}
    assert {d.name for d in city.districts} >= {"天河区", "越秀区", "增城区"}


def test_every_code_has_15_digits_and_nests_in_its_parent(city: City) -> None:
    root = city.root
    assert root is not None and root.code == "440100000000000" and root.parent is None
    for area in city.areas.values():
        assert is_code(area.code), area.code
        assert level_of(area.code) == area.level
        assert area.parent == parent_of(area.code)
        if area.parent is not None:
            assert area.parent in city.areas
    grid = city.grids[-1]
    assert [a.level for a in city.path(grid.code)] == list(LEVELS)
    assert [a.code for a in city.children(grid.parent)] == sorted(a.code for a in city.children(grid.parent))


def test_names_look_chinese(city: City) -> None:
    assert all(s.name.endswith(("街道", "镇")) for s in city.streets)
    assert all(c.name.endswith(("社区", "村")) for c in city.communities)
    grid = city.grids[0]
    assert grid.name == f"{city.areas[grid.parent].name}第{int(grid.code[-3:])}网格"
    assert any(s.name.endswith("镇") for s in city.streets)
    assert any(c.name.endswith("村") for c in city.communities)


def test_children_lie_inside_their_parents(city: City) -> None:
    tolerance = 1e-7  # degrees, about 1 cm: clipping rounds shared edges at that scale
    for level in ("districts", "streets", "communities"):
        for parent in _sample(getattr(city, level), 40):
            outer = parent.polygon.buffer(tolerance)
            for child in city.children(parent.code):
                assert outer.covers(child.polygon), (parent.code, child.code)
    # grids are pulled back from the community edge (roads), so they are strictly inside
    for community in _sample(city.communities, 100):
        for grid in city.children(community.code):
            assert community.polygon.contains(grid.polygon)
    for area in _sample(list(city.areas.values()), 500):
        assert area.polygon.contains(shapely.Point(area.lon, area.lat))


def test_siblings_do_not_overlap(city: City) -> None:
    for parent in _sample(city.streets, 30) + _sample(city.communities, 100) + [city.root]:
        children = city.children(parent.code)
        shapes = np.array([c.polygon for c in children], dtype=object)
        left, right = STRtree(shapes).query(shapes, predicate="intersects")
        pairs = left < right
        overlap = shapely.area(shapely.intersection(shapes[left[pairs]], shapes[right[pairs]]))
        assert (overlap < 1e-10).all(), parent.code  # < about 1 m²: shared edges only
        if children[0].level == "grid":
            assert not pairs.any(), "grids are separated by roads"


def test_grids_leave_gaps_for_the_fallback(city: City) -> None:
    frame = city.frame
    grid_area = shapely.area(frame.project(np.array([g.polygon for g in city.grids], dtype=object))).sum()
    community_area = shapely.area(
        frame.project(np.array([c.polygon for c in city.communities], dtype=object))
    ).sum()
    assert 0.85 < grid_area / community_area < 0.995


def test_children_are_numbered_north_to_south_west_to_east(city: City) -> None:
    frame = LocalFrame(*ORIGIN)  # the generator's frame, so bands match exactly
    for parent in _sample(city.streets, 20) + _sample(city.communities, 100):
        children = city.children(parent.code)
        seq = [_sequence(c.code) for c in children]
        assert seq == list(range(1, len(children) + 1))
        shapes = frame.project(np.array([c.polygon for c in children], dtype=object))
        if children[0].level == "grid":
            continue  # grids are numbered before roads shrink them; their centroids moved
        centres = shapely.get_coordinates(shapely.centroid(shapes))
        band = float(np.sqrt(shapely.area(shapes).sum() / len(children)))
        assert reading_order(centres[:, 0].tolist(), centres[:, 1].tolist(), band) == list(
            range(len(children))
        )
    # grids: the first is north of the last in nearly every community
    north_first = [
        grids[0].polygon.centroid.y > grids[-1].polygon.centroid.y
        for community in _sample(city.communities, 300)
        if len(grids := city.children(community.code)) >= 4
    ]
    assert sum(north_first) / len(north_first) > 0.9


def _sequence(code: str) -> int:
    level = level_of(code)
    return int(
        {"district": code[4:6], "street": code[6:9], "community": code[9:12], "grid": code[12:15]}[level]
    )


def test_same_seed_same_city_other_seed_other_city(city: City) -> None:
    a = generate_city(seed=7, districts=2)
    b = generate_city(seed=7, districts=2)
    assert list(a.areas) == list(b.areas)
    assert [x.polygon.area for x in a.areas.values()] == [x.polygon.area for x in b.areas.values()]
    assert a.workers == b.workers
    # a smaller city is a slice of the full one: same districts, streets, communities, grids
    for code, area in a.areas.items():
        if area.level != "city":
            assert city.areas[code].polygon.equals_exact(area.polygon, 0.0), code
            assert city.areas[code].name == area.name
    c = generate_city(seed=8, districts=2)
    assert [x.polygon.area for x in c.grids[:50]] != [x.polygon.area for x in a.grids[:50]]
    assert [x.name for x in c.communities] != [x.name for x in a.communities]
    with pytest.raises(ValueError):
        generate_city(districts=12)


def test_load_or_generate_caches(tmp_path: Path) -> None:
    first = load_or_generate(seed=3, districts=1, cache_dir=tmp_path)
    cached = list(tmp_path.glob("*.pickle"))
    assert len(cached) == 1
    again = load_or_generate(seed=3, districts=1, cache_dir=tmp_path)
    assert list(again.areas) == list(first.areas)
    cached[0].write_bytes(b"not a pickle")
    rebuilt = load_or_generate(seed=3, districts=1, cache_dir=tmp_path)
    assert list(rebuilt.areas) == list(first.areas)


@pytest.mark.skipif(not REAL_DISTRICTS.exists(), reason="real district outlines not available")
def test_districts_sit_roughly_where_the_real_ones_are(city: City) -> None:
    from shapely.geometry import shape

    data = json.loads(REAL_DISTRICTS.read_text(encoding="utf-8"))
    real = {f["properties"]["name"]: shape(f["geometry"]) for f in data["features"]}
    frame = city.frame
    close = 0
    for district in city.districts:
        where = frame.project(shapely.Point(district.lon, district.lat))
        close += shapely.distance(where, frame.project(real[district.name])) < 5_000
    assert close >= 9, f"only {close} of 11 districts within 5 km of their real outline"


# ---------------------------------------------------------------- roster


def test_every_grid_has_someone_on_duty_day_and_night(city: City) -> None:
    night, day = datetime(2024, 5, 1, 3, 0), datetime(2024, 5, 1, 15, 0)
    for grid in city.grids:
        workers = city.workers_by_grid[grid.code]
        assert any(w.on_duty(night) for w in workers), grid.code
        assert any(w.on_duty(day) for w in workers), grid.code
    sizes = [len(ws) for ws in city.workers_by_grid.values()]
    assert min(sizes) >= 1 and max(sizes) == 3 and sizes.count(2) > 1000
    ids = [w.id for w in city.workers]
    assert len(set(ids)) == len(ids) and all(i[0] == "W" and i[1:].isdigit() for i in ids)


def test_shift_boundaries() -> None:
    day = Worker("W0000001", "陈伟", "440106001002003", "full_time", "day", "13800000000")
    night = Worker("W0000002", "李芳", "440106001002003", "part_time", "night", "13800000001")
    assert day.on_duty(datetime(2024, 1, 1, 8, 0)) and not night.on_duty(datetime(2024, 1, 1, 8, 0))
    assert night.on_duty(datetime(2024, 1, 1, 20, 0)) and not day.on_duty(datetime(2024, 1, 1, 20, 0))
    assert night.on_duty(datetime(2024, 1, 1, 7, 59)) and day.on_duty(datetime(2024, 1, 1, 19, 59))


# ---------------------------------------------------------------- index


def test_locate_a_grid_point_gives_the_full_path(city: City, index: GridIndex) -> None:
    for grid in _sample(city.grids, 200):
        found = index.locate(grid.lon, grid.lat)
        assert found is not None and found.grid_code == grid.code
        assert not found.fallback and found.distance_m == 0.0
        assert [step["level"] for step in found.path] == list(LEVELS)
        assert [step["code"] for step in found.path] == [a.code for a in city.path(grid.code)]
        assert found.community_code == grid.parent
        assert found.street_code == city.areas[grid.parent].parent
        assert found.district_code == grid.code[:6] + "0" * 9
        assert found.to_dict()["path"][-1]["name"] == grid.name


def test_a_point_between_grids_falls_back_to_its_community(city: City, index: GridIndex) -> None:
    for community in _sample(city.communities, 20):
        grids = shapely.union_all([g.polygon for g in city.children(community.code)])
        gap = community.polygon.difference(grids.buffer(1e-7))
        point = gap.point_on_surface()
        found = index.locate(point.x, point.y)
        assert found is not None and found.fallback
        assert found.grid_code is None and found.community_code == community.code
        assert found.distance_m == 0.0
        assert [step["level"] for step in found.path] == ["city", "district", "street", "community"]


@pytest.fixture(scope="module")
def west_edge_lat(city: City) -> float:
    """A latitude where the city's boundary runs along 113.1°E (its outline is clipped there)."""
    edge = city.root.polygon.intersection(shapely.LineString([(113.1, 22.8), (113.1, 23.6)]))
    longest = max(shapely.get_parts(edge), key=lambda part: part.length)
    assert longest.length > 0.01
    return longest.interpolate(0.5, normalized=True).y


def test_a_point_just_outside_the_city_falls_back_with_a_distance(
    city: City, index: GridIndex, west_edge_lat: float
) -> None:
    found = index.locate(113.09, west_edge_lat)  # 0.01° west of the edge
    assert found is not None and found.fallback and found.grid_code is None
    expected = 0.01 * city.frame.m_per_deg_lon
    assert found.distance_m == pytest.approx(expected, rel=0.01)
    assert city.areas[found.community_code].polygon.bounds[0] == pytest.approx(113.1)


def test_far_out_at_sea_is_nowhere(index: GridIndex, west_edge_lat: float) -> None:
    assert index.locate(114.5, 22.0) is None
    assert index.locate(113.4, 22.5) is None  # about 44 km south of the city edge
    strict = GridIndex(index.city, max_fallback_m=500)
    assert strict.locate(113.09, west_edge_lat) is None  # about 1 km out: beyond 500 m
    assert strict.locate(113.097, west_edge_lat) is not None  # about 300 m out


def test_locate_many_agrees_with_locate(city: City, index: GridIndex) -> None:
    rng = np.random.default_rng(5)
    minx, miny, maxx, maxy = city.bounds
    lons = np.concatenate([rng.uniform(minx - 0.05, maxx + 0.05, 1000), [g.lon for g in city.grids[:50]]])
    lats = np.concatenate([rng.uniform(miny - 0.05, maxy + 0.05, 1000), [g.lat for g in city.grids[:50]]])
    many = index.locate_many(lons, lats)
    single = [index.locate(x, y) for x, y in zip(lons.tolist(), lats.tolist(), strict=True)]
    assert many == single
    kinds = {("none" if r is None else "fallback" if r.fallback else "grid") for r in many}
    assert kinds == {"none", "fallback", "grid"}
    assert index.locate_many([], []) == []


# ---------------------------------------------------------------- geojson


def test_geojson_round_trip(city: City, tmp_path: Path) -> None:
    community = city.communities[10]
    codes = [community.code] + [g.code for g in city.children(community.code)]
    data = city_to_geojson(city, levels=("community", "grid"), codes=codes)
    path = tmp_path / "grids.geojson"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    loaded = load_geojson(path)
    assert sorted(loaded.areas) == sorted(codes)
    for code in codes:
        assert loaded.areas[code].name == city.areas[code].name
        assert loaded.areas[code].polygon.equals_exact(city.areas[code].polygon, 1e-6)
    grid = loaded.grids[0]
    assert [a.code for a in loaded.path(grid.code)] == [community.code, grid.code]
    found = GridIndex(loaded).locate(grid.lon, grid.lat)
    assert found is not None and found.grid_code == grid.code
    assert {f["properties"]["level"] for f in city_to_geojson(city, levels=("district",))["features"]} == {
        "district"
    }


def _feature(geometry: dict | None = None, **props: object) -> dict:
    properties = {"code": "440106001002003", "name": "网格", "level": "grid", "parent": "440106001002000"}
    properties.update(props)
    square = {
        "type": "Polygon",
        "coordinates": [[[113.3, 23.1], [113.31, 23.1], [113.31, 23.11], [113.3, 23.1]]],
    }
    return {"type": "Feature", "properties": properties, "geometry": geometry or square}


def _write(tmp_path: Path, features: list[dict]) -> Path:
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return path


def test_geojson_errors_name_the_feature(tmp_path: Path) -> None:
    missing = _feature(code="440106001002004")
    del missing["properties"]["name"]
    with pytest.raises(ValueError, match=r"feature 1: missing property 'name'"):
        load_geojson(_write(tmp_path, [_feature(), missing]))
    point = _feature(geometry={"type": "Point", "coordinates": [113.3, 23.1]})
    with pytest.raises(ValueError, match=r"feature 0: geometry must be a Polygon"):
        load_geojson(_write(tmp_path, [point]))
    broken = _feature(geometry={"type": "Polygon", "coordinates": [[[113.3]]]})
    with pytest.raises(ValueError, match=r"feature 0: bad geometry"):
        load_geojson(_write(tmp_path, [broken]))
    with pytest.raises(ValueError, match=r"feature 1: duplicate code"):
        load_geojson(_write(tmp_path, [_feature(), _feature()]))
    with pytest.raises(ValueError, match=r"feature 0: property 'level'"):
        load_geojson(_write(tmp_path, [_feature(level="block")]))


def test_geojson_multipolygon_keeps_its_largest_part(tmp_path: Path) -> None:
    small = [[[113.0, 23.0], [113.001, 23.0], [113.001, 23.001], [113.0, 23.0]]]
    large = [[[113.3, 23.1], [113.32, 23.1], [113.32, 23.12], [113.3, 23.1]]]
    multi = _feature(geometry={"type": "MultiPolygon", "coordinates": [small, large]})
    area = load_geojson(_write(tmp_path, [multi])).areas["440106001002003"]
    assert area.polygon.bounds[0] == pytest.approx(113.3)


def test_grids_only_import_still_knows_the_enclosing_codes(city: City, tmp_path: Path) -> None:
    grid = city.grids[0]
    path = tmp_path / "one.geojson"
    path.write_text(json.dumps(city_to_geojson(city, levels=("grid",), codes=[grid.code])), encoding="utf-8")
    found = GridIndex(load_geojson(path)).locate(grid.lon, grid.lat)
    assert found is not None and found.grid_code == grid.code
    assert (found.community_code, found.street_code) == (grid.parent, city.areas[grid.parent].parent)
    assert [step["level"] for step in found.path] == ["grid"]
