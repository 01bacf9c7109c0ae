"""The HTTP API on a real server: resources, and bad input answered with a clear 4xx."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from command_center.config import parse_config
from command_center.runtime import Runtime
from dispatch.city import City
from tests.helpers import ServerThread, build_runtime, serve_app
from vision.evidence import snapshot
from vision.incident import Incident


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[tuple[ServerThread, Runtime]]:
    data = tmp_path_factory.mktemp("api")
    config = parse_config({"server": {"data_dir": str(data)}, "store": f"sqlite:///{data / 'cc.db'}"})
    rt = build_runtime(config, city=small_city)
    with serve_app(rt) as srv:
        yield srv, rt


def inject(srv: ServerThread, rt: Runtime, lon: float, lat: float, rule: str = "illegal_parking") -> dict:
    image = np.zeros((120, 160, 3), np.uint8)
    incident = Incident(
        camera_id="cam-test", ts=time.time(), rule=rule, zone="z", label="vehicle", score=0.9,
        box=(10, 10, 60, 40), lon=lon, lat=lat, track_id=1, snapshot_jpeg=snapshot(image, (10, 10, 60, 40), "t"),
    )
    return srv.run(rt.recorder.record(incident))  # type: ignore[return-value]


def wait_case(client: httpx.Client, incident_id: str) -> dict:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        incident = client.get(f"/api/incidents/{incident_id}").json()
        if incident.get("case_id"):
            return client.get(f"/api/cases/{incident['case_id']}").json()
        time.sleep(0.05)
    raise AssertionError("no case for the incident")


@pytest.fixture
def client(server: tuple[ServerThread, Runtime]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0].url, timeout=10, headers=server[0].headers()) as c:
        yield c


def test_health_and_metrics(client: httpx.Client) -> None:
    assert client.get("/api/health").json()["status"] == "ok"
    assert "cc_hub_clients" in client.get("/metrics").text


def test_incident_becomes_a_case_with_its_grid(server, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, rt = server
    grid = small_city.grids[5]
    doc = inject(srv, rt, grid.lon, grid.lat)
    assert doc["grid_code"] == grid.code
    assert client.get(doc["snapshot_url"]).headers["content-type"] == "image/jpeg"
    case = wait_case(client, doc["id"])
    assert case["grid_code"] == grid.code and case["state"] == "dispatched"
    assert case["incident_ids"] == [doc["id"]] and case["assignee"]
    listed = client.get("/api/cases", params={"assignee": case["assignee"]}).json()
    assert case["id"] in [c["id"] for c in listed["items"]]


def test_case_actions_and_their_errors(server, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, rt = server
    grid = small_city.grids[40]
    case = wait_case(client, inject(srv, rt, grid.lon, grid.lat, rule="fire")["id"])
    url = f"/api/cases/{case['id']}"

    bad_json = client.post(f"{url}/accept", content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "malformed JSON"

    unknown = client.post(f"{url}/teleport", json={})
    assert unknown.status_code == 404 and "accept" in unknown.json()["detail"]["known"]

    invalid = client.post(f"{url}/close", json={"actor": "officer"})
    assert invalid.status_code == 409
    assert invalid.json()["detail"] == {"state": "dispatched", "action": "close", "allowed": ["accept", "escalate", "merge", "reassign", "reclassify", "cancel"]}

    assert client.post(f"{url}/accept", json={"actor": case["assignee"]}).json()["state"] == "accepted"
    assert client.post(f"{url}/accept", json={"actor": "someone-else"}).status_code == 409
    assert client.post(f"{url}/feedback", json={"actor": case["assignee"]}).status_code == 400  # needs a note
    done = client.post(f"{url}/feedback", json={"actor": case["assignee"], "note": "extinguished"}).json()
    assert done["state"] == "feedback"
    # The feedback was recorded by the admin (for the worker): another user makes the check.
    closed = client.post(f"{url}/close", json={"note": "ok"}, headers=srv.headers(role="officer")).json()
    assert closed["state"] == "closed"
    assert [e["action"] for e in closed["timeline"]] == ["report", "register", "dispatch", "accept", "feedback", "close"]

    assert client.post("/api/cases/C-missing/accept", json={}).status_code == 404
    assert client.post(f"{url}/merge", json={}).status_code == 400
    assert client.post(f"{url}/accept", json=["a", "list"]).status_code == 400
    assert client.post(f"{url}/accept", json={"actor": 5}).status_code == 400


def test_incident_ack_and_dismiss(server, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, rt = server
    grid = small_city.grids[60]
    doc = inject(srv, rt, grid.lon, grid.lat, rule="crowding")
    acked = client.post(f"/api/incidents/{doc['id']}/ack", json={"actor": "officer"})
    assert acked.json()["state"] == "acked"
    again = client.post(f"/api/incidents/{doc['id']}/dismiss")
    assert again.status_code == 409 and again.json()["detail"] == {"state": "acked"}
    assert client.post("/api/incidents/nope/ack").status_code == 404


def test_grids_locate_and_area(client: httpx.Client, small_city: City) -> None:
    grid = small_city.grids[3]
    located = client.get("/api/grids/locate", params={"lon": grid.lon, "lat": grid.lat}).json()
    assert located["grid_code"] == grid.code
    assert [p["level"] for p in located["path"]] == ["city", "district", "street", "community", "grid"]
    area = client.get(f"/api/grids/{grid.parent}").json()
    assert grid.code in [c["code"] for c in area["children"]]
    assert client.get(f"/api/grids/{grid.code}").json()["workers"]
    assert client.get("/api/grids/locate", params={"lon": "east", "lat": 23}).status_code == 400
    assert client.get("/api/grids/locate", params={"lon": 113.3}).status_code == 400
    assert client.get("/api/grids/locate", params={"lon": 500, "lat": 23}).status_code == 400
    assert client.get("/api/grids/999").status_code == 404


@pytest.mark.parametrize(
    "path",
    ["/api/cases?limit=abc", "/api/cases?limit=0", "/api/cases?state=flying", "/api/cases?grid=abc",
     "/api/incidents?state=x", "/api/incidents?offset=-1"],
)
def test_bad_query_parameters_are_400(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_pages_are_served(client: httpx.Client) -> None:
    for path in ("/wall", "/terminal"):
        response = client.get(path)
        assert response.status_code == 200 and "<html" in response.text.lower()
    assert client.get("/ui/common/live.js").status_code == 200
    assert client.get("/nope").status_code == 404


def test_unknown_camera_is_404(client: httpx.Client) -> None:
    assert client.get("/api/cameras/none").status_code == 404
    assert client.get("/api/cameras").json() == {"items": [], "total": 0}


def test_kpi_endpoint(server, client: httpx.Client, small_city: City) -> None:  # noqa: ANN001
    srv, rt = server
    grid = small_city.grids[80]
    case = wait_case(client, inject(srv, rt, grid.lon, grid.lat, rule="stall")["id"])
    rows = client.get("/api/kpi", params={"group": "grid"}).json()["items"]
    row = next(r for r in rows if r["key"] == case["grid_code"])
    assert row["cases"] >= 1 and row["closed"] == 0 and row["closure_rate"] == 0.0
    csv_text = client.get("/api/kpi", params={"group": "district", "format": "csv"})
    assert csv_text.headers["content-type"].startswith("text/csv") and csv_text.text.startswith("key,")
    for bad in ({"group": "planet"}, {"format": "xml"}, {"from": "yesterday"}):
        response = client.get("/api/kpi", params=bad)
        assert response.status_code == 400 and response.json()["error"]
