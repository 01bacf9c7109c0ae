"""The device registry's API (api/devices.py) on a real server: admins manage, staff read
their jurisdiction, a grid worker reads only their own grids' devices; every bad input a 4xx
with its reason; a device's page carries its recent readings; counts per area."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.device_records import device_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app


@dataclass
class World:
    srv: ServerThread
    rt: Runtime
    worker: str
    mine: str  # the worker's grid
    far: str  # a grid of the other district

    def send(self, method: str, path: str, body: Any = None, **who: str | None) -> httpx.Response:
        return httpx.request(
            method, self.srv.url + path, json=body, headers=self.srv.headers(**who), timeout=10
        )

    def as_worker(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.send(method, path, body, role="worker", worker_id=self.worker)

    def point(self, grid: str) -> dict[str, float]:
        area = self.rt.city.city.areas[grid]
        return {"lon": area.lon, "lat": area.lat}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[World]:
    data = tmp_path_factory.mktemp("devices")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    worker = small_city.workers[0]
    far = next(g.code for g in small_city.grids if g.code[:6] != worker.grid_code[:6])
    with serve_app(rt) as srv:
        yield World(srv, rt, worker.id, worker.grid_code, far)


def _add(world: World, did: str, grid: str, kind: str = "smoke", **more: Any) -> dict[str, Any]:
    made = world.send(
        "POST", "/api/devices", {"id": did, "name": f"设备{did}", "kind": kind, **world.point(grid), **more}
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def test_an_admin_adds_with_the_grid_from_the_point_and_names_not_ids(world: World) -> None:
    made = _add(
        world,
        "SMK-A1",
        world.mine,
        "烟感",
        heartbeat_s=600,
        thresholds={"overrides": {"battery_low": {"low": 0.2, "high": 0.3}}},
    )
    grid = world.rt.city.city.areas[world.mine]
    assert made["grid_code"] == world.mine and made["grid_name"] == grid.name and made["kind"] == "smoke"
    assert (made["state"], made["version"], made["heartbeat_window_s"], made["last_seen"]) == (
        "offline",
        1,
        600,
        None,
    )
    again = world.send("POST", "/api/devices", {"id": "SMK-A1", "kind": "gas", **world.point(world.mine)})
    assert again.status_code == 409
    assert world.rt.store.list_audit(action="device.add")[0][0]["target"] == "SMK-A1"


def test_who_reads_what(world: World) -> None:
    _add(world, "MINE-1", world.mine, "door")
    _add(world, "FAR-1", world.far, "gas")
    listed = world.as_worker("GET", "/api/devices").json()
    assert {d["grid_code"] for d in listed["items"]} == {world.mine} and "FAR-1" not in {
        d["id"] for d in listed["items"]
    }
    assert world.as_worker("GET", "/api/devices/FAR-1").status_code == 404  # as if missing
    assert world.as_worker("GET", "/api/devices/MINE-1").status_code == 200
    assert world.as_worker("GET", f"/api/devices?area={world.far[:6]}").status_code == 403
    district = {"role": "officer", "user": "o-far", "jurisdiction": world.far[:6]}
    seen = world.send("GET", "/api/devices", **district).json()["items"]
    assert [d["id"] for d in seen] == ["FAR-1"]
    assert world.send("GET", "/api/devices/MINE-1", **district).status_code == 404
    city = world.send("GET", "/api/devices?kind=gas", role="officer", user="o-city").json()
    assert [d["id"] for d in city["items"]] == ["FAR-1"] and city["total"] == 1
    # writes: admins only, and a district admin only inside the district
    body = {"id": "X-1", "kind": "door", **world.point(world.mine)}
    assert world.send("POST", "/api/devices", body, **district).status_code == 403
    assert world.as_worker("DELETE", "/api/devices/MINE-1").status_code == 403
    far_admin = {"role": "admin", "user": "a-far", "jurisdiction": world.far[:6]}
    refused = world.send("POST", "/api/devices", body, **far_admin)
    assert refused.status_code == 403 and "outside your area" in refused.json()["detail"]
    assert (
        world.send("PATCH", "/api/devices/MINE-1", {"version": 1, "name": "x"}, **far_admin).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"kind": "radar"}, 422, "kind"),
        ({"lon": "east"}, 422, "lon"),
        ({"lon": 0, "lat": 0}, 422, "lon"),  # in no grid of the map
        ({"grid_code": "440199999999999"}, 422, "grid_code"),
        ({"colour": "red"}, 422, "colour"),
        ({"id": "a/b"}, 422, "id"),
        ({"heartbeat_s": 1}, 422, "heartbeat_s"),
        ({"thresholds": {"overrides": {"smoke": {"high": 1}}}}, 422, "thresholds"),  # a combination
        ({"thresholds": {"smoke": "high"}}, 422, "thresholds"),
    ],
)
def test_a_bad_form_is_422_naming_the_field(
    world: World, body: dict[str, Any], status: int, field: str
) -> None:
    form = {"id": "BAD-1", "kind": "smoke", **world.point(world.mine)} | body
    answer = world.send("POST", "/api/devices", form)
    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]["field"].startswith(field), answer.text


def test_bad_queries_are_400_and_unknown_ids_404(world: World) -> None:
    for query in ("state=burning", "kind=radar", "limit=0", "area=44x", f"q={'x' * 65}"):
        answer = world.send("GET", f"/api/devices?{query}")
        assert answer.status_code == 400, (query, answer.text)
    assert world.send("GET", "/api/devices/nope").status_code == 404
    assert world.send("DELETE", "/api/devices/nope").status_code == 404
    assert world.send("POST", "/api/devices", [1, 2]).status_code in (400, 422)


def test_change_on_the_version_read_and_retire(world: World) -> None:
    made = _add(world, "EDIT-1", world.mine, "water_level")
    path = "/api/devices/EDIT-1"
    assert world.send("PATCH", path, {"name": "x"}).json()["detail"]["field"] == "version"
    assert world.send("PATCH", path, {"version": 1}).status_code == 422  # nothing to change
    assert world.send("PATCH", path, {"version": 1, "id": "other"}).json()["detail"]["field"] == "id"
    moved = world.send("PATCH", path, {"version": 1, **world.point(world.far), "address": "隧道口"})
    assert (
        moved.status_code == 200 and moved.json()["grid_code"] == world.far and moved.json()["version"] == 2
    )
    stale = world.send("PATCH", path, {"version": 1, "name": "y"})
    assert stale.status_code == 409 and stale.json()["detail"]["current"]["address"] == "隧道口"
    assert made["version"] == 1
    assert world.send("DELETE", path).json() == {"id": "EDIT-1", "retired": True}
    assert world.send("GET", path).status_code == 404
    assert "EDIT-1" not in {d["id"] for d in world.send("GET", "/api/devices?limit=1000").json()["items"]}


def test_a_device_page_carries_its_recent_readings(world: World) -> None:
    _add(world, "READ-1", world.mine, "smoke")
    t0 = datetime(2026, 3, 10, 8, tzinfo=UTC)
    records = device_store(world.rt.store)
    records.add_readings([("READ-1", t0 + timedelta(seconds=i), "smoke", i / 10) for i in range(70)])
    records.add_readings([("READ-1", t0, "temp_c", 21.5)])
    records.touch("READ-1", t0 + timedelta(seconds=69), battery=0.8, signal=-90)
    page = world.as_worker("GET", "/api/devices/READ-1").json()
    assert sorted(page["readings"]) == ["smoke", "temp_c"] and len(page["readings"]["smoke"]) == 60
    assert page["readings"]["smoke"][-1]["value"] == pytest.approx(6.9) and page["state"] == "online"
    assert (page["battery"], page["signal"]) == (0.8, -90)


def test_the_summary_counts_by_state_per_area(world: World) -> None:
    _add(world, "SUM-1", world.mine, "bin_fill")
    device_store(world.rt.store).set_state("SUM-1", "alarm")
    city = world.send("GET", "/api/devices/summary").json()
    districts = {i["area"]: i for i in city["items"]}
    mine = districts[world.mine[:6].ljust(15, "0")]
    assert mine["alarm"] >= 1 and mine["name"] == world.rt.city.city.areas[world.mine[:6].ljust(15, "0")].name
    assert city["totals"]["total"] == sum(i["total"] for i in city["items"])
    street = world.send("GET", f"/api/devices/summary?area={world.mine[:6]}").json()
    assert all(len(i["area"].rstrip("0")) <= 9 for i in street["items"])
    assert {i["area"][:9] for i in street["items"]} >= {world.mine[:9]}
    own = world.as_worker("GET", "/api/devices/summary").json()
    assert [i["area"] for i in own["items"]] == [world.mine] and own["items"][0]["alarm"] == 1
    assert world.send("GET", f"/api/devices/summary?area={world.mine[:6]}", role="officer", user="o2",
                      jurisdiction=world.far[:6]).status_code == 403  # fmt: skip
