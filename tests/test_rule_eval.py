"""Rule tests on rendered sequences with known ground truth (issue 4).

The rendered scenes schedule their incidents and say when and where each one is active.
For the first event of each kind in a street and a plaza scene, the pipeline (tracker and
the demo's rules on the scene's zones) runs from a few seconds before the event until its
rule has had time to fire: the rule must fire (recall), and nothing else may fire without
an event to match (precision). A stretch of each scene without events must stay silent.

Each sequence goes through two detectors on the same frames: the renderer's ground truth
(always; it judges the tracker and rules alone, so every rule must be perfect there) and
the project's model `models/grid-yolo.onnx` (when present; floors just under what it reaches).
The per-rule TP/FP/FN, precision and recall tables are printed (`pytest -s` shows them).
The scoring itself is tested on hand-made incidents.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from scenes import SceneRenderer
from scenes.events import CLASSIC_KINDS
from tests.helpers import ROOT
from vision.classes import CLASSES
from vision.config import ZoneConfig
from vision.detectors.base import Detector
from vision.detectors.onnx import OnnxDetector
from vision.evaluate import (
    EVENT_LABELS,
    RULES,
    THRESHOLDS,
    TruthDetector,
    format_table,
    frame_times,
    run_clip,
    scene_pipeline,
)
from vision.incident import Incident
from vision.pipeline import CameraPipeline
from vision.rule_scores import EVENT_RULES, Scores, matches, score
from vision.rules import build_rules
from vision.thresholds import load_thresholds

# The sequences of every kind take minutes on two shared cores: past the suite's 300 s.
pytestmark = pytest.mark.timeout(1200)

# GRID_MODEL tries a candidate model (a fresh export) before it is committed.
MODEL = Path(os.environ.get("GRID_MODEL", ROOT / "models" / "grid-yolo.onnx"))
MODEL_THRESHOLDS = load_thresholds(MODEL, THRESHOLDS)  # calibrated beside the model, or the demo's
needs_model = pytest.mark.skipif(
    not MODEL.exists(),
    reason=f"{MODEL} (the project's trained model) is not there yet; GRID_MODEL may name another",
)

FPS = 5.0
LEAD_S = 5.0  # quiet time before an event: tracks form, the fallen person is seen standing
# How long after an event turns active its rule needs: fire 3 of 5 frames, a fall 3 s down,
# a crowd 5 s gathered, parking/dumping/stall 8 s stationary; plus time for tracks to settle.
NEEDS_S = {
    "fire": 8.0,
    "fallen_person": 10.0,
    "crowd": 12.0,
    "illegal_parking": 16.0,
    "garbage": 16.0,
    "stall": 16.0,
    # the standing problems (one detector class each) and the two parking kinds: 8 s still
    **dict.fromkeys(
        ("overflowing_bin", "construction_waste", "piled_goods", "banner", "laundry", "waterlogging",
         "fallen_tree", "pothole", "open_manhole", "fire_lane_parking", "bike_pileup"),
        16.0,
    ),
}
# The street stages every kind (the classic six and the standing problems); the plaza the
# classic ones, where people and stalls behave differently from the street.
PLAZA_CLASSIC = tuple(k for k in CLASSIC_KINDS if k != "illegal_parking")  # a plaza has no kerb to park at
# (scene kind, seed, event kinds (None: all), who detects). A model that lacks the standing
# problems' classes takes a banner or a crate pile for a stall, as any detector would take what
# it was never shown for its nearest class: it watches a street of the classic events only.
MODEL_SEES_ALL = MODEL.exists() and set(CLASSES) <= set(OnnxDetector(MODEL).labels)
SCENES: tuple[tuple[str, int, tuple[str, ...] | None, tuple[str, ...]], ...] = (
    ("street", 1, None, ("truth", "model") if MODEL_SEES_ALL else ("truth",)),
    ("plaza", 1, PLAZA_CLASSIC, ("truth", "model")),
    *(() if MODEL_SEES_ALL else (("street", 1, CLASSIC_KINDS, ("model",)),)),
)
QUIET_S = 60.0
# With the renderer's own boxes as detections only the tracker and the rules can fail: every
# rule must find its events, and nothing may fire without one.
TRUTH_RECALL = 1.0
TRUTH_PRECISION = 1.0
TRUTH_RULE_RECALL = dict.fromkeys(EVENT_RULES.values(), 1.0)
# With the project's model (grid-yolo.onnx v9, 16 classes, held-out mAP50 0.80, at its calibrated
# thresholds), measured on these 22 events of 17 kinds: recall 21/22, precision 21/22, every kind
# raised (one of the two lying persons missed; one open manhole raised without its event). v3, the
# 7-class default before it: 10/11 of the classic events. Each floor leaves room for one more
# miss or one more false alarm; the kinds' floor for one kind to drop.
MODEL_RECALL = 0.9
MODEL_PRECISION = 0.9
MODEL_KINDS_RAISED = len(EVENT_RULES) - 1 if MODEL_SEES_ALL else 5  # of 17 (v3: 5 of the classic 6)
MODEL_RULE_RECALL = {
    "fire": 0.5,  # 2/2
    "stall": 0.5,  # 2/2
    "crowding": 0.5,  # 2/2
    "dumping": 0.5,  # 2/2
    # Reported in the table, not asserted one by one (one event each, or one of two found: the
    # lying persons); MODEL_KINDS_RAISED counts them.
    "fallen_person": 0.0,
    "illegal_parking": 0.0,
}


def incident(rule: str, ts: float, box: tuple[float, float, float, float], zone: str = "z") -> Incident:
    return Incident("cam", ts, rule, zone, "x", 0.9, box, 0.0, 0.0, 1, b"")


EVENTS: list[dict[str, Any]] = [
    {
        "kind": "fire",
        "start_s": 10.0,
        "end_s": 50.0,
        "active_s": (13.0, 47.0),
        "where": (100.0, 100.0),
        "zone": "a",
    },
    {
        "kind": "crowd",
        "start_s": 30.0,
        "end_s": 90.0,
        "active_s": (44.0, 90.0),
        "where": (400.0, 200.0),
        "zone": "b",
    },
    {
        "kind": "fire",
        "start_s": 200.0,
        "end_s": 240.0,
        "active_s": (203.0, 237.0),
        "where": (500.0, 90.0),
        "zone": "a",
    },
]


def test_an_incident_matches_its_kind_when_and_where_the_event_runs() -> None:
    fire = EVENTS[0]
    assert matches(incident("fire", 12.0, (80, 60, 120, 100)), fire)
    assert matches(incident("fire", 8.0, (80, 60, 120, 100)), fire)  # within the grace period
    assert not matches(incident("fire", 60.0, (80, 60, 120, 100)), fire)  # long after
    assert not matches(incident("crowding", 12.0, (80, 60, 120, 100)), fire)  # another rule
    assert not matches(incident("fire", 12.0, (400, 300, 440, 340), zone="view"), fire)  # elsewhere
    assert matches(incident("fire", 12.0, (400, 300, 440, 340), zone="a"), fire)  # but in its zone


def test_scores_count_found_missed_false_and_repeated() -> None:
    found = [
        incident("fire", 14.0, (90, 60, 110, 100)),
        incident("fire", 20.0, (90, 60, 110, 100)),  # the same fire again
        incident("crowding", 120.0, (380, 150, 420, 210)),  # no crowd then
    ]
    scores = score(found, EVENTS, expected=[0, 1])  # the last fire is outside the run
    fire, crowd = scores.rules["fire"], scores.rules["crowding"]
    assert (fire.tp, fire.fp, fire.fn, fire.duplicates) == (1, 0, 0, 1)
    assert (crowd.tp, crowd.fp, crowd.fn) == (0, 1, 1)
    assert crowd.precision == 0.0 and crowd.recall == 0.0 and fire.precision == 1.0
    assert scores.total.tp == 1 and scores.total.fp == 1 and scores.total.fn == 1
    assert set(EVENT_RULES.values()) <= set(scores.rules)


Results = list[tuple[str, dict[str, Any], dict[str, Scores]]]


@pytest.fixture(scope="module")
def around_events() -> Results:
    """(scene kind, event, {"truth" | "model": scores}) for the first event of each kind in
    each scene, each run on its own from LEAD_S before the event until its rule has had time
    to fire. The same frames go through two pipelines: one detecting with the project's model
    (when it is there), one fed the renderer's ground truth (the rules judged alone)."""
    model = OnnxDetector(MODEL, thresholds=MODEL_THRESHOLDS) if MODEL.exists() else None
    truth = TruthDetector()
    out: Results = []
    for kind, seed, kinds, who in SCENES:
        scene = SceneRenderer(seed, kind=kind, kinds=kinds)
        events = scene.events_until(900.0)  # every kind of the street turns up by then
        firsts = {e["kind"]: i for i, e in reversed(list(enumerate(events)))}
        for i in sorted(firsts.values()):
            event = events[i]
            t0, t1 = event["start_s"] - LEAD_S, event["active_s"][0] + NEEDS_S[event["kind"]]
            present: dict[str, Detector | None] = {"truth": truth, "model": model}
            detectors: dict[str, Detector] = {n: d for n, d in present.items() if d is not None and n in who}
            pipelines = [scene_pipeline(scene, d) for d in detectors.values()]
            found = run_clip(scene, pipelines, t0, t1, FPS, truth=truth)
            # Other events overlapping the run may absorb incidents but are not expected.
            # A model without the event's class (an older model) is not asked to find it.
            scores = {
                name: score(incidents, events, [i] if EVENT_LABELS[event["kind"]] in detectors[name].labels else [])
                for name, incidents in zip(detectors, found, strict=True)
            }
            out.append((kind, event, scores))
    return out


