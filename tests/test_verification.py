"""Video verification end to end (视频核查): rendered plaza frames → a stall incident → a case
→ its worker accepts and reports it handled → the same camera looks again, through a real
server, the in-process bus, the ONNX model and the store.

Two cameras at once: on one the stall is cleared away when the worker reports (the scene's
`resolve`), so the case is verified by the camera within the matter's hold; on the other it
stays (`persist`), so the case goes back to the worker with the camera's fresh frame. The
catalogue in the test holds the street-vending matter for 5 s (the shipped one: 60 s)."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from command_center.config import parse_config
from command_center.runtime import Runtime
from command_center.store.verification_records import verification_store
from dispatch.assign import pick_worker
from dispatch.city import City
from scenes import SceneRenderer
from streams.registry import create_source
from tests.helpers import ROOT, ServerThread, build_runtime, serve_app
from vision.spot_look import look_from_json

MODEL = ROOT / "models" / "grid-yolo.onnx"
HOLD_S = 5.0
# plaza scenes whose first stall opens a few seconds in (the scene starts 4 s before it arrives)
SCENES = {"cam-cleared": 3, "cam-stays": 4}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not MODEL.exists(), reason="no models/grid-yolo.onnx")]


def stall_camera(cam_id: str, seed: int, lon: float, lat: float) -> tuple[dict[str, Any], int]:
    scene = SceneRenderer(seed=seed, kind="plaza")
    stall = next(e for e in scene.events if e["kind"] == "stall" and e["zone"] == "no-vending")
    camera = {
        "id": cam_id, "kind": "sim", "name": f"广场{seed}号",
        "url": f"sim://plaza?seed={seed}&start_s={max(0.0, stall['start_s'] - 4.0):.1f}",
        "location": {"lon": lon, "lat": lat}, "fps": 5,
        "zones": [{"name": "no-vending", "polygon": scene.zones["no-vending"], "rules": ["stall"]}],
    }  # fmt: skip
    return camera, stall["index"]


def quick_catalogue(tmp_path: Path) -> Path:
    raw = yaml.safe_load((ROOT / "configs" / "matters.yaml").read_text(encoding="utf-8"))
    for matter in raw["matters"]:
        if matter["code"] == "0501":
            matter.update(verify="auto", verify_hold_s=HOLD_S, verify_timeout_s=90)
    path = tmp_path / "matters.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def wait_for(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


def scene_now(source: Any) -> float:
    """The scene time the sim source renders now (seconds since it opened, plus its start)."""
    return time.monotonic() - source._opened_at + source.start_s


@pytest.fixture(scope="module")
def setup(
    tmp_path_factory: pytest.TempPathFactory, small_city: City
) -> tuple[Runtime, dict[str, Any], dict[str, int]]:
    tmp = tmp_path_factory.mktemp("verification")
    grids = small_city.grids[len(small_city.grids) // 3 :][:2]
    cams, events = [], {}
    for (cam_id, seed), grid in zip(SCENES.items(), grids, strict=True):
        camera, index = stall_camera(cam_id, seed, grid.lon, grid.lat)
        cams.append(camera)
        events[cam_id] = index
        assert pick_worker(small_city, grid.code, datetime.now(UTC), lambda ids: {}) is not None
    config = parse_config({
        "server": {"data_dir": str(tmp)}, "store": f"sqlite:///{tmp / 'cc.db'}", "catalog": str(quick_catalogue(tmp)),
        "detector": {"backend": "onnx", "model": str(MODEL)}, "rules": {"dwell_s": 3.0}, "cameras": cams,
    })  # fmt: skip
    rt = build_runtime(config, city=small_city)
    # The sources the runners will open, kept here so the test can clear or keep the stall.
    sources: dict[str, Any] = {}
    for cam in config.cameras:
        sources[cam.id] = create_source(cam)
        rt.cameras.runners[cam.id].factory = functools.partial(lambda source: source, sources[cam.id])
    return rt, sources, events


def test_a_handled_stall_is_verified_and_a_stall_still_there_is_returned(
    setup: tuple[Runtime, dict[str, Any], dict[str, int]],
) -> None:
    rt, sources, events = setup
    sources["cam-stays"].renderer.persist(events["cam-stays"])  # the vendor never packs up
    with serve_app(rt) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        officer = server.headers(role="officer")
        cases = wait_for("stall cases from both cameras", lambda: _stall_cases(rt, http, officer), 90)
        for cam_id, case in cases.items():
            _report_handled(server, http, case)
            if cam_id == "cam-cleared":  # the worker cleared it away as they reported
                sources[cam_id].renderer.resolve(events[cam_id], scene_now(sources[cam_id]))
        done = wait_for("both verdicts acted on the cases", lambda: _acted(http, officer, cases), HOLD_S + 45)
        verified, returned = done["cam-cleared"], done["cam-stays"]

        assert verified["state"] == "verified"
        check = next(v for v in verified["verifications"] if v["purpose"] == "verify")
        assert (
            check["state"] == "cleared"
            and check["case_action"] == "verify"
            and check["camera_id"] == "cam-cleared"
        )
        assert check["absent_s"] >= HOLD_S and check["frames"] >= 2
        note = verified["timeline"][-1]
        assert note["action"] == "verify" and note["actor"] == "video"
        assert note["note"].startswith("视频核查：禁摆区内") and "秒未见摊档" in note["note"]
        for url in (check["before_url"], check["after_url"]):
            image = http.get(url, headers=officer)
            assert image.status_code == 200 and image.content[:2] == b"\xff\xd8", url
        assert check["after_url"] in verified["photos"]

        assert returned["state"] == "dispatched" and returned["returns"] == 1
        seen = next(v for v in returned["verifications"] if v["purpose"] == "verify")
        # Each check took the raising camera's look of the spot from the incident's snapshot.
        for vid in (check["id"], seen["id"]):
            row = verification_store(rt.store).get_verification(vid)
            assert row is not None and look_from_json(row["request"].get("look")) is not None, vid
        assert seen["state"] == "present" and seen["case_action"] == "return" and seen["present_frames"] >= 1
        assert returned["timeline"][-1]["note"].startswith("视频核查：禁摆区内摊档仍在")
        assert seen["after_url"] in returned["photos"]  # the worker's terminal shows why
        worker = server.headers(role="worker", worker_id=returned["assignee"])
        fresh = http.get(seen["after_url"], headers=worker)
        assert fresh.status_code in (200, 503)  # served blurred (503 only where no blur model loads)

        # the verification's own clip follows (5 s post-roll, then encoded)
        if rt.clips.enabled:
            clip = wait_for("the verification's clip", lambda: _clip_url(http, officer, check["id"]), 30)
            answer = http.get(clip, headers=officer)
            assert answer.status_code == 200 and b"ftyp" in answer.content[:16]


def _stall_cases(
    rt: Runtime, http: httpx.Client, officer: dict[str, str]
) -> dict[str, dict[str, Any]] | None:
    found = http.get("/api/cases", params={"source": "video", "matter": "0501"}, headers=officer).json()[
        "items"
    ]
    by_camera: dict[str, dict[str, Any]] = {}
    for case in found:
        incident = rt.store.get_incident(case["incident_ids"][0]) if case["incident_ids"] else None
        if incident and case["assignee"] and case["state"] == "dispatched":
            by_camera.setdefault(incident["camera_id"], case)
    return by_camera if set(by_camera) == set(SCENES) else None


def _report_handled(server: ServerThread, http: httpx.Client, case: dict[str, Any]) -> None:
    worker = server.headers(role="worker", worker_id=case["assignee"])
    accepted = http.post(f"/api/cases/{case['id']}/accept", json={}, headers=worker)
    assert accepted.status_code == 200, accepted.text
    reported = http.post(
        f"/api/cases/{case['id']}/feedback", json={"note": "已劝离，现场已清理"}, headers=worker
    )
    assert reported.status_code == 200 and reported.json()["state"] == "feedback", reported.text


def _acted(
    http: httpx.Client, officer: dict[str, str], cases: dict[str, dict[str, Any]]
) -> dict[str, Any] | None:
    now = {cam: http.get(f"/api/cases/{c['id']}", headers=officer).json() for cam, c in cases.items()}
    return now if all(c["state"] != "feedback" for c in now.values()) else None


def _clip_url(http: httpx.Client, officer: dict[str, str], vid: str) -> str | None:
    url = http.get(f"/api/verifications/{vid}", headers=officer).json().get("clip_url")
    return str(url) if url else None
