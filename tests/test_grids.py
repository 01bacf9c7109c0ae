"""Grid maps: validation with feature indexes, the grid detail endpoint, and a re-draw
swapped in without a restart (open cases keep their grid, new cases use the new map)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import shapely
from shapely.geometry import mapping

from command_center import cli
from command_center.city_map import SAVED_MAP, load_city
from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import LEVELS, City, Tolerance, city_to_geojson, load_geojson, validate_map
from tests.helpers import SHARED, ServerThread, build_runtime, serve_app
from tests.test_api import inject, wait_case

REAL_DISTRICTS = SHARED / "geo" / "guangzhou_districts.geojson"
COMMUNITY = "440106001002000"


def square(x: float, y: float, size: float = 0.01) -> dict:
    return {
        "type": "Polygon",
        "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]],
    }


def feature(code: str, geometry: dict | None, level: str = "grid", parent: str | None = COMMUNITY, **extra: object) -> dict:
    props = {"code": code, "name": f"区域{code[-3:]}", "level": level, "parent": parent, **extra}
    return {"type": "Feature", "properties": props, "geometry": geometry}


def collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


# ---------------------------------------------------------------- validation


def test_every_problem_is_reported_with_its_feature_index(tmp_path: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[113.0, 23.0], [113.01, 23.01], [113.01, 23.0], [113.0, 23.01], [113.0, 23.0]]]}
    two_points = {"type": "Polygon", "coordinates": [[[113.0, 23.0], [113.01, 23.0], [113.0, 23.0]]]}
    nameless = feature("440106001002009", square(113.5, 23.0))
    del nameless["properties"]["name"], nameless["properties"]["level"]
    features = [
        feature(COMMUNITY, square(113.2, 23.0, 0.2), level="community", parent="440106001000000"),  # 0 ok
        feature("440106001002001", square(113.30, 23.10)),  # 1 ok
        feature("440106001002002", square(113.305, 23.105)),  # 2 overlaps 1 by a quarter
        feature("440106001002003", bowtie),  # 3 self-intersecting
        feature("440106001002004", two_points),  # 4 too few points
        feature("440106001002005", {"type": "Point", "coordinates": [113.3, 23.1]}),  # 5 not a polygon
        feature("440106001003001", square(113.33, 23.10)),  # 6 does not nest in 440106001002000
        feature("440106001009001", square(113.35, 23.10), parent="440106001009000"),  # 7 unknown community
        feature("440106001002001", square(113.37, 23.10)),  # 8 duplicate of 1
        nameless,  # 9 missing name and level
        feature("4401060010020", square(113.39, 23.10)),  # 10 not 15 digits
        feature("440106001002011", square(113.41, 23.10), level="community"),  # 11 a grid code called a community
        "not a feature",  # 12
        feature("440106001002012", None),  # 13 no geometry
        feature("440106001002013", square(200.0, 23.1)),  # 14 not lon/lat
    ]
    report = validate_map(collection(features))
    assert not report.ok
    found = {(p.feature, p.kind) for p in report.errors}
    expected = {
        (2, "overlap"), (3, "invalid_polygon"), (4, "too_few_points"), (5, "geometry"), (6, "code_not_nested"),
        (7, "unknown_parent"), (8, "duplicate_code"), (9, "missing_property"), (10, "bad_code"), (11, "code_level"),
        (12, "structure"), (13, "geometry"), (14, "geometry"),
    }
    assert expected <= found, expected - found
    assert not {i for i, _ in found} & {0, 1}, "the good features have no problems"
    messages = {p.feature: str(p) for p in report.errors}
    assert messages[2].startswith("feature 2: overlaps feature 1 (440106001002001)")
    assert "Self-intersection" in messages[3]
    assert "parent is its first 12 digits" in messages[6] and "440106001003000" in messages[6]
    assert {str(p) for p in report.errors if p.feature == 9} == {
        "feature 9: missing property 'name'", "feature 9: missing property 'level'"
    }
    with pytest.raises(ValueError, match=r"feature 3: invalid polygon(.|\n)*feature 8: duplicate code"):
        load_geojson(_write(tmp_path, collection(features)))


def test_a_sliver_along_a_shared_edge_is_tolerated_but_real_overlap_is_not() -> None:
    d = 0.5 / 111_000  # half a metre in degrees
    left = feature("440106001002001", square(113.30, 23.10))
    sliver = feature("440106001002002", square(113.31 - d, 23.10))  # 0.5 m × 1.1 km ≈ 550 m² < 0.1 % of 1.2 km²
    assert validate_map(collection([left, sliver])).ok
    strict = validate_map(collection([left, sliver]), tolerance=Tolerance(overlap_m2=10, overlap_share=0))
    assert [p.kind for p in strict.errors] == ["overlap"]
    # Different levels may overlap: a grid lies inside its community.
    community = feature(COMMUNITY, square(113.2, 23.0, 0.2), level="community", parent="440106001000000")
    assert validate_map(collection([community, left])).ok


def test_the_generated_city_exports_a_clean_map(small_city: City) -> None:
    report = validate_map(json.loads(json.dumps(city_to_geojson(small_city, levels=LEVELS))))
    assert report.ok, [str(p) for p in report.problems[:5]]
    assert report.summary()["by_level"]["grid"] == len(small_city.grids)


def test_partial_maps_check_parents_against_the_map_they_replace(small_city: City) -> None:
    grid = small_city.grids[0]
    moved = feature("440999001001001", mapping(grid.polygon), parent="440999001001000")
    assert validate_map(collection([moved])).ok  # alone: a partial import, parents unknown
    report = validate_map(collection([moved]), context=small_city)
    assert [p.kind for p in report.errors] == ["unknown_parent"]
    # Dropping the street level would orphan every community kept from the current map.
    street = small_city.streets[0]
    only_one_street = feature(street.code, mapping(street.polygon), level="street", parent=street.parent)
    orphans = validate_map(collection([only_one_street]), context=small_city)
    assert any(p.feature is None and "lose their parent" in p.message for p in orphans.errors)


@pytest.mark.skipif(not REAL_DISTRICTS.exists(), reason=f"shared data absent: {REAL_DISTRICTS}")
def test_real_district_outlines() -> None:
    data = json.loads(REAL_DISTRICTS.read_text(encoding="utf-8"))
    raw = validate_map(data)  # DataV's own properties (adcode, parent as an object)
    assert {p.feature for p in raw.errors if p.message == "missing property 'code'"} == set(range(11))
    for f in data["features"]:
        props = f["properties"]
        f["properties"] = {"code": f"{props['adcode']}000000000", "name": props["name"], "level": "district", "parent": "440100000000000"}
    assert validate_map(data).ok, "real neighbouring districts share edges without overlapping"
    data["features"][4]["geometry"] = data["features"][5]["geometry"]
    assert [(p.feature, p.kind) for p in validate_map(data).errors] == [(5, "overlap")]


def test_cli_validate_exits_2_listing_problems(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = _write(tmp_path, collection([feature("440106001002001", square(113.3, 23.1)), feature("440106001002001", square(113.4, 23.1))]))
    assert cli.main(["grids", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "feature 1: duplicate code '440106001002001' (first at feature 0)" in err and "invalid" in err
    good = _write(tmp_path, collection([feature("440106001002001", square(113.3, 23.1))]), "good.geojson")
    assert cli.main(["grids", "validate", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    (tmp_path / "broken.geojson").write_text("{nope", encoding="utf-8")
    assert cli.main(["grids", "validate", str(tmp_path / "broken.geojson")]) == 2


def test_validating_twenty_thousand_grids_scales() -> None:
    """A 150 × 150 lattice of touching squares: the tree keeps the overlap check linear."""
    n = 150
    xs, ys = np.meshgrid(np.arange(n), np.arange(n))
    features = []
    for i, (x, y) in enumerate(zip(xs.ravel().tolist(), ys.ravel().tolist(), strict=True)):
        community = f"440106{i // 1000 + 1:03d}{(i // 100) % 10 + 1:03d}"  # 100 grids a community
        features.append(feature(f"{community}{i % 100 + 1:03d}", square(113.0 + 0.001 * x, 23.0 + 0.001 * y, 0.001), parent=f"{community}000"))
    started = time.perf_counter()
    report = validate_map(collection(features))
    assert report.ok, [str(p) for p in report.problems[:3]]
    assert time.perf_counter() - started < 30


def _write(folder: Path, data: dict, name: str = "map.geojson") -> Path:
    path = folder / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------- API


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("grids")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


@pytest.fixture
def client(server: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=60, headers=server[0].headers()) as c:
        yield c



def test_locate_in_the_sea_is_404_with_a_reason(client: httpx.Client) -> None:
    response = client.get("/api/grids/locate", params={"lon": 114.5, "lat": 22.0})
    assert response.status_code == 404
    assert "outside the city" in response.json()["detail"]["reason"]
    assert client.get("/api/grids/locate", params={"lon": "nan?", "lat": 22}).status_code == 400


def test_grid_detail_has_children_workers_and_open_case_counts(
    server: tuple[ServerThread, Runtime], client: httpx.Client, small_city: City
) -> None:
    srv, rt = server
    grid = small_city.grids[7]
    case = wait_case(client, inject(srv, rt, grid.lon, grid.lat, "stall")["id"])
    assert case["grid_code"] == grid.code
    detail = client.get(f"/api/grids/{grid.code}").json()
    assert (detail["level"], detail["parent"], detail["open_cases"]) == ("grid", grid.parent, 1)
    assert detail["workers"] and all(w["grid_code"] == grid.code for w in detail["workers"])
    assert detail["worker_counts"]["total"] == len(detail["workers"]) and detail["children"] == []
    community = client.get(f"/api/grids/{grid.parent}").json()
    child = next(c for c in community["children"] if c["code"] == grid.code)
    assert child["open_cases"] == 1 and child["workers"] == len(detail["workers"])
    assert community["open_cases"] >= 1 and "workers" not in community
    district = client.get(f"/api/grids/{grid.code[:6]}000000000").json()
    assert district["worker_counts"]["total"] == sum(c["workers"] for c in district["children"]) > 0
    assert sum(c["open_cases"] for c in district["children"]) == district["open_cases"] - district["open_cases_direct"]
    assert client.get("/api/grids/not-a-code").status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [(b"", 400), (b"{not json", 400), (b"[1, 2]", 422), (json.dumps(collection([])).encode(), 422)],
)
def test_bad_uploads_are_refused_and_change_nothing(
    server: tuple[ServerThread, Runtime], client: httpx.Client, body: bytes, status: int
) -> None:
    rt = server[1]
    before = rt.city.city
    response = client.put("/api/grids", content=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert rt.city.city is before and rt.dispatcher.index is rt.city.index


def test_an_invalid_map_lists_its_problems_and_nothing_changes(
    server: tuple[ServerThread, Runtime], client: httpx.Client, small_city: City, monkeypatch: pytest.MonkeyPatch
) -> None:
    rt = server[1]
    before, index = rt.city.city, rt.city.index
    doc = city_to_geojson(small_city, levels=("grid",))
    doc["features"][5]["geometry"] = doc["features"][6]["geometry"]  # two grids on one spot
    del doc["features"][9]["properties"]["name"]
    response = client.put("/api/grids", json=doc)
    assert response.status_code == 422
    problems = {(p["feature"], p["kind"]) for p in response.json()["detail"]["problems"]}
    assert {(6, "overlap"), (9, "missing_property")} <= problems
    assert rt.city.city is before and rt.city.index is index and rt.dispatcher.city is before
    assert not (rt.config.server.data_dir / SAVED_MAP).exists()
    officer = server[0].headers(role="officer")
    assert client.put("/api/grids", json=doc, headers=officer).status_code == 403  # re-drawing is for admins
    dry = client.post("/api/grids/validate", json=doc)
    assert dry.status_code == 422 and dry.json()["ok"] is False
    monkeypatch.setattr(rt.config.limits, "map_mb", 0.001)  # read on each request
    assert client.put("/api/grids", json=doc).status_code == 413


def test_redraw_keeps_open_cases_on_their_grid_and_sends_new_ones_to_the_new_map(
    server: tuple[ServerThread, Runtime], client: httpx.Client, small_city: City
) -> None:
    srv, rt = server
    grid = small_city.grids[40]
    community = small_city.areas[grid.parent]
    old_case = wait_case(client, inject(srv, rt, grid.lon, grid.lat, "illegal_parking")["id"])
    assert old_case["grid_code"] == grid.code

    # The community's grids become one: its outline, a hair inside it.
    merged_code = community.code[:12] + "099"
    outline = community.polygon.buffer(-1e-6)
    outline = max(shapely.get_parts(outline), key=lambda p: p.area)
    doc = city_to_geojson(small_city, levels=("grid",))
    doc["features"] = [f for f in doc["features"] if f["properties"]["parent"] != community.code]
    doc["features"].append(feature(merged_code, mapping(outline), parent=community.code))
    response = client.put("/api/grids", json=doc)
    assert response.status_code == 200, response.text
    body = response.json()
    removed = len(small_city.children(community.code))
    assert body["replaced"] and body["grids"] == len(small_city.grids) - removed + 1
    assert body["kept_levels"] == ["city", "district", "street", "community"]
    assert body["open_cases_on_removed_areas"] >= 1 and body["grids_without_workers"] == 1

    assert client.get(f"/api/cases/{old_case['id']}").json()["grid_code"] == grid.code
    new_case = wait_case(client, inject(srv, rt, grid.lon, grid.lat, "dumping")["id"])
    assert new_case["grid_code"] == merged_code and new_case["id"] != old_case["id"]
    assert new_case["assignee"], "dispatched to the street's workers: the new grid has none yet"
    located = client.get("/api/grids/locate", params={"lon": grid.lon, "lat": grid.lat}).json()
    assert located["grid_code"] == merged_code
    assert client.get(f"/api/grids/{grid.code}").status_code == 404
    children = client.get(f"/api/grids/{community.code}").json()["children"]
    assert [(c["code"], c["open_cases"]) for c in children] == [(merged_code, 1)]

    # A restart uses the saved map, workers included.
    restarted = load_city(rt.config)
    assert merged_code in restarted.areas and grid.code not in restarted.areas
    assert len(restarted.workers) == len(small_city.workers)