def summary(results: Results, detector: str) -> tuple[Scores, dict[str, Any], list[tuple[str, str, float]]]:
    total = Scores()
    for _, _, scores in results:
        if detector in scores:
            total.add(scores[detector])
    table = total.to_dict()
    print(
        f"\nrules on rendered sequences, detecting with the {detector} (first event of each kind, street and plaza):"
    )
    print(format_table({**table["rules"], "total": table["total"]}))
    missed = [(kind, e["kind"], e["start_s"]) for kind, e, s in results if detector in s and s[detector].total.fn]
    return total, table, missed


@pytest.mark.parametrize(
    ("detector", "min_recall", "min_rule_recall"),
    [
        ("truth", TRUTH_RECALL, TRUTH_RULE_RECALL),
        pytest.param("model", MODEL_RECALL, MODEL_RULE_RECALL, marks=needs_model),
    ],
)
def test_each_rule_fires_when_it_should(
    around_events: Results, detector: str, min_recall: float, min_rule_recall: dict[str, float]
) -> None:
    _, table, missed = summary(around_events, detector)
    assert table["total"]["recall"] >= min_recall, f"missed events: {missed}"
    for rule, floor in min_rule_recall.items():
        recall = table["rules"][rule]["recall"]
        assert recall is not None and recall >= floor, f"{rule} recall {recall}; missed: {missed}"
    raised = [rule for rule, row in table["rules"].items() if row["recall"]]
    kinds_floor = len(EVENT_RULES) if detector == "truth" else MODEL_KINDS_RAISED
    assert len(raised) >= kinds_floor, f"kinds raised: {sorted(raised)}; missed: {missed}"


