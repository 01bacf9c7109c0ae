"""Per-class thresholds (vision/train/calibrate.py, vision/thresholds.py): the F1-best threshold
of a class, the greedy matching, the sidecar file beside a model, and a short real run."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import ROOT
from vision.thresholds import load_thresholds, sidecar
from vision.train.calibrate import (
    CEILING,
    FLOOR,
    MIN_INSTANCES,
    best_threshold,
    calibrate,
    match,
    write_thresholds,
)

MODEL = ROOT / "models" / "grid-yolo.onnx"


def test_the_threshold_is_the_f1_best_score_and_ties_go_higher() -> None:
    scores = np.array([0.9, 0.8, 0.55, 0.5, 0.3, 0.2])
    hits = np.array([True, True, False, True, True, False])
    # F1 per cut: 0.08, 0.15, 0.14, 0.21, 0.27 (at 0.3: 4 hits of 5 kept, 4 of 25 objects), 0.26
    t, p, r, f = best_threshold(scores, hits, 25, 0.4)
    assert t == 0.3 and p == pytest.approx(0.8) and r == pytest.approx(4 / 25)
    assert f == pytest.approx(2 * 0.8 * 0.16 / 0.96)
    tie_scores = np.array([0.5, 0.45, 0.4, 0.35])
    tie_hits = np.array([True, False, False, False])
    t, *_ = best_threshold(tie_scores, tie_hits, MIN_INSTANCES, 0.4)
    assert t == 0.5  # adding only misses never raises F1: the highest score that reaches it


def test_a_threshold_stays_inside_the_floor_and_ceiling_and_rare_classes_keep_the_default() -> None:
    scores = np.array([0.95, 0.9, 0.1, 0.08])  # no score inside the band: the default
    hits = np.array([True, True, True, True])
    assert best_threshold(scores, hits, 40, 0.4)[0] == 0.4
    t, *_ = best_threshold(np.array([0.95, 0.5, 0.3, 0.1]), np.array([True, False, True, True]), 40, 0.4)
    assert FLOOR <= t == 0.3 <= CEILING  # the best cut inside the band, not 0.1 below the floor
    assert best_threshold(scores, hits, MIN_INSTANCES - 1, 0.33)[0] == 0.33  # too few to judge
    t, p, r, f = best_threshold(np.array([]), np.array([], bool), 50, 0.33)
    assert t == 0.33 and math.isnan(p) and math.isnan(r) and math.isnan(f)


def test_matching_is_greedy_by_score_one_detection_per_object_and_class_aware() -> None:
    truth = [("pothole", (0.0, 0.0, 10.0, 10.0)), ("open_manhole", (50.0, 50.0, 60.0, 60.0))]
    found = [
        ("pothole", 0.6, (0.0, 0.0, 10.0, 10.0)),
        ("pothole", 0.9, (1.0, 1.0, 10.0, 10.0)),  # higher score: it takes the pothole
        ("pothole", 0.7, (50.0, 50.0, 60.0, 60.0)),  # a manhole taken for a pothole: a miss
        ("open_manhole", 0.3, (51.0, 51.0, 61.0, 61.0)),
    ]
    assert match(found, truth) == [False, True, False, True]


def test_the_thresholds_file_beside_a_model(tmp_path: Path) -> None:
    model = tmp_path / "m.onnx"
    fallback = {"default": 0.4, "fire": 0.3}
    assert load_thresholds(model, fallback) == fallback  # no file: the fallback
    from vision.train.calibrate import ClassCalibration

    table = {"fire": ClassCalibration("fire", 0.22, 0.9, 0.8, 0.85, 60)}
    path = write_thresholds(model, table, 400, 7000)
    assert path == sidecar(model) == tmp_path / "m.thresholds.json"
    assert load_thresholds(model, fallback) == {"default": 0.4, "fire": 0.22}
    assert json.loads(path.read_text())["classes"]["fire"]["instances"] == 60
    path.write_text("[]")
    with pytest.raises(ValueError, match="m.thresholds.json"):
        load_thresholds(model, fallback)


def test_a_detector_config_takes_the_models_file_unless_it_names_thresholds(tmp_path: Path) -> None:
    from vision.config import DetectorConfig
    from vision.detectors import thresholds_of
    from vision.train.calibrate import ClassCalibration

    model = tmp_path / "m.onnx"
    assert thresholds_of(DetectorConfig(backend="onnx", model=model)) == {"default": 0.35}  # no file yet
    write_thresholds(model, {"fire": ClassCalibration("fire", 0.22, 0.9, 0.8, 0.85, 60)}, 400, 7000)
    assert thresholds_of(DetectorConfig(backend="onnx", model=model)) == {"default": 0.35, "fire": 0.22}
    named = DetectorConfig(backend="onnx", model=model, thresholds={"default": 0.5})
    assert thresholds_of(named) == {"default": 0.5}  # the config's own win, the file is not mixed in


@pytest.mark.skipif(not MODEL.exists(), reason=f"{MODEL} is not there")
def test_a_short_calibration_of_the_16_class_model() -> None:
    table = calibrate(MODEL, images=24, progress=False)
    assert len(table) == 16 and table["person"].instances >= MIN_INSTANCES
    person = table["person"]
    assert FLOOR <= person.threshold <= CEILING and 0 < person.recall <= 1 and 0 < person.precision <= 1
    assert all(c.threshold == 0.4 for c in table.values() if c.instances < MIN_INSTANCES)
