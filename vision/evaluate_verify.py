"""Video verification on rendered scenes: does the camera's check tell a handled case from
one whose problem is still there?

Each pair is one staged event (a stall, dumped garbage, a car in the no-parking box, a
fire, a crowd, a fallen person, and any newer kind the scenes stage and the model can see)
in a street or plaza scene, watched by a real `CameraPipeline` (the ONNX model, the motion
gate on, 5 fps) from a few seconds before it begins. Once its incident fires (or, should
the rule miss it, `WAIT_S` into the active span, with the ground truth's box), the check
starts `AFTER_S` later. "Handled": the scene resolves the event at that moment (everything
of it leaves the stage); "not handled": the event persists for ever. The check runs until
its verdict (or its timeout).

Scored: precision and recall of "cleared" (positive = truly handled), the confusion of
outcomes per truth, and FALSE AUTO-VERIFICATIONS: "cleared" while the event's object was
visible, by the renderer's ground truth, in the check's region at the deciding frame. That
number must be 0. Everything is seeded: the same command gives the same figures.

    from vision.evaluate_verify import evaluate_verify
    report = evaluate_verify("models/grid-yolo.onnx", pairs=48, hold_s=15.0)
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scenes import SceneRenderer
from scenes.paint import clip_box
from streams.base import Frame
from vision.detectors.base import Box, Detection
from vision.evaluate import RULES, THRESHOLDS, scene_pipeline
from vision.gate import MotionGate
from vision.incident import Incident
from vision.pipeline import CameraPipeline
from vision.rule_scores import EVENT_RULES, matches
from vision.spot_look import look, raised_look
from vision.thresholds import load_thresholds
from vision.verify import (
    NO_LOOK_RULES,
    CheckRequest,
    SceneCheck,
    Verdict,
    check_bars,
    detector_floor,
    overlaps,
    padded,
    request_for,
)

# The object whose presence means the problem is still there, per staged kind; kinds not
# listed are one detector class of their own name (the governance props: "pothole", ...).
KIND_LABELS: dict[str, frozenset[str]] = {
    "stall": frozenset({"stall"}),
    "garbage": frozenset({"garbage"}),
    "illegal_parking": frozenset({"vehicle"}),
    "fire_lane_parking": frozenset({"vehicle"}),
    "fire": frozenset({"fire", "smoke"}),
    "crowd": frozenset({"person"}),
    "fallen_person": frozenset({"person"}),
    "bike_pileup": frozenset({"bicycle"}),
}
KIND_COUNT = {"crowd": RULES.crowd_count, "bike_pileup": 5}  # what the rule counts to fire
# The rule of a kind, where no incident names it (vision.evaluate knows the classic ones).
KIND_RULES = {**EVENT_RULES, "fire_lane_parking": "fire_lane", "pothole": "road_damage"}
CLASSIC = ("stall", "garbage", "illegal_parking", "fire", "crowd", "fallen_person")
STREET_ONLY = frozenset({"illegal_parking", "fire_lane_parking"})
FPS = 5.0
FIRST_S = 20.0  # the event begins this far into the scene...
LEAD_S = 3.0  # ...and the camera watches from this long before it (a crowd: 2 × before it gathers)
WAIT_S = 25.0  # no incident this far into the active span: check anyway (truth's box)
AFTER_S = 2.0  # the check starts this long after the incident (a worker reports handled)
MODEL_INPUT = 320  # the gate's crops: the model's input size
SEED_BASE = 101  # scene seeds of their own (rule evaluation: 1, 2; training: ≥ 1,000,000)


@dataclass(frozen=True, slots=True)
class Pair:
    kind: str
    scene: str  # street | plaza
    seed: int
    handled: bool


@dataclass
class PairResult:
    pair: Pair
    outcome: str  # cleared | present | unsure | none (no verdict by the end)
    region_from: str  # incident | truth
    check_s: float  # scene time the check started
    looked_s: float
    frames: int
    visible_at_decision: bool  # truth: the object in the region at the deciding frame
    visible_frames: int  # truth: frames of the deciding absence run in which it was visible
    wall_s: float

    @property
    def false_auto_verification(self) -> bool:
        return self.outcome == "cleared" and self.visible_at_decision

    def to_dict(self) -> dict[str, Any]:
        out = {**asdict(self.pair), **{k: v for k, v in asdict(self).items() if k != "pair"}}
        out["false_auto_verification"] = self.false_auto_verification
        return out


@dataclass
class Tally:
    """Outcomes per truth, and the figures of "cleared"."""

    confusion: dict[str, dict[str, int]] = field(
        default_factory=lambda: {t: dict.fromkeys(("cleared", "present", "unsure", "none"), 0) for t in ("handled", "not_handled")}
    )
    false_auto_verifications: int = 0

    skipped: int = 0  # no case to check: the model does not see the object at all

    def add(self, result: PairResult) -> None:
        if result.outcome == "skipped":
            self.skipped += 1
            return
        self.confusion["handled" if result.pair.handled else "not_handled"][result.outcome] += 1
        self.false_auto_verifications += result.false_auto_verification

    def to_dict(self) -> dict[str, Any]:
        tp = self.confusion["handled"]["cleared"]
        fp = self.confusion["not_handled"]["cleared"]
        positives = sum(self.confusion["handled"].values())
        return {
            "pairs": positives + sum(self.confusion["not_handled"].values()),
            "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / positives, 3) if positives else None,
            "confusion": self.confusion,
            "false_auto_verifications": self.false_auto_verifications,
            "skipped": self.skipped,
        }


def kind_labels(kind: str) -> frozenset[str]:
    return KIND_LABELS.get(kind, frozenset({kind}))


def staged_kinds(scene: str) -> tuple[str, ...]:
    """The kinds a scene of this kind stages now (the renderer grows new ones)."""
    return tuple(SceneRenderer(1, kind=scene).planner.kinds)


def checkable_kinds(detector_labels: Sequence[str]) -> list[str]:
    """Classic kinds first, then newer ones, each only if the model can see its object: a
    check for what the detector cannot see would "clear" everything."""
    staged = dict.fromkeys((*CLASSIC, *staged_kinds("street"), *staged_kinds("plaza")))
    return [k for k in staged if kind_labels(k) <= set(detector_labels)]


def plan_pairs(n: int, kinds: Sequence[str]) -> list[Pair]:
    """n pairs round the kinds; each kind alternates handled / not handled and street / plaza."""
    plaza = set(staged_kinds("plaza"))
    out = []
    for i in range(n):
        kind, round_no = kinds[i % len(kinds)], i // len(kinds)
        scene = "street" if kind in STREET_ONLY or kind not in plaza or round_no % 4 in (0, 3) else "plaza"
        out.append(Pair(kind, scene, SEED_BASE + round_no, handled=round_no % 2 == 0))
    return out


def staged_scene(pair: Pair) -> tuple[SceneRenderer, int]:
    """A scene whose first event is the pair's kind, FIRST_S in, and no other for ten minutes;
    and that event's position in the schedule."""
    limited = "kinds" in inspect.signature(SceneRenderer.__init__).parameters
    options: dict[str, Any] = {"kind": pair.scene, "event_every_s": 600.0, "first_event_s": FIRST_S}
    if limited:
        options["kinds"] = (pair.kind,)
    for attempt in range(200):  # without `kinds`: seeds until the first event is this kind
        scene = SceneRenderer(pair.seed + 1000 * attempt, **options)
        if scene.events_until(FIRST_S + 1.0)[0]["kind"] == pair.kind:
            return scene, 0
    raise ValueError(f"no {pair.scene} scene stages {pair.kind} first")


