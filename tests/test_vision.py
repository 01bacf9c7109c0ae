"""The first detection path: motion blobs → tracks → a dwell rule → incidents with snapshots."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streams.base import Frame
from vision.config import RulesConfig, ZoneConfig
from vision.detectors import Detection, MotionDetector
from vision.pipeline import CameraPipeline
from vision.rules import build_rules
from vision.track import IoUTracker, Track
from vision.track_byte import create_tracker

W, H = 320, 240
ZONE = ZoneConfig(name="bay", polygon=[(150, 100), (310, 100), (310, 230), (150, 230)], rules=["dwell"])


def backdrop() -> np.ndarray:
    image = np.full((H, W, 3), (90, 110, 100), np.uint8)
    cv2.rectangle(image, (0, 150), (W, H), (70, 70, 70), -1)
    return image


def frame_with_box(x: int, y: int, i: int, fps: float = 5.0) -> Frame:
    image = backdrop()
    cv2.rectangle(image, (x, y), (x + 40, y + 25), (30, 30, 200), -1)
    return Frame(image, ts=i / fps, index=i, wall_ts=1_700_000_000 + i / fps)


def test_motion_detector_finds_a_new_object_and_not_the_background() -> None:
    det = MotionDetector(min_area=100)
    for _ in range(30):
        assert det.detect(backdrop(), "cam") == []
    found = det.detect(frame_with_box(100, 60, 31).image, "cam")
    assert len(found) == 1
    x1, y1, x2, y2 = found[0].box
    assert abs(x1 - 100) <= 6 and abs(y1 - 60) <= 6 and abs(x2 - 140) <= 6 and abs(y2 - 85) <= 6
    assert det.detect(backdrop(), "other-camera") == []  # state is per stream


def test_tracker_keeps_ids_across_motion() -> None:
    tracker = IoUTracker()
    ids = set()
    for i in range(10):
        tracks = tracker.update([Detection("vehicle", 0.9, (10 + 3 * i, 10, 50 + 3 * i, 30))], ts=i * 0.2)
        ids.update(t.id for t in tracks)
    assert ids == {1}
    tracker.update([], ts=10.0)
    assert tracker.tracks == {}


def test_dwell_fires_once_for_an_object_that_stays_and_not_for_a_passer_by() -> None:
    (rule,) = build_rules([ZONE], RulesConfig(dwell_s=3.0, cooldown_s=0))
    parked = Track(1, "vehicle", 0.9, (200, 150, 260, 190), 0.0, 0.0)
    walker = Track(2, "person", 0.9, (150, 150, 170, 200), 0.0, 0.0)
    hits = []
    for i in range(40):  # 8 s at 5 fps
        ts = i / 5
        walker.box = (150 + 4 * i, 150, 170 + 4 * i, 200)  # crosses the zone
        hits += rule.update([parked, walker], ts)
    assert [(h.track.id, h.rule, h.zone) for h in hits] == [(1, "dwell", "bay")]


@pytest.mark.parametrize("tracker", ["iou", "bytetrack", "botsort"])
def test_pipeline_turns_a_parked_object_into_one_incident_with_a_snapshot(tracker: str) -> None:
    pipeline = CameraPipeline(
        "cam-1",
        MotionDetector(min_area=100),
        build_rules([ZONE], RulesConfig(dwell_s=2.0)),
        location=(113.3, 23.1),
        zones=[(ZONE.name, ZONE.polygon)],
        tracker=create_tracker(tracker, fps=5.0, max_gap_s=2.0),
    )
    incidents = []
    for i in range(20):  # empty scene: the background is learned
        incidents += pipeline.process(Frame(backdrop(), i / 5, i, 1e9 + i / 5))
    for i in range(20, 40):  # an object drives in from the left and parks in the bay
        x = min(40 + 20 * (i - 20), 220)
        incidents += pipeline.process(frame_with_box(x, 150, i))
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident.rule == "dwell" and incident.zone == "bay" and incident.camera_id == "cam-1"
    assert (incident.lon, incident.lat) == (113.3, 23.1)
    assert 210 <= incident.box[0] <= 230
    snapshot = cv2.imdecode(np.frombuffer(incident.snapshot_jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert snapshot.shape == (H, W, 3)
    assert pipeline.annotated is not None and pipeline.annotated.index == 39
