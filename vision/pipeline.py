"""Per camera: frame → detector → tracker → rules → incidents, plus the annotated view.

One VisionWorker thread serves every camera (like Frigate's shared detection
queue): it takes the newest frame of each camera when that camera is due, so the
detector's budget is spent evenly and no camera builds a backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

import numpy as np

from streams.base import Frame
from streams.runner import SourceRunner
from vision.clips import ClipRecorder
from vision.detectors.base import Detection, Detector
from vision.evidence import draw_box, draw_zones, encode_jpeg, snapshot
from vision.gate import MotionGate, _merge, _square
from vision.incident import Incident
from vision.rules.base import Rule
from vision.track import IoUTracker, Track, Tracker
from vision.verify import CheckRequest, SceneCheck, Verdict, check_bars

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Plan:
    frame: Frame
    regions: list[tuple[float, float, float, float]]  # where to detect; empty: nothing to look at
    unseen: list[Track]  # tracks outside every region, kept alive as they were
    checks: list[SceneCheck] = field(default_factory=list)  # the scene checks due in this frame


class AnnotatedFrame:
    """The latest frame with zones and tracks drawn, drawn only when someone looks: most
    frames of most cameras are never viewed, and drawing costs about a millisecond."""

    def __init__(
        self, frame: np.ndarray, index: int, detections: list[Detection], draw: Callable[[np.ndarray], np.ndarray]
    ) -> None:
        self.index = index
        self.detections = detections
        self._frame = frame
        self._draw = draw
        self._image: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def image(self) -> np.ndarray:
        with self._lock:  # several viewers may ask at once; draw once
            if self._image is None:
                self._image = self._draw(self._frame)
            return self._image


class CameraPipeline:
    def __init__(
        self,
        camera_id: str,
        detector: Detector,
        rules: list[Rule],
        location: tuple[float, float],
        zones: list[tuple[str, list[tuple[float, float]]]] | None = None,
        max_track_gap_s: float = 2.0,
        gate: MotionGate | None = None,
        tracker: Tracker | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.detector = detector
        self.rules = rules
        self.location = location
        self.zones = zones or []
        self.tracker: Tracker = tracker or IoUTracker(max_gap_s=max_track_gap_s)
        self.gate = gate
        self.annotated: AnnotatedFrame | None = None
        self.frames = 0
        self.errors = 0
        self.last_error: str | None = None
        # (zone, label) → minimum score, raised by dismissed false positives.
        self.min_scores: dict[tuple[str, str], float] = {}
        # label (or "default") → minimum detection score for this camera alone; None: the
        # shared detector's own. Emergency mode lowers it near an incident and restores it.
        self.thresholds: dict[str, float] | None = None
        # Scene checks (vision.verify): added from other threads, run by the vision thread.
        self._check_lock = threading.Lock()
        self._new_checks: dict[str, CheckRequest] = {}
        self._checks: dict[str, SceneCheck] = {}
        self._verdicts: list[Verdict] = []
        self._last_ts: float | None = None
        self._frame_interval: float | None = None  # running mean: the camera's real frame rate

    def process(self, frame: Frame) -> list[Incident]:
        """One frame, start to end (the single-camera path; VisionWorker batches instead)."""
        plan = self.plan(frame)
        return self.finish(plan, self.detect(plan))

    def plan(self, frame: Frame) -> Plan:
        """Decide where the detector looks in this frame (everywhere without a gate)."""
        if frame.image is None or frame.image.size == 0 or frame.image.ndim != 3:
            raise ValueError(f"empty or malformed frame {frame.index} (shape {getattr(frame.image, 'shape', None)})")
        self.frames += 1
        self._clock(frame.ts)
        # Unlocked truthiness first: a camera without checks pays nothing more.
        checks = self._due_checks(frame.ts) if self._checks or self._new_checks else []
        h, w = frame.image.shape[:2]
        if self.gate is None:
            return Plan(frame, [(0.0, 0.0, float(w), float(h))], [], checks)
        known = list(self.tracker.tracks.values())
        moving = [t.box for t in known if not t.still(frame.ts)]
        still = [t.box for t in known if t.still(frame.ts)]
        regions = self.gate.regions(frame.image, moving, still)
        if checks:
            # The gate skips still objects between re-checks: a check must really look.
            size = self.gate.region_size
            forced = [_square(_clipped(c.request.region, w, h), size, w, h) for c in checks]
            regions = _merge(regions + forced, w, h)
        # Tracks the detector will not look at this frame are assumed to be where they were.
        unseen = [t for t in known if not any(_inside(t.box, r) for r in regions)]
        self.tracker.coast(unseen, frame.ts)
        return Plan(frame, regions, unseen, checks)

    def crops(self, plan: Plan) -> list[np.ndarray]:
        return [plan.frame.image[int(y1) : int(round(y2)), int(x1) : int(round(x2))] for x1, y1, x2, y2 in plan.regions]

    def detect(self, plan: Plan) -> list[list[Detection]]:
        if self.gate is None:  # the whole frame, with the stream's identity (stateful detectors)
            return [self.detector.detect(plan.frame.image, self.camera_id)]
        return [self.detector.detect(crop, self.camera_id) for crop in self.crops(plan)]

    def finish(self, plan: Plan, per_region: list[list[Detection]]) -> list[Incident]:
        """Detections per region → tracks → rules → incidents, and the annotated view."""
        frame = plan.frame
        detections = [
            Detection(d.label, d.score, (d.box[0] + x1, d.box[1] + y1, d.box[2] + x1, d.box[3] + y1))
            for (x1, y1, _, _), found in zip(plan.regions, per_region, strict=True)
            for d in found
        ]
        raw = detections  # checks judge these: before this camera's floors, for their lower bar
        if (floors := self.thresholds) is not None:
            default = floors.get("default", 0.0)
            detections = [d for d in detections if d.score >= floors.get(d.label, default)]
        tracks = self.tracker.update(detections, frame.ts, frame.image)
        if plan.checks:
            self._run_checks(plan, raw, tracks)
        tracks += [t for t in plan.unseen if t.id in self.tracker.tracks and t not in tracks]
        lon, lat = (frame.telemetry.lon, frame.telemetry.lat) if frame.telemetry else self.location
        incidents = []
        for rule in self.rules:
            seen = [t for t in tracks if t.score >= self.min_scores.get((rule.zone, t.label), 0.0)]
            for hit in rule.update(seen, frame.ts):
                t = hit.track
                text = f"{hit.rule} {t.label} #{t.id}"
                incidents.append(
                    Incident(
                        camera_id=self.camera_id, ts=frame.wall_ts, rule=hit.rule, zone=hit.zone, label=t.label,
                        score=t.score, box=t.box, lon=lon, lat=lat, track_id=t.id,
                        snapshot_jpeg=snapshot(frame.image, t.box, text, t.label),
                    )
                )
        # Boxes as they are now: the tracks themselves move on with later frames.
        boxes = [(t.box, f"{t.label} #{t.id}", t.label) for t in tracks]
        self.annotated = AnnotatedFrame(frame.image, frame.index, detections, lambda image: self._annotate(image, boxes))
        return incidents

    # Scene checks

    def add_check(self, request: CheckRequest) -> None:
        """Start a check (any thread): it begins with the next frame this camera processes."""
        if request.camera_id != self.camera_id:
            raise ValueError(f"check {request.id} is for camera {request.camera_id}, not {self.camera_id}")
        with self._check_lock:
            if request.id in self._checks or request.id in self._new_checks:
                raise ValueError(f"check {request.id} is already running")
            self._new_checks[request.id] = request

    def cancel_check(self, check_id: str) -> bool:
        """Stop a check (any thread); False when it was not running (decided, or unknown)."""
        with self._check_lock:
            found = self._new_checks.pop(check_id, None) or self._checks.pop(check_id, None)
        return found is not None

    @property
    def checks(self) -> Mapping[str, CheckRequest]:
        """The running checks by id (a snapshot)."""
        with self._check_lock:
            running = {**{k: c.request for k, c in self._checks.items()}, **self._new_checks}
        return MappingProxyType(running)

    def take_verdicts(self) -> list[Verdict]:
        """The verdicts decided since the last call (the vision thread hands them on)."""
        with self._check_lock:
            out, self._verdicts = self._verdicts, []
        return out

    def _clock(self, ts: float) -> None:
        if self._last_ts is not None and ts > self._last_ts:
            dt = ts - self._last_ts
            self._frame_interval = dt if self._frame_interval is None else 0.9 * self._frame_interval + 0.1 * dt
        self._last_ts = ts

    def _due_checks(self, ts: float) -> list[SceneCheck]:
        with self._check_lock:
            for request in self._new_checks.values():
                self._checks[request.id] = SceneCheck(request, ts, self._bars(request), self._fps())
            self._new_checks.clear()
            return [c for c in self._checks.values() if c.due(ts)]

    def _fps(self) -> float:
        # Before the rate is known, assume a high one: it only raises the frames "cleared" needs.
        return 1.0 / self._frame_interval if self._frame_interval else 10.0

    def _bars(self, request: CheckRequest) -> dict[str, float]:
        """The check's score bars, from the scores that raise this camera's incidents: its own
        floors, else the detector's per-class thresholds."""
        if self.thresholds is not None:
            return check_bars(request.labels, self.thresholds)
        labels = getattr(self.detector, "class_labels", None)
        floors = getattr(self.detector, "thresholds", None)
        if labels is not None and isinstance(floors, np.ndarray) and len(labels) == len(floors):
            by_label: dict[str, float] = {}
            for label, value in zip(labels, floors.tolist(), strict=True):
                by_label[label] = min(by_label.get(label, 1.0), value)
            return check_bars(request.labels, by_label)
        return check_bars(request.labels, {})

    def _run_checks(self, plan: Plan, detections: list[Detection], seen: list[Track]) -> None:
        frame = plan.frame
        # Trackers give a matched track the detection's own box: this frame's moving tracks
        # name the detections that are passing through.
        moving = {t.box for t in seen if not t.still(frame.ts)}
        passing = [d for d in detections if d.box in moving]
        for check in plan.checks:
            verdict = check.update(detections, frame.ts, frame.wall_ts, frame.image, passing)
            if not check.finished:
                continue
            with self._check_lock:
                # Cancelled meanwhile: nobody waits for its verdict any more.
                if self._checks.get(check.request.id) is check:
                    del self._checks[check.request.id]
                    if verdict is not None:
                        self._verdicts.append(verdict)

    def _annotate(self, image: np.ndarray, boxes: list[tuple[tuple[float, float, float, float], str, str]]) -> np.ndarray:
        canvas = image.copy()
        draw_zones(canvas, self.zones)
        for box, text, label in boxes:
            draw_box(canvas, box, text, label=label)
        return canvas


