"""New standard addresses and buildings from a grid worker's form (POST /api/basedata/{kind},
the terminal's 新增地址 / 新增楼栋): made in the worker's own grid, once per client id; another
grid is refused with 403 naming it and nothing is stored; a building code the importer would
refuse is refused here too (422 naming the field)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from command_center.config import parse_config
from command_center.store.basedata_records import base_data_store
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Any, Any]]:
    data = tmp_path_factory.mktemp("collect-new")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt, small_city.workers[0]


def test_a_worker_adds_an_address_and_a_building_in_their_grid_once(server: tuple[ServerThread, Any, Any]) -> None:
    srv, rt, worker = server
    who = srv.headers(role="worker", worker_id=worker.id)
    area = rt.city.city.areas[worker.grid_code]
    here = {"lon": area.lon, "lat": area.lat}
    other = next(g.code for g in rt.city.city.grids if g.code != worker.grid_code and g.code[:6] != worker.grid_code[:6])
    records = base_data_store(rt.store)

    def post(kind: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{srv.url}/api/basedata/{kind}", json=body, headers=who, timeout=10)

    refused = post("addresses", {"code": "A-ELSE-1", "text": "别处路1号", "grid_code": other, **here})
    assert refused.status_code == 403 and other in refused.text, refused.text
    assert records.get("address", "A-ELSE-1") is None
    address = {"code": "A-NEW-1", "text": "天河区新路1号", "grid_code": worker.grid_code, **here, "client_id": "form-address-1"}
    assert [post("addresses", address).status_code for _ in range(2)] == [201, 200]  # sent once
    building = {"code": "B-NEW-1", "address_code": "A-NEW-1", "name": "新楼", "floors": 7, "use": "residential",
                "rental": True, "grid_code": worker.grid_code, **here, "client_id": "form-building-1"}  # fmt: skip
    bad = post("buildings", building | {"code": "楼 1", "client_id": "form-building-0"})
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "code", bad.text
    elsewhere = post("buildings", building | {"grid_code": other, "client_id": "form-building-2"})
    assert elsewhere.status_code == 403 and other in elsewhere.text
    first, again = post("buildings", building), post("buildings", building)
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["resent"] is True
    made = records.get("building", "B-NEW-1")
    assert made is not None and made.grid_code == worker.grid_code and made.source == "collect"
    creates = [r["target"] for r in rt.store.iter_audit() if r["action"] == "basedata.create"]
    assert creates.count("A-NEW-1") == 1 and creates.count("B-NEW-1") == 1 and "A-ELSE-1" not in creates
