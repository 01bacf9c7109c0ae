"""Detector backends on ONNX Runtime: YOLOX on real photos, ultralytics exports by shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import ROOT, SHARED
from vision.decode import Letterbox, decode_ultralytics, letterbox, select
from vision.detectors.base import Detection
from vision.detectors.onnx import OnnxDetector

YOLOX = SHARED / "models" / "yolox_nano.onnx"
ASSETS = Path(cv2.__file__).parents[1] / "ultralytics" / "assets"
needs_yolox = pytest.mark.skipif(not YOLOX.exists(), reason="shared YOLOX model not present")


# Hand-annotated positions in the photos (source pixels): who and what is where.
BUS_TRUTH = {
    "bus": [(17, 230, 805, 740)],
    "person": [(48, 398, 240, 905), (217, 405, 350, 858), (675, 448, 810, 878), (0, 550, 80, 875)],
}
ZIDANE_TRUTH = {"person": [(130, 195, 690, 720), (715, 40, 1150, 712)]}


def matched(found: list, truth: list[tuple[int, int, int, int]], min_iou: float = 0.5) -> int:
    """How many truth boxes get a distinct detection with IoU ≥ min_iou (greedy)."""
    from vision.track import iou

    free = list(found)
    hits = 0
    for box in truth:
        best = max(free, key=lambda d: iou(d.box, box), default=None)
        if best is not None and iou(best.box, box) >= min_iou:
            free.remove(best)
            hits += 1
    return hits


@needs_yolox
def test_yolox_finds_the_bus_and_its_passengers() -> None:
    detector = OnnxDetector(YOLOX, label_map={})
    assert detector.format == "yolox" and detector.size == (416, 416)
    found = detector.detect(cv2.imread(str(ASSETS / "bus.jpg")))
    assert matched([d for d in found if d.label == "bus"], BUS_TRUTH["bus"]) == 1
    assert matched([d for d in found if d.label == "person"], BUS_TRUTH["person"]) >= 3


@needs_yolox
def test_yolox_finds_both_men_in_zidane() -> None:
    found = OnnxDetector(YOLOX, label_map={}).detect(cv2.imread(str(ASSETS / "zidane.jpg")))
    people = [d for d in found if d.label == "person"]
    assert len(people) == 2 and matched(people, ZIDANE_TRUTH["person"]) == 2


@needs_yolox
def test_product_labels_map_coco_vehicles() -> None:
    detector = OnnxDetector(YOLOX, thresholds={"default": 0.35, "person": 0.8})
    labels = [d.label for d in detector.detect(cv2.imread(str(ASSETS / "bus.jpg")))]
    assert "vehicle" in labels and "bus" not in labels
    assert labels.count("person") <= 2  # the per-label threshold is applied


@needs_yolox
def test_detect_command_prints_json_lines() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "command_center", "detect", str(ASSETS / "zidane.jpg"), "--model", str(YOLOX), "--json"],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.strip().splitlines()
    frame = json.loads(line)
    assert frame["frame"] == 0
    people = [Detection(d["label"], d["score"], tuple(d["box"])) for d in frame["detections"] if d["label"] == "person"]
    assert len(people) == 2 and matched(people, ZIDANE_TRUTH["person"]) == 2


def test_detect_command_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    for args, expected in (
        ([str(bad), "--model", str(YOLOX)], "cannot decode image"),
        ([str(tmp_path / "none.mp4"), "--model", str(YOLOX)], "no such file"),
        ([str(bad), "--model", str(tmp_path / "none.onnx")], "model not found"),
    ):
        if "model not found" not in expected and not YOLOX.exists():
            continue
        proc = subprocess.run([sys.executable, "-m", "command_center", "detect", *args], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2 and expected in proc.stderr


def test_letterbox_round_trip() -> None:
    image = np.zeros((360, 640, 3), np.uint8)
    for centre in (True, False):
        canvas, box = letterbox(image, (320, 320), centre)
        assert canvas.shape == (320, 320, 3)
        assert box.scale == 0.5 and box.pad_x == 0 and box.pad_y == (70 if centre else 0)
        model_box = np.array([[10.0, 80.0, 110.0, 180.0]])
        back = box.to_source(model_box)
        expected = [20.0, 160.0 - (140 if centre else 0), 220.0, 360.0 - (140 if centre else 0)]
        assert np.allclose(back[0], expected)
    assert Letterbox(1.0, 0, 0).to_source(np.zeros((0, 4))).shape == (0, 4)


def test_ultralytics_output_decoding_and_class_aware_nms() -> None:
    # Three boxes, two classes: two overlapping boxes of class 0, one of class 1 on top of them.
    raw = np.zeros((4 + 2, 3), np.float32)
    raw[:4, 0] = [100, 100, 50, 50]
    raw[:4, 1] = [102, 101, 50, 50]
    raw[:4, 2] = [100, 100, 50, 50]
    raw[4:, 0] = [0.9, 0.1]
    raw[4:, 1] = [0.8, 0.1]
    raw[4:, 2] = [0.1, 0.7]
    boxes, scores = decode_ultralytics(raw)
    assert np.allclose(boxes[0], [75, 75, 125, 125])
    kept, best, classes = select(boxes, scores, np.array([0.5, 0.5], np.float32), iou=0.5)
    assert sorted(classes.tolist()) == [0, 1]  # the class-1 box survives its overlap with class 0
    assert np.allclose(sorted(best.tolist()), [0.7, 0.9])
    _, best, _ = select(boxes, scores, np.array([0.95, 0.5], np.float32), iou=0.5)
    assert best.tolist() == pytest.approx([0.7])


def test_an_ultralytics_export_is_recognised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnx")
    from ultralytics import YOLO

    monkeypatch.chdir(tmp_path)  # the export lands beside the model definition: keep it out of the repo
    model = YOLO("yolov8n.yaml")  # built from its definition: no weights are downloaded
    exported = model.export(format="onnx", imgsz=160, simplify=False, verbose=False)
    assert (tmp_path / Path(exported).name).exists()
    detector = OnnxDetector(exported)
    assert detector.format == "ultralytics" and detector.size == (160, 160)
    assert detector.names[:3] == ["0", "1", "2"] and len(detector.names) == 80  # names from the metadata
    assert detector.detect(np.zeros((240, 320, 3), np.uint8)) == []  # untrained: nothing above threshold
