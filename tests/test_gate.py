"""Motion gating: detect only around motion and tracked objects; skip still frames."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from streams.base import Frame
from tests.test_detect import ASSETS, YOLOX, needs_yolox
from vision.gate import MotionGate
from vision.pipeline import CameraPipeline

W, H = 640, 360


def scene(x: int | None) -> np.ndarray:
    image = np.full((H, W, 3), 90, np.uint8)
    cv2.rectangle(image, (0, 250), (W, H), (60, 60, 60), -1)
    if x is not None:
        cv2.rectangle(image, (x, 200), (x + 40, 260), (20, 20, 20), -1)
    return image


def test_still_frames_are_skipped_and_motion_makes_a_region() -> None:
    gate = MotionGate(region_size=160, recheck_every=50)
    assert gate.regions(scene(None), [], []) == [(0.0, 0.0, W, H)]  # the first frame: everything
    assert all(gate.regions(scene(None), [], []) == [] for _ in range(10))
    regions = gate.regions(scene(300), [], [])
    assert len(regions) == 1
    x1, y1, x2, y2 = regions[0]
    assert x1 <= 300 and x2 >= 340 and y1 <= 200 and y2 >= 260
    assert x2 - x1 == pytest.approx(y2 - y1) and x2 - x1 >= 160  # a square, at least the model's size
    stats = gate.stats.to_dict()
    assert stats["frames"] == 12 and stats["frames_skipped_ratio"] == pytest.approx(10 / 12, abs=1e-3)
    assert 0.5 < stats["pixels_skipped_ratio"] < 1.0


def test_still_objects_are_rechecked_every_n_frames() -> None:
    gate = MotionGate(region_size=100, recheck_every=5)
    gate.regions(scene(None), [], [])
    looked = [bool(gate.regions(scene(None), [], [(10, 10, 50, 50)])) for _ in range(10)]
    assert looked == [False, False, False, True, False, False, False, False, True, False]


def test_overlapping_regions_merge() -> None:
    gate = MotionGate(region_size=100)
    gate.regions(scene(None), [], [])
    regions = gate.regions(scene(None), [(100, 100, 130, 130), (150, 110, 180, 140), (500, 50, 520, 70)], [])
    assert len(regions) == 2


@needs_yolox
def test_gated_pipeline_keeps_still_people_tracked_while_skipping() -> None:
    from vision.detectors.onnx import OnnxDetector

    image = cv2.imread(str(ASSETS / "zidane.jpg"))
    pipeline = CameraPipeline(
        "cam", OnnxDetector(YOLOX), [], (0.0, 0.0), gate=MotionGate(region_size=416, recheck_every=10)
    )
    for i in range(75):  # 15 s at 5 fps
        pipeline.process(Frame(image, ts=i * 0.2, index=i, wall_ts=float(i)))
    people = [t for t in pipeline.tracker.tracks.values() if t.label == "person"]
    assert len(people) == 2 and {t.id for t in people} == {1, 2}  # the same two tracks throughout
    stats = pipeline.gate.stats.to_dict()  # type: ignore[union-attr]
    # The model ran on the first frame, while the new tracks were young (2 s), and on re-checks.
    assert stats["frames_skipped_ratio"] >= 0.7


@needs_yolox
def test_cameras_are_batched_and_a_bad_one_is_isolated() -> None:
    from vision.detectors.onnx import OnnxDetector
    from vision.pipeline import VisionWorker

    detector = OnnxDetector(YOLOX)
    image = cv2.imread(str(ASSETS / "zidane.jpg"))
    names = ("a", "b", "broken")
    pipelines = {n: CameraPipeline(n, detector, [], (0.0, 0.0), gate=MotionGate(region_size=416)) for n in names}
    worker = VisionWorker({n: (None, p, 5.0) for n, p in pipelines.items()}, lambda _i: None)  # type: ignore[misc]
    for i in range(3):
        empty = np.zeros((0, 0, 3), np.uint8)
        worker.step([(n, Frame(empty if n == "broken" else image, i * 0.2, i, float(i))) for n in names])
    assert worker.batches == 3
    for n in ("a", "b"):
        assert len([t for t in pipelines[n].tracker.tracks.values() if t.label == "person"]) == 2
    assert pipelines["broken"].errors == 3 and pipelines["a"].errors == 0
