"""Models per camera (docs/MODELS_PER_CAMERA.md): named detectors, a camera running two at
once on a real photo, config errors naming the camera and the model, one loaded model
shared by the cameras that name it, the vision worker batching each camera through its
own detector, and emergency sensing lowering only the models of the raised cameras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from command_center.bus.memory import MemoryBus
from command_center.camera_status import Cameras
from command_center.config import Config, ConfigError, parse_config
from command_center.emergency.sensing import Sensing, Want
from streams.base import Frame
from tests.helpers import ROOT, SHARED
from tests.test_detect import ASSETS, BUS_TRUTH, matched
from vision.clips import ClipRecorder
from vision.detectors.base import Detection
from vision.detectors.multi import MultiDetector, merge
from vision.pipeline import CameraPipeline, VisionWorker

YOLOX = SHARED / "models" / "yolox_nano.onnx"
GRID = ROOT / "models" / "grid-yolo.onnx"
needs_models = pytest.mark.skipif(
    not (YOLOX.exists() and GRID.exists()), reason=f"needs {YOLOX} (shared) and {GRID} (trained) in this checkout"
)
# The COCO model's names the product uses; the rest keep their own names (no rule speaks of them).
COCO_MAP = {"person": "person", "bicycle": "bicycle", "car": "vehicle", "bus": "vehicle", "truck": "vehicle"}
WHERE = {"lon": 113.3, "lat": 23.1}


def camera(cam_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": cam_id, "url": "sim://street?seed=1", "location": WHERE, **extra}


def cameras_of(config: Config, tmp_path: Path) -> Cameras:
    return Cameras(config, MemoryBus(), lambda _incident: None, ClipRecorder(tmp_path / "clips", enabled=False))


def bus_photo() -> np.ndarray:
    image = cv2.imread(str(ASSETS / "bus.jpg"))
    assert image is not None, f"{ASSETS / 'bus.jpg'} is unreadable"
    return image


def two_model_config(tmp_path: Path, cameras: list[dict[str, Any]]) -> Config:
    return parse_config({
        "server": {"data_dir": str(tmp_path)},
        "detector": {"backend": "onnx", "model": str(GRID)},
        "detectors": {"coco": {"backend": "onnx", "model": str(YOLOX), "label_map": COCO_MAP,
                               "thresholds": {"default": 0.35, "person": 0.4}}},
        "camera_groups": {"crossing": {"models": ["default", "coco"]}},
        "cameras": cameras,
    })  # fmt: skip


def key(d: Detection) -> tuple[str, tuple[float, ...]]:
    return d.label, tuple(round(v, 1) for v in d.box)


@needs_models
def test_a_camera_with_two_models_reports_both_with_their_label_maps(tmp_path: Path) -> None:
    cams = cameras_of(two_model_config(tmp_path, [camera("both", models=["default", "coco"])]), tmp_path)
    pipeline = cams.pipelines["both"]
    assert isinstance(pipeline.detector, MultiDetector)
    grid, coco = cams.detectors.get("default"), cams.detectors.get("coco")
    image = bus_photo()
    h, w = image.shape[:2]
    plan = pipeline.plan(Frame(image=image, ts=0.0, index=0, wall_ts=0.0))
    assert plan.regions == [(0.0, 0.0, float(w), float(h))]  # a gate's first frame: all of it
    pipeline.finish(plan, pipeline.detect(plan))
    assert pipeline.annotated is not None
    found = pipeline.annotated.detections

    # The COCO model's bus comes through as the product's vehicle; its people as people.
    assert "bus" not in {d.label for d in found}
    vehicles = [d for d in found if d.label == "vehicle"]
    assert matched(vehicles, BUS_TRUTH["bus"]) == 1
    assert matched([d for d in found if d.label == "person"], BUS_TRUTH["person"]) >= 3
    # The COCO model, trained on real photos, sees the bus; the grid model, trained on rendered
    # scenes only, boxes at most part of it (docs/MODEL.md, "real photos"). The merged view has
    # the bus once.
    by_model = {"grid": grid.detect(image), "coco": coco.detect(image)}
    assert matched([d for d in by_model["coco"] if d.label == "vehicle"], BUS_TRUTH["bus"]) == 1
    assert len([d for d in vehicles if matched([d], BUS_TRUTH["bus"])]) == 1
    # Every detection is one model's own, and each model contributes.
    grid_keys, coco_keys = {key(d) for d in by_model["grid"]}, {key(d) for d in by_model["coco"]}
    assert {key(d) for d in found} <= grid_keys | coco_keys
    assert {key(d) for d in found} & (grid_keys - coco_keys), "nothing of the grid model's own survived"
    assert {key(d) for d in found} & coco_keys
    # The union of labels: the grid model's problems beside COCO's mapped names.
    assert {"person", "vehicle", "stall", "garbage", "fire"} <= set(pipeline.detector.labels)


def test_merge_keeps_one_of_two_models_boxes_and_all_of_one_models() -> None:
    a = [Detection("person", 0.9, (0, 0, 100, 200)), Detection("person", 0.6, (10, 20, 90, 190))]  # nested: kept
    b = [Detection("person", 0.7, (5, 0, 105, 200)),  # a's person again: dropped (IoU 0.9)
         Detection("person", 0.8, (20, 100, 80, 190)),  # its lower half, inside a's: dropped
         Detection("vehicle", 0.5, (0, 0, 100, 200)),  # another label: kept
         Detection("person", 0.5, (300, 0, 400, 200))]  # fmt: skip
    merged = merge([a, b])
    assert len(merged) == 4 and set(merged) == {a[0], a[1], b[2], b[3]}
    assert merge([a, []]) == a and merge([[], []]) == []


def test_unknown_model_names_are_config_errors_naming_camera_and_model(tmp_path: Path) -> None:
    raw = {
        "detectors": {"coco": {"backend": "motion"}},
        "camera_groups": {"crossing": {"models": ["default", "cocoa"]}},
        "cameras": [camera("cam-a", models=["default", "yolo9"]), camera("cam-b", group="plaza"),
                    camera("cam-c", group="crossing"), camera("cam-d", models=["coco"])],
    }  # fmt: skip
    with pytest.raises(ConfigError) as failed:
        parse_config(raw, "city.yaml")
    assert failed.value.errors == [
        "city.yaml: camera_groups.crossing.models[1]: unknown model 'cocoa'; known: default, coco",
        "city.yaml: cameras[0].models[1]: camera 'cam-a' names unknown model 'yolo9'; known: default, coco",
        "city.yaml: cameras[1].group: camera 'cam-b' names unknown group 'plaza'; known: crossing",
    ]
    with pytest.raises(ConfigError, match="bad detector name 'default'"):
        parse_config({"detectors": {"default": {"backend": "motion"}}})
    with pytest.raises(ConfigError, match="a model is named twice"):
        parse_config({"cameras": [camera("c", models=["default", "default"])]})
    # check-config prints the file, the key path and the reason.
    path = tmp_path / "city.yaml"
    path.write_text("detectors: {coco: {backend: motion}}\ncameras:\n"
                    "  - {id: cam-a, url: 'sim://street', location: {lon: 113.3, lat: 23.1}, models: [coco, yolo9]}\n")  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-m", "command_center", "check-config", str(path)], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert f"{path}: cameras[0].models[1]: camera 'cam-a' names unknown model 'yolo9'; known: default, coco" in proc.stderr


def test_cameras_naming_a_model_share_one_loaded_instance(tmp_path: Path) -> None:
    config = parse_config({
        "server": {"data_dir": str(tmp_path)},
        "detectors": {"coco": {"backend": "motion", "min_area": 50}, "spare": {"backend": "motion"}},
        "camera_groups": {"crossing": {"models": ["default", "coco"]}},
        "cameras": [camera("a", models=["coco"]), camera("b", models=["default", "coco"]),
                    camera("c", group="crossing"), camera("d"), camera("e", models=["coco"])],
    })  # fmt: skip
    cams = cameras_of(config, tmp_path)
    loaded = cams.detectors.loaded()
    assert set(loaded) == {"default", "coco"}  # "spare" is named by no camera: never loaded
    detector = {c: p.detector for c, p in cams.pipelines.items()}
    assert detector["a"] is detector["e"] is loaded["coco"]
    assert detector["d"] is loaded["default"] is cams.detector
    assert detector["b"] is detector["c"]  # the same list (own or the group's): one MultiDetector
    assert isinstance(detector["b"], MultiDetector) and detector["b"].parts == (loaded["default"], loaded["coco"])
    assert cams.camera_view("c")["models"] == ["default", "coco"]  # type: ignore[index]


@needs_models
def test_the_vision_worker_batches_each_camera_through_its_own_models(tmp_path: Path) -> None:
    config = two_model_config(
        tmp_path, [camera("grid-only"), camera("coco-only", models=["coco"]), camera("both", group="crossing")]
    )
    cams = cameras_of(config, tmp_path)
    image = bus_photo()
    frame = Frame(image=image, ts=0.0, index=0, wall_ts=0.0)
    cams.vision.step([(cam, frame) for cam in cams.pipelines])  # gated: batched, per detector
    assert cams.vision.batches >= 2 and cams.vision.errors == 0
    found = {cam: {key(d) for d in p.annotated.detections} for cam, p in cams.pipelines.items()}  # type: ignore[union-attr]

    def kept(cam: str, detector: Any) -> set[Any]:
        # The models report down to the checks' lower bar; a camera's incidents keep its bars.
        bars = cams.pipelines[cam].thresholds or {}
        return {key(d) for d in detector.detect(image) if d.score >= bars.get(d.label, bars.get("default", 0.0))}

    assert found["grid-only"] == kept("grid-only", cams.detectors.get("default"))
    assert found["coco-only"] == kept("coco-only", cams.detectors.get("coco"))
    assert found["both"] == kept("both", cams.pipelines["both"].detector)


class Thresholded:
    """A model as sensing sees one: per-class labels and a floor it can lower."""

    def __init__(self, labels: list[str], floors: list[float]) -> None:
        self.labels = tuple(labels)
        self.class_labels = labels
        self.thresholds = np.array(floors, np.float32)

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        return []


def test_sensing_lowers_only_the_models_of_the_raised_cameras() -> None:
    own = Thresholded(["person", "stall"], [0.4, 0.5])
    coco = Thresholded(["person", "vehicle"], [0.45, 0.3])
    detectors = {"a": own, "b": coco, "c": MultiDetector([own, coco])}
    pipes = {c: CameraPipeline(c, d, [], (0, 0)) for c, d in detectors.items()}  # type: ignore[arg-type]
    vision = VisionWorker({c: (None, p, 2.0) for c, p in pipes.items()}, lambda _i: None)  # type: ignore[misc]
    sensing = Sensing(vision, {"default": 0.4})
    sensing.apply({"a": Want(5.0, {"default": 0.2})})
    assert own.thresholds.tolist() == pytest.approx([0.2, 0.2])  # camera a's model lets more through...
    assert coco.thresholds.tolist() == pytest.approx([0.45, 0.3])  # ...the COCO model, which a does not run, holds
    assert pipes["a"].thresholds == {"default": 0.2} and vision.cameras["a"][2] == 5.0
    assert pipes["b"].thresholds is None  # b runs only the COCO model: nothing changed for it
    # c shares a's model: it keeps the bars its models had, by label (a shared label: the lower).
    assert pipes["c"].thresholds == pytest.approx({"person": 0.4, "stall": 0.5, "vehicle": 0.3})
    sensing.apply({"c": Want(5.0, {"default": 0.25})})  # c runs both: both lowered
    assert own.thresholds.tolist() == pytest.approx([0.25, 0.25]) and coco.thresholds.tolist() == pytest.approx([0.25, 0.25])
    assert pipes["a"].thresholds == {"person": 0.4, "stall": 0.5} and pipes["b"].thresholds == pytest.approx({"person": 0.45, "vehicle": 0.3})
    sensing.apply({})
    assert own.thresholds.tolist() == pytest.approx([0.4, 0.5]) and coco.thresholds.tolist() == pytest.approx([0.45, 0.3])
    assert all(p.thresholds is None for p in pipes.values()) and vision.cameras["c"][2] == 2.0