def truth_boxes(scene: SceneRenderer, position: int, labels: frozenset[str], t: float, visible: list[tuple[str, Box]]) -> list[Box]:
    """Boxes of the event's own objects (its actors, drawn on a scratch canvas) that the
    renderer counts as visible in the frame at t: passers-by are not the event."""
    event = scene.planner.events[position]
    canvas = np.zeros((scene.height, scene.width, 3), np.uint8)
    seen = [(cls, box) for cls, box in visible if cls in labels]
    out: list[Box] = []
    for actor in event.actors:
        if not actor.t0 <= t < actor.t1:
            continue
        for cls, box in actor.draw(canvas, scene.backdrop.cam, t):
            b = clip_box(box, scene.width, scene.height)
            if cls in labels and any(c == cls and max(abs(p - q) for p, q in zip(v, b, strict=True)) < 0.11 for c, v in seen):
                out.append(b)
    return out


def _union(boxes: Sequence[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


class _PairRun:
    """One pair, frame by frame: watch, start the check, judge its verdict against the truth."""

    def __init__(self, pair: Pair, pipeline: CameraPipeline, scene: SceneRenderer, position: int, hold_s: float,
                 timeout_s: float, compare_look: bool = True) -> None:  # fmt: skip
        self.pair, self.pipeline, self.scene, self.position = pair, pipeline, scene, position
        self.hold_s, self.timeout_s, self.compare_look = hold_s, timeout_s, compare_look
        self.raised: tuple[np.ndarray, Box] | None = None  # the incident box's look in its snapshot, as deployed
        self.event = scene.events_until(FIRST_S + 1.0)[position]
        self.labels = kind_labels(pair.kind)
        self.min_count = KIND_COUNT.get(pair.kind, 1)
        self.request: CheckRequest | None = None
        self.region_from = ""
        self.check_s = 0.0
        self.incident: Incident | None = None
        # (t, the renderer's visible labels) of each frame since the check began; judged
        # against the event's own objects only when needed (drawing them costs).
        self.seen: list[tuple[float, list[tuple[str, Box]]]] = []

    def start_check(self, t: float, visible: list[tuple[str, Box]], image: np.ndarray) -> bool:
        """Start the check at t; False when there is no case to check (see `_seen`)."""
        options: dict[str, Any] = {"min_count": self.min_count, "hold_s": self.hold_s, "timeout_s": self.timeout_s}
        check_id = f"V{self.pair.seed}-{self.pair.kind}"
        if self.incident is not None:
            if self.compare_look and self.raised is not None and self.incident.rule not in NO_LOOK_RULES:  # as deployed
                options["look"] = self.raised
            self.request = request_for(self.incident, check_id, **options)
            self.region_from = "incident"
        else:
            boxes = truth_boxes(self.scene, self.position, self.labels, t - 1.0 / FPS, visible)
            u, v = self.event["where"]
            box = _union(boxes) if boxes else (u - 40.0, v - 60.0, u + 40.0, v + 5.0)
            rule = KIND_RULES.get(self.pair.kind, self.pair.kind)
            # The case stands in for one raised now: its look is the last frame's, before the worker.
            found = look(image, box) if self.compare_look and boxes and rule not in NO_LOOK_RULES else None
            if found is not None:
                options |= {"look": found, "look_box": box}
            self.request = CheckRequest(check_id, self.pipeline.camera_id, padded(box), self.labels, rule=rule, **options)
            self.region_from = "truth"
            if not self._seen(self.request, image):
                return False
        if self.pair.handled:  # the worker dealt with it just before reporting
            self.scene.resolve(self.position, t)
        self.check_s = t
        self.pipeline.add_check(self.request)
        return True

    def _seen(self, request: CheckRequest, image: np.ndarray) -> bool:
        """Does the model see the event's object at all (one look at the region, as the gate
        would crop it)? Without an incident, the case stands in for one the camera raised,
        which it could not have done for something it cannot see: a piled-up row of bicycles
        the model finds none of would be "cleared" whether it is there or not."""
        h, w = image.shape[:2]
        x1, y1, x2, y2 = request.region
        side = min(max(MODEL_INPUT, x2 - x1, y2 - y1), w, h)
        left = min(max((x1 + x2 - side) / 2, 0.0), w - side)
        top = min(max((y1 + y2 - side) / 2, 0.0), h - side)
        crop = image[int(top) : int(top + side), int(left) : int(left + side)]
        found = [Detection(d.label, d.score, (d.box[0] + int(left), d.box[1] + int(top), d.box[2] + int(left), d.box[3] + int(top)))
                 for d in self.pipeline.detector.detect(crop)]  # fmt: skip
        check = SceneCheck(request, 0.0, check_bars(request.labels, self.pipeline.thresholds or THRESHOLDS))
        return len(check.matching(found)) >= request.min_count

    def run(self) -> PairResult:
        started = time.perf_counter()
        if not self.pair.handled:
            self.scene.persist(self.position)
        active0 = self.event["active_s"][0]
        t0 = max(self.event["start_s"] - LEAD_S, active0 - 2 * LEAD_S)
        due: float | None = None
        visible: list[tuple[str, Box]] = []
        image = np.zeros((self.scene.height, self.scene.width, 3), np.uint8)
        verdict: Verdict | None = None
        for index in range(int((active0 - t0 + WAIT_S + AFTER_S + self.timeout_s + 10.0) * FPS)):
            t = t0 + index / FPS
            starting = self.request is None and (due is not None and t >= due or t >= active0 + WAIT_S)
            if starting and not self.start_check(t, visible, image):
                return self._result(None, time.perf_counter() - started, skipped=True)
            image, visible = self.scene.render(t)
            incidents = self.pipeline.process(Frame(image=image, ts=t, index=index, wall_ts=t))
            if self.incident is None and due is None:
                self.incident = next((i for i in incidents if matches(i, self.event)), None)
                due = t + AFTER_S if self.incident is not None else None
                if self.incident is not None:
                    self.raised = raised_look(self.incident.snapshot_jpeg, self.incident.box)
            if self.request is not None:
                self.seen.append((t, visible))
            if verdicts := self.pipeline.take_verdicts():
                verdict = verdicts[0]
                break
        return self._result(verdict, time.perf_counter() - started)

    def _visible(self, t: float, visible: list[tuple[str, Box]]) -> bool:
        assert self.request is not None
        boxes = truth_boxes(self.scene, self.position, self.labels, t, visible)
        return sum(overlaps(b, self.request.region) for b in boxes) >= self.min_count

    def _result(self, verdict: Verdict | None, wall_s: float, skipped: bool = False) -> PairResult:
        # The deciding frame always; the whole absence run behind a "cleared" or "unsure".
        run = 1 if verdict is None or verdict.outcome == "present" else round(verdict.absent_s * FPS) + 1
        judged = [self._visible(t, visible) for t, visible in self.seen[-run:]]
        return PairResult(
            pair=self.pair, outcome=verdict.outcome if verdict else "skipped" if skipped else "none",
            region_from=self.region_from,
            check_s=round(self.check_s, 1), looked_s=round(verdict.looked_s, 1) if verdict else 0.0,
            frames=verdict.frames if verdict else len(self.seen), visible_at_decision=bool(judged and judged[-1]),
            visible_frames=sum(judged) if run > 1 else 0, wall_s=round(wall_s, 2),
        )  # fmt: skip


def evaluate_verify(
    model_path: str | Path,
    pairs: int = 48,
    hold_s: float = 15.0,
    timeout_s: float | None = None,
    kinds: Sequence[str] | None = None,
    floor: str = "check",
    progress: bool = True,
    threads: int | None = None,
    tick: Callable[[PairResult], None] | None = None,
    compare_look: bool = True,
) -> dict[str, Any]:
    """Run `pairs` pairs and score them. `floor`: "check" lets the detector report down to the
    checks' lower bar (CHECK_BAR × the incident thresholds; the camera's own floors keep
    incidents as they were); "incident": the detector stops at the incident thresholds.
    `compare_look`: the checks compare the spot's look with the incident's (vision/spot_look.py),
    as deployed; False measures the detector's word alone."""
    from tqdm import tqdm

    from vision.detectors.onnx import OnnxDetector

    if floor not in ("check", "incident"):
        raise ValueError(f"floor must be 'check' or 'incident', not {floor!r}")
    thresholds = load_thresholds(Path(model_path), THRESHOLDS)  # the model's calibrated ones, if any
    floors = detector_floor(thresholds) if floor == "check" else thresholds
    detector = OnnxDetector(model_path, thresholds=floors, threads=threads)
    chosen = list(kinds) if kinds else checkable_kinds(detector.labels)
    timeout = timeout_s if timeout_s is not None else 4 * hold_s
    results: list[PairResult] = []
    per_kind: dict[str, Tally] = {}
    total = Tally()
    with tqdm(plan_pairs(pairs, chosen), desc="verify pairs", unit="pair", disable=not progress) as bar:
        for pair in bar:
            scene, position = staged_scene(pair)
            pipeline = scene_pipeline(scene, detector, MotionGate(region_size=max(detector.size)))
            pipeline.thresholds = dict(thresholds)  # incidents exactly as deployed
            result = _PairRun(pair, pipeline, scene, position, hold_s, timeout, compare_look).run()
            results.append(result)
            per_kind.setdefault(pair.kind, Tally()).add(result)
            total.add(result)
            bar.set_postfix(false_auto=total.false_auto_verifications)
            if tick is not None:
                tick(result)
    return {
        "model": str(model_path),
        "pairs": len(results),
        "hold_s": hold_s,
        "timeout_s": timeout,
        "fps": FPS,
        "floor": floor,
        "compare_look": compare_look,
        "kinds": chosen,
        "total": total.to_dict(),
        "per_kind": {k: t.to_dict() for k, t in per_kind.items()},
        "seconds_per_pair": round(sum(r.wall_s for r in results) / max(len(results), 1), 2),
        "results": [r.to_dict() for r in results],
    }


def format_report(report: dict[str, Any]) -> str:
    """Per kind and overall: cleared/present/unsure for each truth, precision, recall. Pairs
    count those checked; skipped ones had no case (the model does not see the object)."""
    head = (
        f"{'kind':<20}{'pairs':>6}{'skipped':>8}{'handled c/p/u':>15}{'not handled c/p/u':>19}"
        f"{'precision':>11}{'recall':>8}{'false auto':>12}"
    )
    lines = [head]
    for name, row in [*report["per_kind"].items(), ("total", report["total"])]:
        h, n = row["confusion"]["handled"], row["confusion"]["not_handled"]
        cells = [f"{c['cleared']}/{c['present']}/{c['unsure'] + c['none']}" for c in (h, n)]
        p = "-" if row["precision"] is None else f"{row['precision']:.2f}"
        r = "-" if row["recall"] is None else f"{row['recall']:.2f}"
        lines.append(
            f"{name:<20}{row['pairs']:>6}{row['skipped']:>8}{cells[0]:>15}{cells[1]:>19}{p:>11}{r:>8}"
            f"{row['false_auto_verifications']:>12}"
        )
    lines.append(f"hold {report['hold_s']} s, timeout {report['timeout_s']} s, {report['fps']} fps, "
                 f"detector floor: {report['floor']}, look compared: {'yes' if report['compare_look'] else 'no'}; "
                 f"{report['seconds_per_pair']} s per pair")  # fmt: skip
    return "\n".join(lines)