def _clipped(box: tuple[float, float, float, float], w: int, h: int) -> tuple[float, float, float, float]:
    x1, y1 = min(max(box[0], 0.0), w - 1.0), min(max(box[1], 0.0), h - 1.0)
    return (x1, y1, max(min(box[2], float(w)), x1 + 1.0), max(min(box[3], float(h)), y1 + 1.0))


def _inside(box: tuple[float, float, float, float], region: tuple[float, float, float, float]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


class VisionWorker:
    def __init__(
        self,
        cameras: dict[str, tuple[SourceRunner, CameraPipeline, float]],  # id → (runner, pipeline, detect fps)
        on_incident: Callable[[Incident], None],
        clips: ClipRecorder | None = None,
        on_verdict: Callable[[Verdict], None] | None = None,
    ) -> None:
        self.cameras = cameras
        self.on_incident = on_incident
        self.clips = clips
        self.on_verdict = on_verdict  # scene checks' verdicts (CameraPipeline.add_check)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vision", daemon=True)
        self.errors = 0
        self.batches = 0
        self.max_batch = 8

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        last_index: dict[str, int] = {}
        next_due: dict[str, float] = {}
        runner_of: dict[str, SourceRunner] = {}
        while not self._stop.is_set():
            due: list[tuple[str, Frame]] = []
            for cam_id, (runner, _, fps) in list(self.cameras.items()):
                if runner_of.get(cam_id) is not runner:
                    # A camera added, or restarted with a fresh runner (a detection worker's
                    # lease): its frames count from 0.
                    runner_of[cam_id], last_index[cam_id], next_due[cam_id] = runner, -1, 0.0
                now = time.monotonic()
                if now < next_due[cam_id]:
                    continue
                frame = runner.take(last_index[cam_id], timeout=0)
                if frame is not None:
                    last_index[cam_id] = frame.index
                    next_due[cam_id] = now + 1.0 / fps * 0.9
                    due.append((cam_id, frame))
            if due:
                self.step(due)
            else:
                self._stop.wait(0.01)

    def step(self, due: list[tuple[str, Frame]]) -> None:
        """Process one frame of each due camera, batching their detector work."""
        plans: dict[str, Plan] = {}
        for cam_id, frame in due:
            plan = self._guard(cam_id, self._pipeline(cam_id).plan, frame)
            if plan is not None:
                plans[cam_id] = plan
        found = self._detect(plans)
        for cam_id, plan in plans.items():
            if cam_id in found:
                self._guard(cam_id, self._finish, cam_id, plan, found[cam_id])

    def _detect(self, plans: dict[str, Plan]) -> dict[str, list[list[Detection]]]:
        # Cameras may have detectors of their own: batch each detector's cameras through it.
        groups: dict[int, list[str]] = {}
        for cam_id in plans:
            if self._batchable(cam_id):
                groups.setdefault(id(self._pipeline(cam_id).detector), []).append(cam_id)
        out: dict[str, list[list[Detection]]] = {}
        for cams in groups.values():
            out.update(self._detect_batch({c: plans[c] for c in cams}))
        for cam_id, plan in plans.items():
            if cam_id not in out:  # not batchable, or its batch failed: one at a time
                detections = self._guard(cam_id, self._pipeline(cam_id).detect, plan)
                if detections is not None:
                    out[cam_id] = detections
        return out

    def _detect_batch(self, batched: dict[str, Plan]) -> dict[str, list[list[Detection]]]:
        """One detector's cameras in batches; empty when it fails (the caller finds the camera at fault)."""
        detector = self._pipeline(next(iter(batched))).detector
        crops = [(c, crop) for c, p in batched.items() for crop in self._pipeline(c).crops(p)]
        try:
            results: list[list[Detection]] = []
            for start in range(0, len(crops), self.max_batch):
                chunk = [crop for _, crop in crops[start : start + self.max_batch]]
                results += detector.detect_batch(chunk)  # type: ignore[attr-defined]
            out: dict[str, list[list[Detection]]] = {c: [] for c in batched}
            for (c, _), dets in zip(crops, results, strict=True):
                out[c].append(dets)
        except Exception:
            return {}
        self.batches += 1
        return out

    def _batchable(self, cam_id: str) -> bool:
        pipeline = self._pipeline(cam_id)
        return pipeline.gate is not None and hasattr(pipeline.detector, "detect_batch")

    def _finish(self, cam_id: str, plan: Plan, found: list[list[Detection]]) -> None:
        pipeline = self._pipeline(cam_id)
        for incident in pipeline.finish(plan, found):
            if self.clips is not None:
                self.clips.start(cam_id, incident.id, plan.frame.ts)
            self.on_incident(incident)
        if plan.checks:
            for verdict in pipeline.take_verdicts():
                if self.clips is not None:  # the verification's own short clip around the decision
                    self.clips.start(cam_id, verdict.request.id, plan.frame.ts)
                if self.on_verdict is not None:
                    self.on_verdict(verdict)
        if self.clips is not None and self.clips.enabled and pipeline.annotated is not None:
            self.clips.add_frame(cam_id, plan.frame.ts, encode_jpeg(pipeline.annotated.image, 75))

    def _pipeline(self, cam_id: str) -> CameraPipeline:
        return self.cameras[cam_id][1]

    def _guard(self, cam_id: str, work: Callable[..., T], *args: object) -> T | None:
        """One camera's work; a failure is counted on that camera (None) and never stops the others."""
        try:
            return work(*args)
        except Exception as exc:
            pipeline = self._pipeline(cam_id)
            self.errors += 1
            pipeline.errors += 1
            pipeline.last_error = f"{type(exc).__name__}: {exc}"
            log.warning("vision failed on camera %s: %s", cam_id, pipeline.last_error)
            return None
