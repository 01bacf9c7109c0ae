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

import numpy as np

from streams.base import Frame
from streams.runner import SourceRunner
from vision.clips import ClipRecorder
from vision.detectors.base import Detection, Detector
from vision.evidence import draw_box, draw_zones, encode_jpeg, snapshot
from vision.gate import MotionGate
from vision.incident import Incident
from vision.rules.base import Rule
from vision.track import IoUTracker, Track

log = logging.getLogger(__name__)


@dataclass
class Annotated:
    image: np.ndarray
    index: int
    detections: list[Detection]


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
    ) -> None:
        self.camera_id = camera_id
        self.detector = detector
        self.rules = rules
        self.location = location
        self.zones = zones or []
        self.tracker = IoUTracker(max_gap_s=max_track_gap_s)
        self.gate = gate
        self.annotated: Annotated | None = None
        self.frames = 0
        self.errors = 0
        self.last_error: str | None = None
        # (zone, label) → minimum score, raised by dismissed false positives.
        self.min_scores: dict[tuple[str, str], float] = {}

    def process(self, frame: Frame) -> list[Incident]:
        if frame.image is None or frame.image.size == 0 or frame.image.ndim != 3:
            raise ValueError(f"empty or malformed frame {frame.index} (shape {getattr(frame.image, 'shape', None)})")
        self.frames += 1
        if self.gate is None:
            detections = self.detector.detect(frame.image, self.camera_id)
            tracks = self.tracker.update(detections, frame.ts)
        else:
            detections, tracks = self._gated(frame)
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
        self.annotated = Annotated(self._annotate(frame.image, tracks), frame.index, detections)
        return incidents

    def _gated(self, frame: Frame) -> tuple[list[Detection], list[Track]]:
        assert self.gate is not None
        known = list(self.tracker.tracks.values())
        moving = [t.box for t in known if not t.still(frame.ts)]
        still = [t.box for t in known if t.still(frame.ts)]
        regions = self.gate.regions(frame.image, moving, still)
        # Tracks the detector will not look at this frame are assumed to be where they were.
        unseen = [t for t in known if not any(_inside(t.box, r) for r in regions)]
        self.tracker.coast(unseen, frame.ts)
        detections = [d for region in regions for d in self._detect_in(frame.image, region)]
        tracks = self.tracker.update(detections, frame.ts)
        return detections, tracks + [t for t in unseen if t.id in self.tracker.tracks and t not in tracks]

    def _detect_in(self, image: np.ndarray, region: tuple[float, float, float, float]) -> list[Detection]:
        x1, y1, x2, y2 = (int(round(v)) for v in region)
        found = self.detector.detect(image[y1:y2, x1:x2], self.camera_id)
        return [Detection(d.label, d.score, (d.box[0] + x1, d.box[1] + y1, d.box[2] + x1, d.box[3] + y1)) for d in found]

    def _annotate(self, image: np.ndarray, tracks: list) -> np.ndarray:
        canvas = image.copy()
        draw_zones(canvas, self.zones)
        for t in tracks:
            draw_box(canvas, t.box, f"{t.label} #{t.id}", label=t.label)
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

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        last_index = dict.fromkeys(self.cameras, -1)
        next_due = dict.fromkeys(self.cameras, 0.0)
        while not self._stop.is_set():
            worked = False
            for cam_id, (runner, pipeline, fps) in self.cameras.items():
                now = time.monotonic()
                if now < next_due[cam_id]:
                    continue
                frame = runner.take(last_index[cam_id], timeout=0)
                if frame is None:
                    continue
                last_index[cam_id] = frame.index
                next_due[cam_id] = now + 1.0 / fps * 0.9
                worked = True
                try:
                    incidents = pipeline.process(frame)
                    for incident in incidents:
                        if self.clips is not None:
                            self.clips.start(cam_id, incident.id, frame.ts)
                        self.on_incident(incident)
                    if self.clips is not None and self.clips.enabled and pipeline.annotated is not None:
                        self.clips.add_frame(cam_id, frame.ts, encode_jpeg(pipeline.annotated.image, 75))
                except Exception as exc:  # one camera's bad frame must not stop the others
                    self.errors += 1
                    pipeline.errors += 1
                    pipeline.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("vision failed on camera %s: %s", cam_id, pipeline.last_error)
            if not worked:
                self._stop.wait(0.01)
