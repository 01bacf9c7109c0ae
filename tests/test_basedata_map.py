"""The wall's building layer: store/basedata_map.py (buildings in a box with their household
count and overdue flag, computed by the database, on both databases) and
GET /api/basedata/map against a real server on SQLite (the bbox filter, scoping by
jurisdiction and by a worker's grids, `truncated`, and 400s for bad boxes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from basedata.model import Building, Household
from basedata.protect import FieldCipher, FieldKey
from basedata.sample import SampleSpec, generate
from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store import Store, create_store
from command_center.store.basedata_map import BBox, buildings_in
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app

TODAY = date.today()
G1, G2, G3 = "440106001001001", "440106001001002", "440107001001001"
EVERYWHERE = BBox(-180, -90, 180, 90)


# the store, on both databases
def _building(code: str, grid: str, lon: float, lat: float, next_check: date | None) -> Building:
    return Building(code=code, address_code=f"A{code}", name=f"楼{code}", floors=3, lon=lon, lat=lat,
                    grid_code=grid, next_check_at=next_check)  # fmt: skip


def _household(building: str, room: str, grid: str, next_check: date | None) -> Household:
    return Household(id=f"{building}-{room}", building_code=building, room=room, grid_code=grid,
                     next_check_at=next_check, kind="rental")  # fmt: skip


@pytest.fixture
def store(empty_store_url: str) -> Iterator[Store]:
    opened = create_store(empty_store_url)
    yield opened
    opened.close()


def test_buildings_in_a_box_with_households_and_overdue_checks(store: Store) -> None:
    records = base_data_store(store)
    later, past = TODAY + timedelta(days=30), TODAY - timedelta(days=1)
    records.upsert("building", [
        _building("B1", G1, 113.30, 23.10, later),  # on time, one household overdue
        _building("B2", G1, 113.31, 23.11, later),  # on time, households on time
        _building("B3", G1, 113.32, 23.12, past),   # itself overdue, no households
        _building("B4", G2, 113.30, 23.10, None),   # never checked: overdue
        _building("B5", G3, 113.50, 23.30, later),  # outside the small box below
    ], "t")  # fmt: skip
    records.upsert("household", [
        _household("B1", "101", G1, later), _household("B1", "102", G1, past), _household("B1", "103", G1, later),
        _household("B2", "101", G1, later), _household("B2", "102", G1, TODAY),  # due today: not yet overdue
        _household("B9", "101", G1, past),  # a household of a building not stored: counted nowhere
    ], "t")  # fmt: skip
    found, more = buildings_in(records, EVERYWHERE, "", 100, TODAY)
    assert not more
    shown = {b.code: (b.households, b.overdue, b.grid_code) for b in found}
    assert shown == {"B1": (3, True, G1), "B2": (2, False, G1), "B3": (0, True, G1),
                     "B4": (0, True, G2), "B5": (0, False, G3)}  # fmt: skip
    assert [b.code for b in found] == ["B1", "B2", "B3", "B4", "B5"]
    assert found[0].name == "楼B1" and found[0].rental is False and found[0].lon == pytest.approx(113.30)
    # the box: edges included, a building just outside left out
    box = BBox(113.30, 23.10, 113.31, 23.11)
    assert [b.code for b in buildings_in(records, box, "", 100, TODAY)[0]] == ["B1", "B2", "B4"]
    # the grid prefix
    assert [b.code for b in buildings_in(records, box, G1, 100, TODAY)[0]] == ["B1", "B2"]
    assert [b.code for b in buildings_in(records, EVERYWHERE, "440107", 100, TODAY)[0]] == ["B5"]
    # the cap: the first by code, and the box holds more
    capped, more = buildings_in(records, EVERYWHERE, "", 2, TODAY)
    assert [b.code for b in capped] == ["B1", "B2"] and more
    exact, more = buildings_in(records, EVERYWHERE, "", 5, TODAY)
    assert len(exact) == 5 and not more
    # a day later B2's household due today is overdue too
    assert {
        b.code: b.overdue for b in buildings_in(records, EVERYWHERE, G1, 100, TODAY + timedelta(days=1))[0]
    }["B2"]


def test_a_box_must_be_a_box() -> None:
    for west, south, east, north in (
        (1, 0, 1, 1),
        (2, 0, 1, 1),
        (0, 1, 1, 1),
        (-181, 0, 1, 1),
        (0, 0, 1, 91),
    ):
        with pytest.raises(ValueError, match="west < east"):
            BBox(west, south, east, north)


# the API, on SQLite
@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    mine: str  # the worker's grid (district 440103)
    other: str  # another grid of 440103
    far: str  # a grid of district 440104
    worker: str

    def get(self, path: str, **who: str | None) -> httpx.Response:
        return httpx.get(self.srv.url + path, headers=self.srv.headers(**who), timeout=10)

    def map(self, bbox: str, extra: str = "", **who: str | None) -> dict[str, Any]:
        res = self.get(f"/api/basedata/map?bbox={bbox}{extra}", **who)
        assert res.status_code == 200, res.text
        body: dict[str, Any] = res.json()
        return body


OFFICER = {"role": "officer", "user": "officer-city"}
DISTRICT = {"role": "officer", "user": "officer-440104", "jurisdiction": "440104"}
ALL = "-180,-90,180,90"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("basedata-map")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    mine = worker.grid_code
    other = next(g.code for g in small_city.grids if g.code.startswith("440103") and g.code != mine)
    far = next(g.code for g in small_city.grids if g.code.startswith("440104"))
    areas = small_city.areas
    cipher = FieldCipher(FieldKey.generate(data / "keys" / "basedata.key"))
    spec = SampleSpec(people=240, seed=5, as_of=TODAY, overdue_share=0.3, radius_m=150)
    grids = [(g, areas[g].lon, areas[g].lat) for g in (mine, other, far)]
    base_data_store(rt.store).upsert_mixed(generate(grids, spec, cipher), by="test")
    with serve_app(rt) as srv:
        yield World(srv, rt, mine, other, far, worker.id)


def _stored(world: World) -> list[Building]:
    found = base_data_store(world.rt.store).list("building", "", limit=10_000)
    return [b for b in found if isinstance(b, Building)]


def _box_around(world: World, grid: str, margin: float = 0.004) -> str:
    area = world.rt.city.city.areas[grid]
    return f"{area.lon - margin},{area.lat - margin},{area.lon + margin},{area.lat + margin}"


def test_the_box_filters_and_each_point_carries_its_counts(world: World) -> None:
    every = world.map(ALL, **OFFICER)
    stored = _stored(world)
    assert every["type"] == "FeatureCollection" and every["truncated"] is False and every["limit"] == 5000
    assert sorted(f["properties"]["code"] for f in every["features"]) == sorted(b.code for b in stored)
    box = _box_around(world, world.mine)
    west, south, east, north = (float(v) for v in box.split(","))
    inside = sorted(b.code for b in stored if west <= b.lon <= east and south <= b.lat <= north)
    shown = world.map(box, **OFFICER)
    assert sorted(f["properties"]["code"] for f in shown["features"]) == inside and inside
    assert shown["bbox"] == [west, south, east, north]
    # each point: where the building stands, its households and whether anything is overdue
    records = base_data_store(world.rt.store)
    households = records.list("household", "", limit=10_000)
    for feature in every["features"]:
        props = feature["properties"]
        building = next(b for b in stored if b.code == props["code"])
        assert feature["geometry"] == {"type": "Point", "coordinates": [building.lon, building.lat]}
        mine = [h for h in households if getattr(h, "building_code", None) == building.code]
        assert props["households"] == len(mine) > 0
        late = [r for r in (building, *mine) if r.next_check_at is None or r.next_check_at < TODAY]
        assert props["overdue"] is bool(late)
        assert props["rental"] is building.rental and props["use"] == building.use
    overdue = [f for f in every["features"] if f["properties"]["overdue"]]
    assert 0 < len(overdue) < len(every["features"])  # the sample has both


def test_scoped_to_the_jurisdiction_and_to_a_workers_grids(world: World) -> None:
    district = world.map(ALL, **DISTRICT)
    assert {f["properties"]["grid_code"] for f in district["features"]} == {world.far}
    refused = world.get(f"/api/basedata/map?bbox={ALL}&area=440103", **DISTRICT)
    assert refused.status_code == 403 and "440104" in refused.text
    narrowed = world.map(ALL, "&area=440103", **OFFICER)
    assert {f["properties"]["grid_code"] for f in narrowed["features"]} == {world.mine, world.other}
    worker = world.map(ALL, role="worker", worker_id=world.worker)
    assert {f["properties"]["grid_code"] for f in worker["features"]} == {world.mine}
    assert httpx.get(f"{world.srv.url}/api/basedata/map?bbox={ALL}", timeout=10).status_code == 401
    assert world.get(f"/api/basedata/map?bbox={ALL}", role="emergency").status_code == 403


def test_capped_at_the_limit_and_says_so(world: World) -> None:
    total = len(world.map(ALL, **OFFICER)["features"])
    capped = world.map(ALL, "&limit=3", **OFFICER)
    codes = [f["properties"]["code"] for f in capped["features"]]
    assert capped["truncated"] is True and capped["limit"] == 3
    assert codes == sorted(b.code for b in _stored(world))[:3]
    exact = world.map(ALL, f"&limit={total}", **OFFICER)
    assert exact["truncated"] is False and len(exact["features"]) == total


@pytest.mark.parametrize(
    "query",
    [
        "",
        "bbox=",
        "bbox=1,2,3",
        "bbox=1,2,3,4,5",
        "bbox=a,b,c,d",
        "bbox=113.3,23.2,113.2,23.3",
        "bbox=113.2,23.3,113.3,23.2",
        "bbox=-190,0,10,10",
        "bbox=0,0,10,95",
        "bbox=nan,0,1,1",
        "bbox=0,0,inf,1",
        "bbox=" + "1" * 300 + ",0,2,1",
        "bbox=0,0,1,1&limit=0",
        "bbox=0,0,1,1&limit=5001",
        "bbox=0,0,1,1&area=44x",
    ],
)
def test_bad_queries_are_400_with_a_reason(world: World, query: str) -> None:
    res = world.get(f"/api/basedata/map?{query}", **OFFICER)
    assert res.status_code == 400, (query, res.text)
    body = res.json()
    assert body["error"].startswith("bad query parameter") and body["detail"]


def test_the_description_has_the_map(world: World) -> None:
    spec = world.get("/api/openapi.json").json()
    operation = spec["paths"]["/api/basedata/map"]["get"]
    assert operation["operationId"] == "baseDataBuildingMap"
    assert {p.get("name") for p in operation["parameters"]} >= {"bbox", "limit"}
