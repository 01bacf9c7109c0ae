"""Cameras in the registry (issue 16): a CSV of 500 imported and listed by the API (scoped for a
district admin), bad rows refused with every problem and nothing changed, a camera added,
re-zoned and removed through the API while the server runs (no restart), the change reaching a
second node over the same store within ~2 s, a configured camera hidden by a removal across
restarts, and "test connection" answering a JPEG or 422 fast."""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from command_center.auth.users import Account
from command_center.config import parse_config
from command_center.registry.cameras import effective_cameras
from command_center.store import create_store
from dispatch.city import City
from dispatch.city.codes import significant_digits
from tests.helpers import ServerThread, build_runtime, serve_app

SIM = "sim://street?seed=5"
YAML_CAMERA = "yaml-cam"


def wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def district_of(city: City, which: int = 0) -> str:
    districts = sorted(a.code for a in city.areas.values() if a.level == "district")
    return districts[which][: significant_digits("district")]


def config_for(folder: Path, city: City, store: str | None = None) -> Any:
    grid = city.grids[0]
    yaml_camera = {"id": YAML_CAMERA, "kind": "file", "url": str(folder / "none.mp4"),
                   "location": {"lon": grid.lon, "lat": grid.lat}}  # fmt: skip
    return parse_config({
        "server": {"data_dir": str(folder)}, "store": store or f"sqlite:///{folder / 'cc.db'}",
        "rules": {"dwell_s": 2.0}, "cameras": [yaml_camera],
    })  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, small_city: City) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("cameras")
    rt = build_runtime(config_for(folder, small_city), city=small_city)
    with serve_app(rt) as server:
        rt.auth.users.seed([
            Account("dadmin", "dadmin", "admin", jurisdiction=district_of(small_city, 0)),
            Account("officer", "officer", "officer"),
        ])  # fmt: skip
        yield {"server": server, "rt": rt, "folder": folder, "city": small_city}


def client(server: ServerThread, **who: str | None) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=server.headers(**who), timeout=30)


def sim_camera(cam_id: str, city: City, grid_index: int = 0, **extra: Any) -> dict[str, Any]:
    grid = city.grids[grid_index]
    return {"id": cam_id, "name": f"测试 {cam_id}", "kind": "sim", "url": SIM, "fps": 2,
            "location": {"lon": grid.lon, "lat": grid.lat}, **extra}  # fmt: skip


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "name", "kind", "url", "lon", "lat", "heading", "grid_code"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def import_csv(server: ServerThread, path: Path, **who: str | None) -> httpx.Response:
    with client(server, **who) as http:
        return http.post(f"/api/import/cameras?filename={path.name}", content=path.read_bytes())