@pytest.mark.parametrize(
    ("detector", "min_precision"),
    [("truth", TRUTH_PRECISION), pytest.param("model", MODEL_PRECISION, marks=needs_model)],
)
def test_rules_stay_silent_without_an_event(
    around_events: Results, detector: str, min_precision: float
) -> None:
    total, _, _ = summary(around_events, detector)
    false_alarms = [(i.rule, i.zone, i.label, round(i.ts, 1)) for i in total.false_alarms]
    precision = total.total.precision
    assert precision is not None and precision >= min_precision, f"false alarms: {false_alarms}"


@pytest.mark.parametrize("kind", ["street", "plaza"])
def test_a_quiet_scene_raises_nothing(kind: str) -> None:
    """Ordinary traffic only (no event is ever staged): no rule may fire, with the model or
    with perfect detections."""
    scene = SceneRenderer(2, kind=kind, first_event_s=1e9)
    truth = TruthDetector()
    detectors: list[Detector] = [truth] + (
        [OnnxDetector(MODEL, thresholds=MODEL_THRESHOLDS)] if MODEL.exists() else []
    )
    found = run_clip(scene, [scene_pipeline(scene, d) for d in detectors], 0.0, QUIET_S, FPS, truth=truth)
    assert not scene.events_until(QUIET_S)
    for incidents in found:
        assert [(i.rule, i.zone, i.label, round(i.ts, 1)) for i in incidents] == []


