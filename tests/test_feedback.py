"""Dismissals as feedback: repeated false positives at one place raise its threshold."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np

from command_center.config import parse_config
from dispatch.city import City
from streams.base import Frame
from tests.helpers import build_runtime, serve_app
from vision.config import RulesConfig
from vision.evidence import snapshot
from vision.feedback import FalsePositiveTuner
from vision.incident import Incident
from vision.rules import build_rules


def test_three_dismissals_raise_the_bar_just_above_them(tmp_path: Path) -> None:
    tuner = FalsePositiveTuner(tmp_path / "fb.json")
    assert tuner.dismissed("cam", "bay", "vehicle", 0.50) is None
    assert tuner.dismissed("cam", "bay", "vehicle", 0.62) is None
    assert tuner.dismissed("cam", "bay", "vehicle", 0.55) == 0.63
    assert tuner.dismissed("cam", "other", "vehicle", 0.9) is None  # another place counts apart
    assert FalsePositiveTuner(tmp_path / "fb.json").thresholds("cam") == {("bay", "vehicle"): 0.63}  # persisted
    for _ in range(3):
        tuner.dismissed("cam", "bay", "vehicle", 0.99)
    assert tuner.thresholds("cam")[("bay", "vehicle")] == 0.9  # capped: the rule can still fire


def test_a_raised_zone_threshold_silences_the_rule() -> None:
    from tests.test_vision import ZONE, backdrop, frame_with_box
    from vision.detectors.motion import MotionDetector
    from vision.pipeline import CameraPipeline

    def incidents(min_scores: dict) -> int:
        pipeline = CameraPipeline("cam", MotionDetector(100), build_rules([ZONE], RulesConfig(dwell_s=2.0)), (0, 0))
        pipeline.min_scores = min_scores
        found = 0
        for i in range(20):
            found += len(pipeline.process(Frame(backdrop(), i / 5, i, 1e9 + i / 5)))
        for i in range(20, 40):
            found += len(pipeline.process(frame_with_box(min(40 + 20 * (i - 20), 220), 150, i)))
        return found

    assert incidents({}) == 1
    assert incidents({("bay", "vehicle"): 1.01}) == 0  # above any score: silenced
    assert incidents({("elsewhere", "vehicle"): 1.01}) == 1  # another zone's bar does not apply


def test_dismiss_through_the_api_shows_the_new_threshold(tmp_path: Path, small_city: City) -> None:
    grid = small_city.grids[9]
    config = parse_config(
        {
            "server": {"data_dir": str(tmp_path)},
            "store": f"sqlite:///{tmp_path / 'cc.db'}",
            "cameras": [
                {
                    "id": "cam-1", "kind": "sim", "url": "sim://street?seed=4", "fps": 2,
                    "location": {"lon": grid.lon, "lat": grid.lat},
                    "zones": [{"name": "bay", "polygon": [[0, 0], [50, 0], [50, 50]], "rules": ["illegal_parking"]}],
                }
            ],
        }
    )
    rt = build_runtime(config, city=small_city)
    image = np.zeros((60, 80, 3), np.uint8)
    with serve_app(rt) as server, httpx.Client(base_url=server.url, headers=server.headers()) as http:
        ids = []
        for score in (0.5, 0.58, 0.52):
            incident = Incident(
                "cam-1", time.time(), "illegal_parking", "bay", "vehicle", score, (1, 1, 20, 20),
                grid.lon + 0.01 * len(ids), grid.lat, 1, snapshot(image, (1, 1, 20, 20), "x"),
            )
            ids.append(server.run(rt.recorder.record(incident))["id"])  # type: ignore[index]
        results = [http.post(f"/api/incidents/{i}/dismiss", json={"actor": "officer"}).json() for i in ids]
        assert "raised_threshold" not in results[0] and results[2]["raised_threshold"] == 0.59
        camera = http.get("/api/cameras/cam-1").json()
        assert camera["zone_thresholds"] == [{"zone": "bay", "label": "vehicle", "min_score": 0.59, "dismissals": 3}]
        assert rt.cameras.pipelines["cam-1"].min_scores == {("bay", "vehicle"): 0.59}