def test_500_imported_cameras_are_listed_and_scoped_for_a_district_admin(tmp_path: Path, small_city: City) -> None:
    # A server of its own: its 500 cameras (files that are not there: no frames, no work) stay out of the others'.
    rt = build_runtime(config_for(tmp_path, small_city), city=small_city)
    grids = small_city.grids[:: max(1, len(small_city.grids) // 500)][:500]
    rows = [
        {"id": f"imp-{i:04d}", "name": f"点位 {i}", "kind": "file", "url": str(tmp_path / f"none-{i}.mp4"),
         "lon": g.lon, "lat": g.lat, "heading": i % 360, "grid_code": g.code if i % 2 else ""}
        for i, g in enumerate(grids)
    ]  # fmt: skip
    assert len(rows) == 500
    district = district_of(small_city, 0)
    with serve_app(rt) as server:
        rt.auth.users.seed([Account("dadmin", "dadmin", "admin", jurisdiction=district)])
        started = time.monotonic()
        answer = import_csv(server, write_csv(tmp_path / "cameras.csv", rows))
        took = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"] == {"added": 500, "updated": 0, "unchanged": 0}
        with client(server) as http:
            listed = {c["id"]: c for c in http.get("/api/cameras").json()["items"]}
        assert {r["id"] for r in rows} <= set(listed) and rt.store.count_cameras() == 500
        # Filed under the row's grid, or the grid where it stands (located at import).
        assert all(listed[r["id"]]["grid_code"] == g.code for r, g in zip(rows, grids, strict=True))
        assert listed["imp-0007"]["heading"] == 7
        mine = {r["id"] for r, g in zip(rows, grids, strict=True) if g.code.startswith(district)}
        assert 0 < len(mine) < 500
        with client(server, user="dadmin", jurisdiction=district) as http:
            scoped = {c["id"] for c in http.get("/api/cameras").json()["items"]}
        assert scoped == mine | ({YAML_CAMERA} if small_city.grids[0].code.startswith(district) else set())
        # Importing the same file again changes nothing.
        again = import_csv(server, tmp_path / "cameras.csv").json()
        assert again["counts"] == {"added": 0, "updated": 0, "unchanged": 500} and not again["applied"]
    print(f"500 cameras imported and applied in {took:.2f} s")


def test_bad_rows_are_each_reported_and_nothing_changes(site: dict[str, Any]) -> None:
    city, server, rt = site["city"], site["server"], site["rt"]
    g = city.grids[3]
    rows = [
        {"id": "ok-1", "kind": "sim", "url": SIM, "lon": g.lon, "lat": g.lat, "grid_code": g.code},
        {"id": "bad-scheme", "kind": "rtsp", "url": "http://10.0.0.1/x", "lon": g.lon, "lat": g.lat},
        {"id": "bad-place", "kind": "sim", "url": SIM, "lon": g.lon, "lat": 200},
        {"id": "ok-1", "kind": "sim", "url": SIM, "lon": g.lon, "lat": g.lat},
        {"id": "bad-grid", "kind": "sim", "url": SIM, "lon": g.lon, "lat": g.lat, "grid_code": "440199999999999"},
    ]
    before = rt.store.list_camera_records()
    answer = import_csv(server, write_csv(site["folder"] / "bad.csv", rows))
    assert answer.status_code == 422, answer.text
    problems = answer.json()["detail"]["problems"]
    where = {(p["row"], p["column"]) for p in problems}
    assert {(3, "url"), (4, "lat"), (5, "id"), (6, "grid_code")} <= where, problems
    assert all(p["file"] == "bad.csv" and p["message"] for p in problems)
    assert rt.store.list_camera_records() == before and rt.cameras.config_of("ok-1") is None


def test_a_camera_added_in_the_api_goes_online_without_a_restart(site: dict[str, Any]) -> None:
    server, city, rt = site["server"], site["city"], site["rt"]
    body = sim_camera("api-1", city, 5, heading=90.0, fov_deg=60.0)
    with client(server) as http:
        bad = http.post("/api/cameras", json={**body, "fps": -1, "zones": [{"name": "z", "polygon": [[0, 0]], "rules": ["dwell"]}]})
        assert bad.status_code == 422
        assert {r["loc"] for r in bad.json()["detail"]} >= {"fps", "zones.0.polygon"}
        unknown_rule = http.post("/api/cameras", json={**body, "zones": [{"name": "z", "polygon": [[0, 0], [9, 0], [9, 9]], "rules": ["nope"]}]})
        assert unknown_rule.status_code == 422 and "nope" in unknown_rule.text
        added = http.post("/api/cameras", json=body)
        assert added.status_code == 201, added.text
        assert added.json()["grid_code"] == city.grids[5].code  # filed where it stands
        assert http.post("/api/cameras", json=body).status_code == 409
        wait_for(lambda: http.get("/api/cameras/api-1").json().get("state") == "online", 20, "api-1 online")
        view = http.get("/api/cameras/api-1").json()
    assert view["heading"] == 90 and view["fov_deg"] == 60 and view["grid_code"] == city.grids[5].code
    assert rt.store.get_camera_record("api-1")["updated_by"] == "admin"
    assert any(r["action"] == "camera.add" and r["target"] == "api-1" for r in rt.store.list_audit(limit=50)[0])


def test_the_form_is_offered_only_what_the_configuration_has(site: dict[str, Any]) -> None:
    """GET /api/camera-options lists the models, groups, rules and PTZ kinds; a camera naming a
    model, group or PTZ kind the configuration lacks is refused with 422, naming the field."""
    server, city = site["server"], site["city"]
    with client(server) as http:
        options = http.get("/api/camera-options").json()
        assert [m["name"] for m in options["models"]] == ["default"]
        assert {"overflowing_bin", "fire_lane", "smoke", "zone_intrusion"} <= set(options["rules"])
        assert {"sim", "onvif"} <= set(options["ptz_kinds"])
        body = sim_camera("opt-1", city, 6)
        for extra, loc in (({"models": ["coco"]}, "models.0"), ({"group": "nowhere"}, "group"),
                           ({"ptz": {"kind": "pelco"}}, "ptz.kind")):  # fmt: skip
            refused = http.post("/api/cameras", json={**body, **extra})
            assert refused.status_code == 422, refused.text
            assert [r["loc"] for r in refused.json()["detail"]] == [loc], refused.text
        added = http.post("/api/cameras", json={**body, "models": ["default"], "ptz": {"kind": "sim", "home": "wide"}})
        assert added.status_code == 201, added.text
        assert added.json()["models"] == ["default"] and added.json()["ptz"]["home"] == "wide"
        assert http.delete("/api/cameras/opt-1").status_code == 204
    with client(server, role="worker", worker_id="w1") as phone:
        assert phone.get("/api/camera-options").status_code == 403


def test_patching_zones_changes_the_running_pipelines_rules(site: dict[str, Any]) -> None:
    server, city, rt = site["server"], site["city"], site["rt"]
    with client(server) as http:
        if rt.cameras.config_of("api-2") is None:
            assert http.post("/api/cameras", json=sim_camera("api-2", city, 6)).status_code == 201
        runner = rt.cameras.runners["api-2"]
        assert rt.cameras.pipelines["api-2"].rules == []
        zones = [
            {"name": "路口", "polygon": [[0, 0], [640, 0], [640, 360], [0, 360]], "rules": ["zone_intrusion", "loitering"], "dwell_s": 1},
            {"name": "停车线", "line": [[0, 200], [640, 200]], "rules": ["line_crossing"]},
        ]
        changed = http.patch("/api/cameras/api-2", json={"zones": zones, "thresholds": {"default": 0.5}})
        assert changed.status_code == 200, changed.text
        assert http.patch("/api/cameras/api-2", json={"zones": [{"name": "x", "rules": ["dwell"]}]}).status_code == 422
        config = http.get("/api/cameras/api-2/config").json()
    pipeline = rt.cameras.pipelines["api-2"]
    assert sorted((r.zone, r.name) for r in pipeline.rules) == sorted(
        [("路口", "zone_intrusion"), ("路口", "loitering"), ("停车线", "line_crossing")]
    )
    assert pipeline.thresholds == {"default": 0.5} and rt.cameras.vision.cameras["api-2"][1] is pipeline
    assert rt.cameras.runners["api-2"] is runner  # a zone change does not reconnect the source
    assert [z["name"] for z in config["zones"]] == ["路口", "停车线"]


def test_a_removed_camera_is_gone_and_its_runner_stopped(site: dict[str, Any]) -> None:
    server, city, rt = site["server"], site["city"], site["rt"]
    with client(server) as http:
        assert http.post("/api/cameras", json=sim_camera("api-3", city, 7)).status_code == 201
        runner = rt.cameras.runners["api-3"]
        wait_for(lambda: runner.latest is not None, 20, "a first frame")
        assert http.delete("/api/cameras/api-3").status_code == 204
        assert http.delete("/api/cameras/api-3").status_code == 404
        assert "api-3" not in {c["id"] for c in http.get("/api/cameras").json()["items"]}
        assert http.get("/api/cameras/api-3").status_code == 404
    assert not runner._thread.is_alive()  # noqa: SLF001 (the runner's own thread: stopped, not left running)
    assert rt.cameras.config_of("api-3") is None and rt.store.get_camera_record("api-3")["deleted"]


def test_a_second_node_follows_within_two_seconds_and_a_removal_survives_restarts(site: dict[str, Any]) -> None:
    server, city = site["server"], site["city"]
    other = build_runtime(config_for(site["folder"], city), city=city)  # the same store
    with serve_app(other), client(server) as http:
        started = time.monotonic()
        assert http.post("/api/cameras", json=sim_camera("api-4", city, 8)).status_code == 201
        wait_for(lambda: other.cameras.config_of("api-4") is not None, 2.5, "api-4 on the second node")
        lag = time.monotonic() - started
        assert http.delete(f"/api/cameras/{YAML_CAMERA}").status_code == 204
        wait_for(lambda: other.cameras.config_of(YAML_CAMERA) is None, 2.5, "the configured camera gone there")
    assert YAML_CAMERA not in other.cameras.runners and "api-4" in other.cameras.runners
    # A node started now: the configuration's camera stays hidden, the stored ones run.
    third = build_runtime(config_for(site["folder"], city), city=city)
    assert YAML_CAMERA not in third.cameras.runners and "api-4" in third.cameras.runners
    print(f"the second node had it after {lag:.2f} s")


def test_a_district_admin_manages_only_their_district(site: dict[str, Any]) -> None:
    server, city = site["server"], site["city"]
    district = district_of(city, 0)
    inside = next(i for i, g in enumerate(city.grids) if g.code.startswith(district))
    outside = next(i for i, g in enumerate(city.grids) if not g.code.startswith(district))
    with client(server, user="dadmin", jurisdiction=district) as http:
        assert http.post("/api/cameras", json=sim_camera("far-1", city, outside)).status_code == 403
        assert http.post("/api/cameras", json=sim_camera("near-1", city, inside)).status_code == 201
        assert http.delete("/api/cameras/near-1").status_code == 204
    with client(server) as http:
        assert http.post("/api/cameras", json=sim_camera("far-2", city, outside)).status_code == 201
    with client(server, user="dadmin", jurisdiction=district) as http:
        assert http.patch("/api/cameras/far-2", json={"name": "x"}).status_code == 404
        assert http.delete("/api/cameras/far-2").status_code == 404


def test_config_urls_are_masked_for_non_admins(site: dict[str, Any]) -> None:
    server, city = site["server"], site["city"]
    body = {**sim_camera("cred-1", city, 9), "kind": "rtsp", "url": "rtsp://user:secret@127.0.0.1:9/live"}
    with client(server) as http:
        assert http.post("/api/cameras", json=body).status_code == 201
        assert http.get("/api/cameras/cred-1/config").json()["url"] == body["url"]
    with client(server, role="officer") as http:
        assert http.get("/api/cameras/cred-1/config").json()["url"] == "rtsp://***@127.0.0.1:9/live"
        assert http.post("/api/cameras", json=sim_camera("officer-1", city)).status_code == 403
        assert http.delete("/api/cameras/cred-1").status_code == 403


def test_test_connection_answers_a_jpeg_or_422_fast(site: dict[str, Any]) -> None:
    with client(site["server"]) as http:
        started = time.monotonic()
        refused = http.post("/api/cameras/probe", json={"kind": "rtsp", "url": "rtsp://127.0.0.1:9/none"})
        assert refused.status_code == 422 and refused.json()["error"] == "camera unreachable", refused.text
        assert time.monotonic() - started < 9
        assert http.post("/api/cameras/probe", json={"kind": "rtsp", "url": "http://x/y"}).status_code == 422
        assert http.post("/api/cameras/probe", json={"id": "no-such"}).status_code == 404
        shot = http.post("/api/cameras/probe", json={"kind": "sim", "url": SIM})
    assert shot.status_code == 200, shot.text
    assert shot.headers["content-type"] == "image/jpeg" and shot.content[:2] == b"\xff\xd8"
    width, height = map(int, shot.headers["x-frame-size"].split("x"))
    assert width > 100 and height > 100


def test_camera_records_on_both_stores(empty_store_url: str, small_city: City) -> None:
    store = create_store(empty_store_url)
    try:
        cams = [sim_camera(f"s-{i}", small_city, i) for i in range(3)]
        assert store.upsert_cameras(cams, "admin") == 3
        store.upsert_cameras([{**cams[0], "name": "改名"}], "dadmin")
        store.delete_camera("s-1", "admin", cams[1])
        records = {r["id"]: r for r in store.list_camera_records()}
        assert records["s-0"]["doc"]["name"] == "改名" and records["s-0"]["updated_by"] == "dadmin"
        assert records["s-1"]["deleted"] and not records["s-2"]["deleted"] and store.count_cameras() == 2
        configured = parse_config({"cameras": [sim_camera("s-1", small_city), sim_camera("y", small_city)]}).cameras
        assert [c.id for c in effective_cameras(configured, list(records.values()))] == ["y", "s-0", "s-2"]
    finally:
        store.close()


def test_a_removed_camera_answers_404_on_every_camera_route(site: dict[str, Any]) -> None:
    """Its views, WebRTC publish and view, and telemetry: each knew it while it ran, and each
    answers 404 after the removal (not a 500 from a lookup that assumed it was still there)."""
    server, city = site["server"], site["city"]
    grid = city.grids[10]
    body = {"id": "gone-1", "kind": "whip", "url": "whip://gone-1", "mobile": True,
            "location": {"lon": grid.lon, "lat": grid.lat}}  # fmt: skip
    sdp = {"Content-Type": "application/sdp"}
    with client(server) as http:
        assert http.post("/api/cameras", json=body).status_code == 201
        key = http.post("/api/publish-keys", json={"name": "gone", "stream": "gone-1"}).json()["token"]

        def live() -> int:  # its status only: a running view's body never ends
            with http.stream("GET", "/api/cameras/gone-1/live.mjpg") as answer:
                return answer.status_code

        def answers() -> list[int]:
            device = {"Authorization": f"Bearer {key}"}
            return [
                http.get("/api/cameras/gone-1").status_code,
                http.get("/api/cameras/gone-1/config").status_code,
                http.get("/api/cameras/gone-1/snapshot.jpg").status_code,
                live(),
                http.post("/whep/gone-1", content=b"v=0", headers=sdp).status_code,
                http.post("/whip/gone-1", content=b"v=0", headers=sdp).status_code,
                http.post("/whip/gone-1", content=b"v=0", headers={**sdp, **device}).status_code,
                http.post("/api/drones/gone-1/telemetry", json={"lat": grid.lat, "lon": grid.lon}).status_code,
                http.post("/api/drones/gone-1/telemetry", json={"lat": grid.lat, "lon": grid.lon}, headers=device).status_code,
            ]  # fmt: skip

        # Known while it runs: no frame yet (404), a bad offer (400), its position taken (200).
        running = answers()
        assert running[:4] == [200, 200, 404, 200] and running[4:7] == [400, 400, 400], running
        assert running[7:] == [200, 200], running
        assert http.delete("/api/cameras/gone-1").status_code == 204
        assert answers() == [404] * 9
        assert http.post("/api/cameras/probe", json={"id": "gone-1"}).status_code == 404
