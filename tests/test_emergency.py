"""Emergency mode: raised sensing near the incident and its exact restore, plan tasks and
the shared timeline, the `emergency` channel, CAP 1.2 export, durability, roles."""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import xmlschema

from command_center.config import Config, ConfigError, parse_config
from command_center.emergency.plans import CLASSES, load_plans
from command_center.emergency.sensing import Sensing, Want
from command_center.emergency.service import EVENT_KEYS, distance_m
from command_center.runtime import Runtime
from dispatch.city import City
from streams.base import Frame
from tests.helpers import ROOT, build_runtime, serve_app
from vision.detectors.base import Detection
from vision.evidence import snapshot
from vision.incident import Incident
from vision.pipeline import CameraPipeline, VisionWorker

CAP_XSD = Path(__file__).parent / "data" / "cap12.xsd"
PLANS = load_plans(ROOT / "configs" / "plans.yaml")


@pytest.fixture(scope="module")
def cap_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(CAP_XSD)
# The detector's thresholds: each camera's incidents keep them as its bar (camera_status.py).
CONFIGURED = {"default": 0.4, "fire": 0.3}


def far_grid(city: City, lon: float, lat: float) -> Any:
    return max(city.grids, key=lambda g: distance_m(lon, lat, g.lon, g.lat))


def make_config(tmp_path: Path, city: City) -> Config:
    near, far = city.grids[9], far_grid(city, city.grids[9].lon, city.grids[9].lat)
    cam = {"kind": "sim", "url": "sim://street?seed=4&width=64&height=64", "fps": 1}
    return parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "detector": {"backend": "motion", "thresholds": CONFIGURED},
            "cameras": [
                {**cam, "id": "cam-near", "location": {"lon": near.lon + 0.001, "lat": near.lat}},
                {**cam, "id": "cam-far", "location": {"lon": far.lon, "lat": far.lat}},
                {**cam, "id": "drone-01", "location": {"lon": far.lon, "lat": far.lat}},
            ],
        }
    )


def sensing_of(rt: Runtime) -> dict[str, Any]:
    return {cam: (fps, pipe.thresholds) for cam, (_, pipe, fps) in rt.cameras.vision.cameras.items()}


