"""Cameras: their sources, vision pipelines and status, as this process sees them.

Each camera has a source runner (frames, health) and a pipeline (detector, rules,
tracker, per-zone thresholds raised by dismissals); the vision worker's thread takes
frames from the runners it is given. Once a second the status of each camera watched
here goes on the bus (`camera.status`, and `drone.position` for one that moves). With
sharding, detection workers watch the cameras and a serve node knows them only by the
status the workers put on the bus (`worker_status`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from command_center.bus import Bus
from command_center.config import CameraConfig, Config
from command_center.detectors import Detectors
from command_center.events import Event
from streams.health import SourceHealth
from streams.ptz import SIM_PTZ, NoPtz, Ptz, PtzConfig, create_ptz
from streams.registry import create_source
from streams.runner import SourceRunner
from streams.telemetry import with_telemetry
from vision.clips import ClipRecorder
from vision.detectors import Detector
from vision.feedback import FalsePositiveTuner
from vision.incident import Incident
from vision.pipeline import CameraPipeline, VisionWorker
from vision.rules import build_rules
from vision.track_byte import create_tracker

log = logging.getLogger(__name__)
TRACK_POINTS = 300  # a moving camera's recent path: 5 minutes at one point a second
STATUS_EVERY_S = 5.0  # a camera's status is re-sent this often even when its state holds


def make_runner(cam: CameraConfig) -> SourceRunner:
    health = SourceHealth(stall_after_s=cam.stall_after_s, offline_after_s=cam.offline_after_s)
    # A publisher may come any moment: a WHIP camera re-checks its slot quickly.
    backoff = (0.1, 0.5) if cam.kind == "whip" else (min(0.5, cam.reconnect_max_s), cam.reconnect_max_s)
    # Only a source declared mobile takes posted positions: a fixed camera never moves,
    # whatever reaches the telemetry store (defence behind the endpoints' own refusal).
    make = (lambda: with_telemetry(create_source(cam), cam.id)) if cam.mobile else (lambda: create_source(cam))
    return SourceRunner(cam.id, make, health, backoff)


class Cameras:
    def __init__(
        self, config: Config, bus: Bus, on_incident: Callable[[Incident], None], clips: ClipRecorder
    ) -> None:
        self.config = config
        self.bus = bus
        # Each camera's models (`models:`), each loaded once and shared (command_center/detectors.py).
        self.detectors = Detectors.from_config(config)
        self.ptz: dict[str, tuple[PtzConfig, Ptz]] = {}  # camera → its PTZ head, as configured
        for cam in config.cameras:
            self._set_ptz(cam)
        self.tuner = FalsePositiveTuner(config.server.data_dir / "feedback.json")
        self.runners: dict[str, SourceRunner] = {c.id: make_runner(c) for c in config.cameras}
        self.pipelines: dict[str, CameraPipeline] = {c.id: self._pipeline(c) for c in config.cameras}
        self.vision = VisionWorker(
            {c.id: (self.runners[c.id], self.pipelines[c.id], c.fps) for c in config.cameras}, on_incident, clips
        )
        self.tracks: dict[str, deque[list[float]]] = {}  # a moving camera's recent positions
        self.worker_status: dict[str, dict[str, Any]] = {}  # camera → its latest camera.status from a worker
        # Cameras this process watches: all, unless detection workers hold them (sharding).
        self.watched: set[str] = set() if config.sharding.enabled else set(self.runners)
        # Called with a camera's id when its pipeline is rebuilt (the registry changed it):
        # whoever kept what the old one had (emergency sensing's baseline) forgets it.
        self.rebuilt_hooks: list[Callable[[str], object]] = []
        # Removed from the registry: a status still on its way (or a worker's, until it
        # restarts) does not bring it back into the views.
        self.removed: set[str] = set()

    @property
    def detector(self) -> Detector:
        """The default model (`detector:`), loaded on first use."""
        return self.detectors.get("default")

    def _pipeline(self, cam: CameraConfig) -> CameraPipeline:
        rules = self.config.rules
        pipeline = CameraPipeline(
            cam.id,
            self.detectors.for_camera(cam),
            build_rules(cam.zones, rules),
            (cam.location.lon, cam.location.lat),
            [(z.name, z.polygon or list(z.line or ())) for z in cam.zones],
            rules.max_track_gap_s,
            self.detectors.gate_for(cam),
            create_tracker(rules.tracker, cam.fps, rules.max_track_gap_s),
        )
        pipeline.min_scores = self.tuner.thresholds(cam.id)
        # The models report down to the checks' lower bar (detectors.py); incidents keep the
        # camera's own thresholds, else its models' configured ones.
        pipeline.thresholds = dict(cam.thresholds) if cam.thresholds else self.detectors.bars_for(cam)
        if unknown := self.detectors.unknown(cam):  # a registry camera's (the config's are checked at load)
            pipeline.last_error = f"unknown models left out: {', '.join(unknown)}"
            log.error("camera %s: %s", cam.id, pipeline.last_error)
        return pipeline

    # PTZ
    def _set_ptz(self, cam: CameraConfig) -> None:
        """The camera's head as configured; kept (where it points) while its config holds."""
        have = self.ptz.get(cam.id)
        if cam.ptz is None:
            self._drop_ptz(cam.id)
        elif have is None or have[0] != cam.ptz:
            try:
                self.ptz[cam.id] = (cam.ptz, create_ptz(cam.id, cam.ptz))
            except ValueError as exc:  # a registry camera's unknown kind: the camera still runs
                log.error("camera %s: no PTZ: %s", cam.id, exc)
                self._drop_ptz(cam.id)

    def _drop_ptz(self, cam_id: str) -> None:
        if self.ptz.pop(cam_id, None) is not None:
            SIM_PTZ.remove(cam_id)

    def presets(self, cam_id: str) -> list[str]:
        """The camera's PTZ presets (blocking: ONVIF asks the camera). NoPtz if it has no head."""
        return self._head(cam_id).presets()

    def goto_preset(self, cam_id: str, name: str) -> None:
        """Send the camera's PTZ head to a preset, e.g. before a verification check looks.
        Blocking (ONVIF: a request to the camera): call it from a thread. Raises NoPtz (no
        such camera, or no head), UnknownPreset (ValueError) or PtzError (the camera failed)."""
        self._head(cam_id).goto_preset(name)

    def _head(self, cam_id: str) -> Ptz:
        entry = self.ptz.get(cam_id)
        if entry is None:
            raise NoPtz(cam_id)
        return entry[1]

    # lifecycle
    def start(self) -> None:
        """Serve mode: the watched cameras' sources, and vision unless workers do it."""
        for cam_id in self.watched:
            self.runners[cam_id].start()
        if not self.config.sharding.enabled:
            self.vision.start()

    def start_vision_only(self) -> None:
        """A detection worker: vision now, cameras one by one as their leases come."""
        self.watched = set()
        self.vision.start()

    async def stop(self) -> None:
        self.vision.stop()
        for runner in self.runners.values():
            await asyncio.to_thread(runner.stop)

    def add_camera(self, cam: CameraConfig) -> None:
        """A camera that was not in the config (a worker going live): watched from now on,
        by this process, until it stops. Call from the event loop."""
        if cam.id in self.runners:
            raise ValueError(f"camera {cam.id} exists")
        self.config.cameras.append(cam)
        self._set_ptz(cam)
        self.runners[cam.id] = make_runner(cam)
        self.pipelines[cam.id] = self._pipeline(cam)
        self.vision.cameras[cam.id] = (self.runners[cam.id], self.pipelines[cam.id], cam.fps)
        self.watched.add(cam.id)
        self.runners[cam.id].start()

    async def start_camera(self, cam_id: str) -> None:
        runner = self.runners.get(cam_id)
        if cam_id in self.watched or runner is None:  # None: removed from the registry
            return
        self.watched.add(cam_id)
        runner.start()

    async def stop_camera(self, cam_id: str) -> None:
        """Stop watching a camera; a fresh runner waits in its place (a thread starts once)."""
        if cam_id not in self.watched:
            return
        self.watched.discard(cam_id)
        cam, old = self.config_of(cam_id), self.runners.get(cam_id)
        if cam is None or old is None:  # removed from the registry meanwhile: remove_camera stopped it
            return
        fresh = make_runner(cam)
        self.runners[cam_id] = fresh
        _, pipeline, fps = self.vision.cameras[cam_id]
        # The vision thread takes no frame of the old runner after this swap.
        self.vision.cameras[cam_id] = (fresh, pipeline, fps)
        await asyncio.to_thread(old.stop)

    # registry changes (registry/cameras.py decides which of these a change needs)
    def config_of(self, cam_id: str) -> CameraConfig | None:
        return next((c for c in self.config.cameras if c.id == cam_id), None)

    def _set_config(self, cam: CameraConfig) -> None:
        # In place: the API reads config.cameras (a camera's fps, WHEP, publish keys).
        at = next((i for i, c in enumerate(self.config.cameras) if c.id == cam.id), None)
        if at is None:
            self.config.cameras.append(cam)
        else:
            self.config.cameras[at] = cam
        self._set_ptz(cam)

    def rebuild_pipeline(self, cam: CameraConfig) -> None:
        """New zones, rules or thresholds on a running camera: a new pipeline over the same
        source (no reconnect). Call from the event loop."""
        self._set_config(cam)
        pipeline = self._pipeline(cam)
        self.pipelines[cam.id] = pipeline
        runner, _, _ = self.vision.cameras[cam.id]
        self.vision.cameras[cam.id] = (runner, pipeline, cam.fps)  # same key: safe while the thread iterates
        for hook in self.rebuilt_hooks:
            hook(cam.id)

    async def put_camera(self, cam: CameraConfig) -> None:
        """A new camera, or one whose source changed: a fresh runner and pipeline, started
        when this process watches it (without sharding: always); the old runner stops."""
        old = self.runners.get(cam.id)
        self.removed.discard(cam.id)
        self._set_config(cam)
        runner, pipeline = make_runner(cam), self._pipeline(cam)
        self.runners[cam.id], self.pipelines[cam.id] = runner, pipeline
        self.vision.cameras[cam.id] = (runner, pipeline, cam.fps)
        if not self.config.sharding.enabled:
            self.watched.add(cam.id)
        if cam.id in self.watched:
            runner.start()
        for hook in self.rebuilt_hooks:
            hook(cam.id)
        if old is not None:
            await asyncio.to_thread(old.stop)

    async def remove_camera(self, cam_id: str, settle_s: float = 2.0) -> None:
        """Stop a camera and forget it. The vision thread may be inside a step with its
        frame: the entry first gets an unstarted runner (no frame ever comes due), and goes
        only once that step is surely over."""
        old = self.runners.pop(cam_id, None)
        self.watched.discard(cam_id)
        self.removed.add(cam_id)
        self.worker_status.pop(cam_id, None)
        self.config.cameras[:] = [c for c in self.config.cameras if c.id != cam_id]
        self._drop_ptz(cam_id)
        entry = self.vision.cameras.get(cam_id)
        if entry is not None and old is not None:
            self.vision.cameras[cam_id] = (SourceRunner(cam_id, old.factory, old.health), entry[1], entry[2])
        if old is not None:
            await asyncio.to_thread(old.stop)
        asyncio.get_running_loop().call_later(settle_s, self._forget, cam_id)

    def _forget(self, cam_id: str) -> None:
        if cam_id not in self.runners:  # not added again meanwhile
            self.vision.cameras.pop(cam_id, None)
            self.pipelines.pop(cam_id, None)

    # feedback
    def record_dismissal(self, incident: dict[str, Any]) -> float | None:
        """A dismissed incident is a false positive at its camera, zone and label."""
        cam_id = incident.get("camera_id")
        if cam_id not in self.pipelines or not incident.get("zone"):
            return None
        raised = self.tuner.dismissed(cam_id, incident["zone"], incident["label"], incident.get("score", 0.0))
        if raised is not None:
            self.pipelines[cam_id].min_scores = self.tuner.thresholds(cam_id)
            log.info("camera %s zone %s: %s now needs score ≥ %.2f", cam_id, incident["zone"], incident["label"], raised)
        return raised

    # status: health → bus, and a worker's status ← bus
    async def watch(self) -> None:
        """Forever, once a second: each watched camera's status on a change (or every
        STATUS_EVERY_S), and a moving camera's position with its recent track."""
        last: dict[str, tuple[str, float]] = {}
        while True:
            now = time.monotonic()
            for cam_id in [c for c in self.runners if c in self.watched]:
                view = self.camera_view(cam_id)
                if view is None:  # removed meanwhile (awaits above let the registry in)
                    continue
                state, sent = last.get(cam_id, ("", 0.0))
                if view["state"] != state or now - sent >= STATUS_EVERY_S:
                    last[cam_id] = (view["state"], now)
                    await self.bus.publish(Event("cameras", "camera.status", view))
                position = view.get("telemetry")
                if position and view["state"] == "online":
                    await self._moved(cam_id, position)
            await asyncio.sleep(1.0)

    async def _moved(self, cam_id: str, position: dict[str, Any]) -> None:
        track = self.tracks.setdefault(cam_id, deque(maxlen=TRACK_POINTS))
        point = [round(position["lon"], 6), round(position["lat"], 6)]
        if not track or track[-1] != point:
            track.append(point)
        await self.bus.publish(Event("drones", "drone.position", {"id": cam_id, **position, "track": list(track)}))

    def note_worker_status(self, status: dict[str, Any]) -> None:
        """A `camera.status` from the bus: what a detection worker sees, for camera_view."""
        if isinstance(status.get("id"), str) and status["id"] not in self.removed:
            self.worker_status[status["id"]] = status

    # views for the API and events
    def camera_ids(self) -> list[str]:
        """Configured here, then any other a detection worker reports on the bus."""
        return [*self.runners, *(c for c in self.worker_status if c not in self.runners)]

    def camera_view(self, cam_id: str) -> dict[str, Any] | None:
        """What this process sees of the camera, or, for one a detection worker watches,
        the status that worker last put on the bus; None for a camera it does not know
        (never was, or removed from the registry: callers answer 404)."""
        if cam_id not in self.watched and cam_id in self.worker_status:
            return self.worker_status[cam_id]
        cam, runner, pipeline = self.config_of(cam_id), self.runners.get(cam_id), self.pipelines.get(cam_id)
        entry = self.vision.cameras.get(cam_id)
        if cam is None or runner is None or pipeline is None or entry is None:
            return None
        latest = runner.latest
        telemetry = latest.telemetry if latest is not None else None
        return {
            "id": cam.id,
            "name": cam.name or cam.id,
            "kind": cam.kind,
            "location": {"lon": telemetry.lon, "lat": telemetry.lat} if telemetry else cam.location.model_dump(),
            "fps": entry[2],  # raised while an emergency mode covers it
            **runner.health.snapshot(),
            "gate": gate.stats.to_dict() if (gate := pipeline.gate) else None,
            "vision_errors": pipeline.errors,
            "zone_thresholds": self.tuner.view(cam_id),
            "vision_last_error": pipeline.last_error,
            "grid_code": cam.grid_code,
            "heading": cam.heading,
            "fov_deg": cam.fov_deg,
            "zone_count": len(cam.zones),
            "models": self.detectors.models_of(cam),
            "ptz": cam.ptz.kind if cam.ptz is not None else None,
            "telemetry": (
                {"lat": telemetry.lat, "lon": telemetry.lon, "alt": telemetry.alt, "heading": telemetry.heading}
                if telemetry
                else None
            ),
        }
