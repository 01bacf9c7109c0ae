"""Rule quality on rendered scenes: run the pipeline where the incidents are known, and
score each rule's incidents against the scene's ground-truth events.

A rendered scene (`scenes.SceneRenderer`) schedules its events (fire, a fallen
person, a crowd, a car in the no-parking box or the fire lane, dumped garbage, a stall, and
the standing problems: an overflowing bin, rubble, piled goods, a banner, laundry, standing
water, a fallen tree, a pothole, an open manhole, a pile of bikes) and says when and
where each one is active. An incident is a true positive when its rule is the one that
watches for the event's kind, it is raised while the event runs (give or take a grace
period) and it is in the event's zone or close to where it happens. Per rule: TP (events
found), FP (incidents that match no event), FN (events missed) and duplicates (extra
incidents for an event already found: true alarms, but repeated).

    from vision.evaluate import evaluate
    report = evaluate("models/grid-yolo.onnx", seeds=(1, 2), seconds=300, fps=5)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scenes import SceneRenderer
from streams.base import Frame
from vision.classes import CLASSES
from vision.config import RulesConfig, ZoneConfig
from vision.detectors.base import Box, Detection, Detector
from vision.gate import MotionGate
from vision.incident import Incident
from vision.pipeline import CameraPipeline
from vision.rule_scores import Scores, expected_in, score
from vision.rules import build_rules
from vision.thresholds import load_thresholds

# The detector label each kind of event is seen by: a model without it cannot be asked to find it.
EVENT_LABELS: dict[str, str] = {
    "illegal_parking": "vehicle", "fire": "fire", "fallen_person": "person", "crowd": "person",
    "garbage": "garbage", "stall": "stall", "pothole": "pothole", "fire_lane_parking": "vehicle",
    "bike_pileup": "bicycle",
    **{k: k for k in ("overflowing_bin", "construction_waste", "piled_goods", "banner", "laundry",
                      "waterlogging", "fallen_tree", "open_manhole")},
}  # fmt: skip
# Conditions that stay until handled, one detector class each: watched wherever they happen.
STAYING_RULES = [
    "overflowing_bin", "construction_waste", "piled_goods", "banner", "laundry", "waterlogging",
    "fallen_tree", "road_damage", "open_manhole", "bike_pileup",
]  # fmt: skip
ROAD_RULES = ["waterlogging", "fallen_tree", "road_damage", "open_manhole", "construction_waste"]
# The rendered scenes' zones → the rules that watch each, as the demo configures its
# cameras (traffic lanes are not watched); fire is watched over the whole view.
SCENE_RULES: dict[str, list[str]] = {
    "no-parking": ["illegal_parking"],
    "fire-lane": ["fire_lane"],
    "no-vending": ["stall"],
    "road": ROAD_RULES,
    "sidewalk": ["dumping", "stall", "fallen_person", "crowding", *STAYING_RULES],
    "sidewalk-far": ["dumping", "stall", "fallen_person", "crowding", *STAYING_RULES],
    "plaza": ["dumping", "fallen_person", "crowding", *STAYING_RULES],
}
VIEW_ZONE = "view"
# The demo's detector thresholds and rule settings: what is scored is what runs there.
THRESHOLDS: dict[str, float] = {"default": 0.4, "fire": 0.3, "smoke": 0.3}
RULES = RulesConfig(dwell_s=8.0, cooldown_s=45.0)
def scene_zones(scene: SceneRenderer) -> list[ZoneConfig]:
    zones = [
        ZoneConfig(name=name, polygon=[(float(x), float(y)) for x, y in polygon], rules=SCENE_RULES[name])
        for name, polygon in scene.zones.items()
        if name in SCENE_RULES
    ]
    w, h = float(scene.width), float(scene.height)
    zones.append(ZoneConfig(name=VIEW_ZONE, polygon=[(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)], rules=["fire"]))
    return zones


def scene_pipeline(
    scene: SceneRenderer,
    detector: Detector,
    gate: MotionGate | None = None,
    rules: RulesConfig = RULES,
    camera_id: str = "sim",
) -> CameraPipeline:
    """A camera pipeline watching a rendered scene's zones as the demo does."""
    zones = scene_zones(scene)
    return CameraPipeline(
        camera_id,
        detector,
        build_rules(zones, rules),
        (0.0, 0.0),
        [(z.name, z.polygon or []) for z in zones],
        rules.max_track_gap_s,
        gate,
    )


class CountingDetector:
    """A detector that counts its inferences (one per whole frame or per gated crop)."""

    def __init__(self, inner: Detector) -> None:
        self.inner = inner
        self.labels = inner.labels
        self.inferences = 0

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        self.inferences += 1
        return self.inner.detect(image, stream_id)


class TruthDetector:
    """Detections straight from the renderer's ground truth, scored 1.0: the rules judged
    alone, as if the detector were perfect. `run_clip` shows it each frame's truth."""

    labels: tuple[str, ...] = CLASSES

    def __init__(self) -> None:
        self._truth: list[tuple[str, Box]] = []

    def show(self, truth: list[tuple[str, Box]]) -> None:
        self._truth = truth

    def detect(self, image: np.ndarray, stream_id: str = "") -> list[Detection]:
        return [Detection(label, 1.0, box) for label, box in self._truth]


def frame_times(t0: float, t1: float, fps: float) -> list[float]:
    """Scene times of the frames from t0 (included) to t1 (excluded) at `fps`."""
    return [t0 + i / fps for i in range(max(0, math.ceil((t1 - t0) * fps - 1e-9)))]


