"""One loop, end to end: rendered frames → motion → dwell rule → incident → case → the
assigned worker's terminal channel, through a real uvicorn server and websocket client."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from command_center.config import parse_config
from dispatch.assign import pick_worker
from dispatch.city import City
from scenes import SceneRenderer
from tests.helpers import build_runtime, serve_app

SEED = 11


def parking_camera(city: City) -> tuple[dict, str]:
    scene = SceneRenderer(seed=SEED, kind="street")
    parking = next(e for e in scene.events if e["kind"] == "illegal_parking")
    # Start the scene a few seconds before the vehicle pulls in, so the test is short.
    start = max(0.0, parking["start_s"] - 5.0)
    grid = city.grids[len(city.grids) // 3]
    camera = {
        "id": "cam-e2e",
        "kind": "sim",
        "url": f"sim://street?seed={SEED}&start_s={start:.1f}",
        "location": {"lon": grid.lon, "lat": grid.lat},
        "fps": 5,
        "zones": [{"name": "no-parking", "polygon": scene.zones["no-parking"], "rules": ["illegal_parking"]}],
    }
    return camera, grid.code


@pytest.mark.slow
def test_rendered_frames_become_a_task_on_the_workers_terminal(tmp_path: Path, small_city: City) -> None:
    camera, grid_code = parking_camera(small_city)
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "rules": {"dwell_s": 3.0},
            "cameras": [camera],
        }
    )
    rt = build_runtime(config, city=small_city)
    worker = pick_worker(small_city, grid_code, datetime.now(rt.dispatcher.tz), lambda ids: {})
    assert worker is not None
    with (
        serve_app(rt) as server,
        server.ws_connect(role="officer") as wall,
        server.ws_connect(role="worker", worker_id=worker.id) as terminal,
    ):
        wall.send(json.dumps({"op": "subscribe", "channels": ["incidents", "cases", "cameras"]}))
        terminal.send(json.dumps({"op": "subscribe", "channels": [f"tasks:{worker.id}"]}))

        seen: dict[str, list[dict]] = {}
        task = None
        deadline = time.monotonic() + 60
        while task is None and time.monotonic() < deadline:
            for conn in (wall, terminal):
                try:
                    msg = json.loads(conn.recv(timeout=0.2))
                except TimeoutError:
                    continue
                if "channel" in msg:
                    seen.setdefault(msg["type"], []).append(msg)
                    if msg["type"] == "task.assigned":
                        task = msg
        assert task is not None, f"no task within 60 s; saw {sorted(seen)}"
        # The task can reach the terminal while the wall's incident waits unread: read on.
        while not {"incident.created", "camera.status"} <= set(seen) and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                msg = json.loads(wall.recv(timeout=0.2))
                if "channel" in msg:
                    seen.setdefault(msg["type"], []).append(msg)

        case = task["data"]
        assert case["assignee"] == worker.id
        assert case["grid_code"] == grid_code and len(case["grid_code"]) == 15
        assert case["state"] == "dispatched" and case["source"] == "video"
        incident = seen["incident.created"][0]["data"]
        assert incident["rule"] == "illegal_parking" and incident["label"] == "vehicle"
        assert incident["id"] in case["incident_ids"]
        assert seen["camera.status"][0]["data"]["id"] == "cam-e2e"
        for channel in ("incidents", "cases"):
            seqs = [m["seq"] for msgs in seen.values() for m in msgs if m["channel"] == channel]
            assert seqs == list(range(1, len(seqs) + 1))

        with httpx.Client(base_url=server.url, headers=server.headers()) as http:
            snapshot = http.get(incident["snapshot_url"])
            assert snapshot.status_code == 200 and snapshot.content[:2] == b"\xff\xd8"
            accepted = http.post(f"/api/cases/{case['id']}/accept", json={"actor": worker.id})
            assert accepted.status_code == 200
        while True:
            msg = json.loads(terminal.recv(timeout=5))
            if msg.get("type") == "task.updated":
                break
        assert msg["data"]["id"] == case["id"] and msg["data"]["state"] == "accepted"
        assert msg["seq"] == task["seq"] + 1

        # The evidence clip (5 s pre-roll + 5 s post-roll) is linked once it is encoded.
        clip_url = None
        deadline = time.monotonic() + 30
        while clip_url is None and time.monotonic() < deadline:
            try:
                msg = json.loads(wall.recv(timeout=1))
            except TimeoutError:
                continue
            if msg.get("type") == "incident.updated" and msg["data"]["id"] == incident["id"]:
                clip_url = msg["data"].get("clip_url")
        assert clip_url == f"/api/incidents/{incident['id']}/clip.mp4"
        with httpx.Client(base_url=server.url, headers=server.headers()) as http:
            clip = http.get(clip_url)
            assert clip.status_code == 200 and clip.headers["content-type"] == "video/mp4"
            assert b"ftyp" in clip.content[:16]