def recv_type(conn: Any, type_: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = json.loads(conn.recv(timeout=max(0.01, deadline - time.monotonic())))
        if msg.get("type") == type_:
            return msg


def test_plans_cover_the_four_classes_and_errors_name_file_and_key(tmp_path: Path) -> None:
    assert all(PLANS.get(cls).tasks for cls in CLASSES)
    lowered = PLANS.accident.lowered({"default": 0.4, "fire": 0.3})
    assert lowered["default"] == pytest.approx(0.3) and lowered["fire"] == 0.2  # the absolute cap wins
    assert all(v <= 0.4 for v in PLANS.get("public_health").lowered({"default": 0.4}).values())
    bad = tmp_path / "plans.yaml"
    raw = (ROOT / "configs" / "plans.yaml").read_text(encoding="utf-8")
    bad.write_text(raw.replace("  accident:", "  accidents:").replace("radius_m: 2000", "radius_m: -1"), "utf-8")
    with pytest.raises(ConfigError) as err:
        parse_config({"plans": str(bad)})
    text = "\n".join(err.value.errors)
    assert f"{bad}: plans.accident:" in text  # missing
    assert f"{bad}: plans.accidents:" in text  # unknown key
    assert f"{bad}: plans.natural_disaster.radius_m:" in text


def test_pipeline_thresholds_filter_detections() -> None:
    class Fixed:
        labels = ("person",)

        def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
            return [Detection("person", 0.3, (1, 1, 10, 10)), Detection("fire", 0.3, (20, 20, 30, 30))]

    pipe = CameraPipeline("cam", Fixed(), [], (0, 0))  # type: ignore[arg-type]
    frame = Frame(np.zeros((48, 64, 3), np.uint8), 0.0, 0, time.time())
    pipe.process(frame)
    assert pipe.annotated is not None and len(pipe.annotated.detections) == 2  # None: the detector's own
    pipe.thresholds = {"default": 0.35, "fire": 0.25}
    pipe.process(frame)
    assert [d.label for d in pipe.annotated.detections] == ["fire"]


def test_sensing_lowers_the_shared_detector_floor_and_restores_it() -> None:
    class Thresholded:
        labels = ("person", "fire")
        class_labels = ["person", "fire"]
        thresholds = np.array([0.4, 0.3], np.float32)

    det = Thresholded()
    pipes = {c: CameraPipeline(c, det, [], (0, 0)) for c in ("a", "b")}  # type: ignore[arg-type]
    vision = VisionWorker({c: (None, p, 2.0) for c, p in pipes.items()}, lambda _i: None)  # type: ignore[misc]
    sensing = Sensing(vision, {"default": 0.4, "fire": 0.3})
    wants = Sensing.merge(
        [{"a": Want(5.0, {"default": 0.3, "fire": 0.2})}, {"a": Want(8.0, {"default": 0.35, "fire": 0.1})}]
    )
    sensing.apply(wants)
    assert vision.cameras["a"][2] == 8.0 and pipes["a"].thresholds == {"default": 0.3, "fire": 0.1}
    assert det.thresholds.tolist() == pytest.approx([0.3, 0.1])  # the detector lets them through...
    assert pipes["b"].thresholds == {"default": 0.4, "fire": 0.3}  # ...and the others keep their bar
    assert vision.cameras["b"][2] == 2.0
    sensing.apply({})
    assert det.thresholds.tolist() == pytest.approx([0.4, 0.3])
    assert all(p.thresholds is None for p in pipes.values()) and vision.cameras["a"][2] == 2.0


def test_incident_mode_start_tasks_cap_end_restores(tmp_path: Path, small_city: City, cap_schema: Any) -> None:
    rt = build_runtime(make_config(tmp_path, small_city), city=small_city)
    before = sensing_of(rt)
    near = small_city.grids[9]
    plan = PLANS.accident
    with (
        serve_app(rt) as server,
        httpx.Client(base_url=server.url, headers=server.headers(role="officer")) as officer,
        httpx.Client(base_url=server.url, headers=server.headers(role="emergency")) as team,
        server.ws_connect(role="officer") as ws,
    ):
        ws.send(json.dumps({"op": "subscribe", "channels": ["emergency"]}))
        recv_type(ws, "subscribed")
        started = officer.post(
            "/api/emergency", json={"class": "accident", "title": "仓库火情", "lon": near.lon, "lat": near.lat}
        )
        assert started.status_code == 201, started.text
        mode = started.json()
        assert mode["active"] and mode["cameras"] == ["cam-near"] and mode["drones"] == ["drone-01"]
        assert [t["title"] for t in mode["tasks"]] == [t.title for t in plan.tasks]
        assert all(not t["done"] and t["role"] for t in mode["tasks"])

        event = recv_type(ws, "emergency.started")
        assert tuple(event["data"]) == EVENT_KEYS and event["data"]["id"] == mode["id"]
        assert event["data"]["center"] == {"lon": near.lon, "lat": near.lat}

        # raised sensing near the incident only
        fps, thresholds = sensing_of(rt)["cam-near"]
        assert fps == plan.detect_fps > before["cam-near"][0]
        assert thresholds == {"default": 0.3, "fire": 0.2, "smoke": 0.2}
        assert sensing_of(rt)["cam-far"] == before["cam-far"]
        assert officer.get("/api/cameras/cam-near").json()["fps"] == plan.detect_fps

        # tasks and the shared timeline
        task = mode["tasks"][0]["id"]
        done = team.post(f"/api/emergency/{mode['id']}/tasks/{task}/done", json={"note": "消防已到场"})
        assert done.status_code == 200 and done.json()["tasks"][0]["done_by"] == "emergency"
        assert recv_type(ws, "emergency.updated")["data"]["tasks"][0]["done"] is True
        assert team.post(f"/api/emergency/{mode['id']}/tasks/{task}/done").status_code == 409
        noted = officer.post(f"/api/emergency/{mode['id']}/timeline", json={"text": "无人机已起飞"})
        assert noted.status_code == 200
        assert [e["action"] for e in noted.json()["timeline"]] == ["start", "task.done", "note"]
        assert recv_type(ws, "emergency.updated")["data"]["timeline"][-1]["actor"] == "officer"

        # CAP 1.2 export
        cap = officer.get(f"/api/emergency/{mode['id']}/cap.xml")
        assert cap.status_code == 200 and "xml" in cap.headers["content-type"]
        cap_schema.validate(cap.content.decode())
        alert = ET.fromstring(cap.content)
        ns = {"cap": "urn:oasis:names:tc:emergency:cap:1.2"}
        assert alert.findtext("cap:msgType", namespaces=ns) == "Alert"
        circle = alert.findtext("cap:info/cap:area/cap:circle", namespaces=ns)
        assert circle == f"{near.lat:.6f},{near.lon:.6f} {plan.radius_m / 1000:.3f}"

        listing = officer.get("/api/emergency").json()
        assert listing["active"] == 1 and listing["items"][0]["id"] == mode["id"]

        # ending restores exactly
        ended = officer.post(f"/api/emergency/{mode['id']}/end", json={"note": "明火扑灭"})
        assert ended.status_code == 200 and ended.json()["ended_at"] and not ended.json()["active"]
        assert sensing_of(rt) == before
        event = recv_type(ws, "emergency.ended")
        assert event["data"]["ended_at"] and tuple(event["data"]) == EVENT_KEYS
        assert officer.post(f"/api/emergency/{mode['id']}/end").status_code == 409
        assert team.post(f"/api/emergency/{mode['id']}/tasks/t2/done").status_code == 409
        cancel = officer.get(f"/api/emergency/{mode['id']}/cap.xml").content.decode()
        cap_schema.validate(cancel)
        assert "<msgType>Cancel</msgType>" in cancel and "<references>" in cancel
    assert rt.cameras.pipelines["cam-near"].thresholds == CONFIGURED  # its bar as it started


def test_the_validator_rejects_a_broken_cap_document(tmp_path: Path, small_city: City, cap_schema: Any) -> None:
    rt = build_runtime(make_config(tmp_path, small_city), city=small_city)
    try:
        grid = small_city.grids[9]
        mode = rt.emergency.start("natural_disaster", "内涝", (grid.lon, grid.lat), [], ["drone-01"], "officer")
        from command_center.emergency.cap import cap_alert

        good = cap_alert(mode, PLANS.natural_disaster, "command-center@test").decode()
        assert cap_schema.is_valid(good)
        for broken in (
            good.replace("<severity>Severe</severity>", "<severity>Bad</severity>"),  # not in the enumeration
            good.replace("<status>Actual</status>", ""),  # a required element missing
            good.replace("-00:00</sent>", "Z</sent>"),  # CAP forbids "Z"
            good.replace("<scope>Public</scope>", "<scope>Public</scope><scope>Public</scope>"),
        ):
            assert broken != good and not cap_schema.is_valid(broken)
    finally:
        rt.store.close()


def test_an_active_mode_survives_a_restart(tmp_path: Path, small_city: City) -> None:
    config = make_config(tmp_path, small_city)
    rt = build_runtime(config, city=small_city)
    grid = small_city.grids[9]
    cameras = [(c.id, c.location.lon, c.location.lat) for c in config.cameras]
    mode = rt.emergency.start("social_security", "聚集", (grid.lon, grid.lat), cameras, [], "officer")
    raised = sensing_of(rt)["cam-near"]
    rt.store.close()

    again = build_runtime(config, city=small_city)
    try:
        assert [m["id"] for m in again.emergency.active()] == [mode["id"]]
        assert sensing_of(again)["cam-near"] == raised and raised[0] == PLANS.social_security.detect_fps
        again.emergency.end(mode["id"], "officer")
        assert again.cameras.vision.cameras["cam-near"][2] == 1 and again.cameras.pipelines["cam-near"].thresholds == CONFIGURED
    finally:
        again.store.close()


def test_roles_and_bad_inputs(tmp_path: Path, small_city: City) -> None:
    rt = build_runtime(make_config(tmp_path, small_city), city=small_city)
    grid = small_city.grids[9]
    start = {"class": "accident", "title": "x", "lon": grid.lon, "lat": grid.lat}
    worker = small_city.workers[0].id
    with (
        serve_app(rt) as server,
        httpx.Client(base_url=server.url, headers=server.headers(role="emergency")) as http,
        httpx.Client(base_url=server.url, headers=server.headers(role="worker", worker_id=worker)) as w,
    ):
        assert w.post("/api/emergency", json=start).status_code == 403
        assert w.get("/api/emergency").status_code == 403
        assert http.get("/emergency").status_code == 200  # the page itself is public; its API is not

        def refused(body: Any, status: int, error: str) -> None:
            reply = http.post("/api/emergency", json=body)
            assert reply.status_code == status and error in reply.json()["error"], reply.text

        refused({**start, "class": "flood"}, 400, "unknown emergency class")
        refused({**start, "lon": 0.0, "lat": 0.0}, 400, "outside the city")
        refused({**start, "lon": "x"}, 400, "place required")
        refused({"class": "accident", "title": "x", "incident_id": "nope"}, 404, "incident not found")
        refused({**start, "title": " "}, 400, "title required")
        assert http.post("/api/emergency", content=b"[1]").status_code == 400
        assert http.get("/api/emergency/em-nope").status_code == 404
        assert http.post("/api/emergency/em-nope/end").status_code == 404

        # from an incident: its place, and a title from its matter when none is given
        incident = Incident(
            "cam-near", time.time(), "fire", "view", "fire", 0.8, (1, 1, 20, 20), grid.lon, grid.lat, 1,
            snapshot(np.zeros((48, 64, 3), np.uint8), (1, 1, 20, 20), "x"),
        )  # fmt: skip
        doc: Any = server.run(rt.recorder.record(incident))
        from_incident = http.post("/api/emergency", json={"class": "accident", "incident_id": doc["id"]})
        assert from_incident.status_code == 201, from_incident.text
        assert from_incident.json()["incident_id"] == doc["id"] and from_incident.json()["title"]
        assert from_incident.json()["center"] == {"lon": grid.lon, "lat": grid.lat}

        mode = http.post("/api/emergency", json=start).json()  # the emergency team may start one too
        assert w.post(f"/api/emergency/{mode['id']}/tasks/t1/done").status_code == 403
        assert w.post(f"/api/emergency/{mode['id']}/end").status_code == 403
        assert http.post(f"/api/emergency/{mode['id']}/tasks/t99/done").status_code == 404
        assert http.post(f"/api/emergency/{mode['id']}/timeline", json={"text": ""}).status_code == 400
        assert http.post(f"/api/emergency/{mode['id']}/end").status_code == 200


def test_overlapping_modes_take_the_most_sensitive_and_end_one_at_a_time(tmp_path: Path, small_city: City) -> None:
    config = make_config(tmp_path, small_city)
    rt = build_runtime(config, city=small_city)
    try:
        before = sensing_of(rt)
        grid = small_city.grids[9]
        cameras = [(c.id, c.location.lon, c.location.lat) for c in config.cameras]
        first = rt.emergency.start("accident", "a", (grid.lon, grid.lat), cameras, [], "officer")
        second = rt.emergency.start("public_health", "b", (grid.lon, grid.lat), cameras, [], "officer")
        fps, thresholds = sensing_of(rt)["cam-near"]
        assert fps == max(PLANS.accident.detect_fps, PLANS.public_health.detect_fps)
        assert thresholds is not None and thresholds["fire"] == 0.2  # the accident plan's cap, the lower
        rt.emergency.end(first["id"], "officer")
        health = PLANS.public_health
        assert sensing_of(rt)["cam-near"] == (health.detect_fps, health.lowered({"default": 0.4, "fire": 0.3}))
        rt.emergency.end(second["id"], "officer")
        assert sensing_of(rt) == before
    finally:
        rt.store.close()
