"""Per camera: frame → detector → tracker → rules → incidents, plus the annotated view.

One VisionWorker thread serves every camera (like Frigate's shared detection
queue): it takes the newest frame of each camera when that camera is due, so the
detector's budget is spent evenly and no camera builds a backlog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from streams.base import Frame
from streams.runner import SourceRunner
from vision.clips import ClipRecorder
from vision.detectors.base import Detection, Detector
from vision.evidence import draw_box, draw_zones, encode_jpeg, snapshot
from vision.gate import MotionGate
from vision.incident import Incident
from vision.rules.base import Rule
from vision.track import IoUTracker, Track, Tracker

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Plan:
    frame: Frame
    regions: list[tuple[float, float, float, float]]  # where to detect; empty: nothing to look at
    unseen: list[Track]  # tracks outside every region, kept alive as they were


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

    def process(self, frame: Frame) -> list[Incident]:
        """One frame, start to end (the single-camera path; VisionWorker batches instead)."""
        plan = self.plan(frame)
        return self.finish(plan, self.detect(plan))

    def plan(self, frame: Frame) -> Plan:
        """Decide where the detector looks in this frame (everywhere without a gate)."""
        if frame.image is None or frame.image.size == 0 or frame.image.ndim != 3:
            raise ValueError(f"empty or malformed frame {frame.index} (shape {getattr(frame.image, 'shape', None)})")
        self.frames += 1
        if self.gate is None:
            h, w = frame.image.shape[:2]
            return Plan(frame, [(0.0, 0.0, float(w), float(h))], [])
        known = list(self.tracker.tracks.values())
        moving = [t.box for t in known if not t.still(frame.ts)]
        still = [t.box for t in known if t.still(frame.ts)]
        regions = self.gate.regions(frame.image, moving, still)
        # Tracks the detector will not look at this frame are assumed to be where they were.
        unseen = [t for t in known if not any(_inside(t.box, r) for r in regions)]
        self.tracker.coast(unseen, frame.ts)
        return Plan(frame, regions, unseen)

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
        if (floors := self.thresholds) is not None:
            default = floors.get("default", 0.0)
            detections = [d for d in detections if d.score >= floors.get(d.label, default)]
        tracks = self.tracker.update(detections, frame.ts, frame.image)
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

    def _annotate(self, image: np.ndarray, boxes: list[tuple[tuple[float, float, float, float], str, str]]) -> np.ndarray:
        canvas = image.copy()
        draw_zones(canvas, self.zones)
        for box, text, label in boxes:
            draw_box(canvas, box, text, label=label)
        return canvas


def _inside(box: tuple[float, float, float, float], region: tuple[float, float, float, float]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return region[0] <= cx <= region[2] and region[1] <= cy <= region[3]


class VisionWorker:
    def __init__(
        self,
        cameras: dict[str, tuple[SourceRunner, CameraPipeline, float]],  # id → (runner, pipeline, detect fps)
        on_incident: Callable[[Incident], None],
        clips: ClipRecorder | None = None,
    ) -> None:
        self.cameras = cameras
        self.on_incident = on_incident
        self.clips = clips
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
        batched = {c: p for c, p in plans.items() if self._batchable(c)}
        out: dict[str, list[list[Detection]]] = {}
        if batched:
            detector = self._pipeline(next(iter(batched))).detector
            crops = [(c, crop) for c, p in batched.items() for crop in self._pipeline(c).crops(p)]
            try:
                results: list[list[Detection]] = []
                for start in range(0, len(crops), self.max_batch):
                    chunk = [crop for _, crop in crops[start : start + self.max_batch]]
                    results += detector.detect_batch(chunk)  # type: ignore[attr-defined]
                self.batches += 1
                for c in batched:
                    out[c] = []
                for (c, _), dets in zip(crops, results, strict=True):
                    out[c].append(dets)
            except Exception:  # find the camera at fault: fall back to one at a time
                out = {}
        for cam_id, plan in plans.items():
            if cam_id not in out:
                detections = self._guard(cam_id, self._pipeline(cam_id).detect, plan)
                if detections is not None:
                    out[cam_id] = detections
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