def test_frames_are_rendered_the_same_when_asked_again() -> None:
    """The tests above render windows out of order; the scene must not depend on that."""
    scene = SceneRenderer(1, kind="street")
    first, _ = scene.render(42.0)
    scene.render(300.0)
    again, _ = scene.render(42.0)
    assert np.array_equal(first, again)


def _detectors() -> dict[str, Detector]:
    truth: dict[str, Detector] = {"truth": TruthDetector()}
    return truth | ({"model": OnnxDetector(MODEL, thresholds=MODEL_THRESHOLDS)} if MODEL.exists() else {})


def test_smoke_and_intrusion_are_raised_by_their_own_rules() -> None:
    """The two types no staged event stands for alone: smoke (the plume of the first fire,
    watched by the `smoke` rule over the whole view) and a person entering a restricted zone
    (`zone_intrusion` on the far sidewalk: the first person the ground truth puts in it)."""
    scene = SceneRenderer(1, kind="street", kinds=("fire",))
    fire = scene.events_until(600.0)[0]
    w, h = float(scene.width), float(scene.height)
    far = scene.zones["sidewalk-far"]
    zones = [
        ZoneConfig(name="view", polygon=[(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)], rules=["smoke"]),
        ZoneConfig(name="restricted", polygon=[(float(x), float(y)) for x, y in far], rules=["zone_intrusion"], labels=["person"]),
    ]
    detectors = _detectors()
    pipelines = [
        CameraPipeline("cam", d, build_rules(zones, RULES), (0.0, 0.0), [], RULES.max_track_gap_s) for d in detectors.values()
    ]
    truth = detectors["truth"]
    assert isinstance(truth, TruthDetector)
    t0, t1 = fire["start_s"] - LEAD_S, fire["active_s"][0] + 12.0
    found = run_clip(scene, pipelines, t0, t1, FPS, truth=truth)
    contour = np.asarray(far, np.float32).reshape(-1, 1, 2)
    entered = next(
        (t for t in frame_times(t0, t1, FPS) for label, box in scene.render(t)[1]
         if label == "person" and cv2.pointPolygonTest(contour, ((box[0] + box[2]) / 2, box[3]), False) >= 0),
        None,
    )  # fmt: skip
    assert entered is not None, "nobody walked the far sidewalk: pick another seed"
    for name, incidents in zip(detectors, found, strict=True):
        smoke = [i for i in incidents if i.rule == "smoke"]
        intrusion = [i for i in incidents if i.rule == "zone_intrusion"]
        assert smoke and smoke[0].label == "smoke" and fire["start_s"] <= smoke[0].ts <= fire["end_s"], name
        assert intrusion and intrusion[0].ts <= entered + 3.0, (name, entered, [round(i.ts, 1) for i in intrusion])