def run_clip(
    scene: SceneRenderer,
    pipelines: Sequence[CameraPipeline],
    t0: float,
    t1: float,
    fps: float,
    tick: Callable[[], None] | None = None,
    truth: TruthDetector | None = None,
) -> list[list[Incident]]:
    """Render the scene from t0 to t1 once per frame and feed every pipeline the same frames
    (and `truth`, when given, each frame's ground truth).

    Frame times are scene seconds, so incidents carry scene time in `ts`."""
    found: list[list[Incident]] = [[] for _ in pipelines]
    for index, t in enumerate(frame_times(t0, t1, fps)):
        image, labels = scene.render(t)
        if truth is not None:
            truth.show(labels)
        frame = Frame(image=image, ts=t, index=index, wall_ts=t)
        for out, pipeline in zip(found, pipelines, strict=True):
            out.extend(pipeline.process(frame))
        if tick is not None:
            tick()
    return found


def evaluate(
    model_path: str | Path | None,
    seeds: Sequence[int] = (1, 2),
    seconds: float = 300.0,
    fps: float = 5.0,
    kinds: Sequence[str] = ("street", "plaza"),
    density: float = 1.0,
    thresholds: dict[str, float] | None = None,
    gate: bool = False,
    threads: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the pipeline over each (kind, seed) scene from 0 to `seconds` and score its rules.
    `model_path` None detects with the ground truth instead (the rules judged alone).

    Returns {"rules": {rule: {tp, fp, fn, duplicates, precision, recall}}, "total": {...},
    "scenes": [...], "frames", "inferences", "missed": [...], "false_alarms": [...]}."""
    from tqdm import tqdm

    detector, truth, size = _detector(model_path, gate, thresholds, threads)
    counted = CountingDetector(detector)
    scenes = [(kind, seed) for kind in kinds for seed in seeds]
    per_scene = len(frame_times(0.0, seconds, fps))
    total = Scores()
    report: dict[str, Any] = {
        "model": "ground truth" if model_path is None else str(model_path),
        "seconds": seconds,
        "fps": fps,
        "density": density,
        "gate": gate,
        "scenes": [],
    }
    bar = tqdm(total=per_scene * len(scenes), desc="evaluate rules", unit="frame", disable=not progress)
    with bar:
        for kind, seed in scenes:
            scene = SceneRenderer(seed, kind=kind, density=density)
            pipeline = scene_pipeline(scene, counted, MotionGate(region_size=size) if gate else None)
            (incidents,) = run_clip(scene, [pipeline], 0.0, seconds, fps, bar.update, truth)
            events = scene.events_until(seconds)
            scores = score(incidents, events, expected_in(events, 0.0, seconds))
            total.add(scores)
            report["scenes"].append({"kind": kind, "seed": seed, **scores.to_dict()})
    report.update(total.to_dict())
    report["frames"] = per_scene * len(scenes)
    report["inferences"] = counted.inferences
    report["missed"] = [{"kind": e["kind"], "start_s": e["start_s"], "zone": e["zone"]} for e in total.missed]
    report["false_alarms"] = [
        {"rule": i.rule, "zone": i.zone, "label": i.label, "ts": round(i.ts, 1), "box": [round(v) for v in i.box]}
        for i in total.false_alarms
    ]
    return report


def _detector(
    model_path: str | Path | None, gate: bool, thresholds: dict[str, float] | None, threads: int | None
) -> tuple[Detector, TruthDetector | None, int]:
    """The detector to evaluate with, the ground truth it is (None for a model), and the
    motion gate's region size that fits the detector's input."""
    if model_path is None and gate:
        raise ValueError("ground-truth detections cover whole frames; they cannot stand in for gated crops")
    if model_path is None:
        truth = TruthDetector()
        return truth, truth, 320
    from vision.detectors.onnx import OnnxDetector

    chosen = thresholds or load_thresholds(Path(model_path), THRESHOLDS)
    onnx = OnnxDetector(model_path, thresholds=chosen, threads=threads)
    return onnx, None, max(onnx.size)


def format_table(rules: dict[str, dict[str, Any]]) -> str:
    """Per-rule figures as a fixed-width table."""
    lines = [f"{'rule':<16}{'tp':>4}{'fp':>4}{'fn':>4}{'dup':>5}{'precision':>11}{'recall':>8}"]
    for rule, s in rules.items():
        p = "-" if s["precision"] is None else f"{s['precision']:.2f}"
        r = "-" if s["recall"] is None else f"{s['recall']:.2f}"
        lines.append(f"{rule:<16}{s['tp']:>4}{s['fp']:>4}{s['fn']:>4}{s['duplicates']:>5}{p:>11}{r:>8}")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse
    import json

    parser = argparse.ArgumentParser(description="Score the incident rules on rendered scenes.")
    parser.add_argument("--model", default="models/grid-yolo.onnx", help="ONNX model; 'truth': ground truth")
    parser.add_argument("--seeds", default="1,2", help="comma-separated scene seeds")
    parser.add_argument("--kinds", default="street,plaza")
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--fps", type=float, default=5.0)
    parser.add_argument("--density", type=float, default=1.0)
    parser.add_argument("--gate", action="store_true", help="detect through the motion gate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = evaluate(
        None if args.model == "truth" else args.model,
        [int(s) for s in args.seeds.split(",")],
        args.seconds,
        args.fps,
        args.kinds.split(","),
        args.density,
        gate=args.gate,
    )
    print(json.dumps(result) if args.json else format_table({**result["rules"], "total": result["total"]}))
