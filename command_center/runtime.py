"""The composition root: wires sources → vision → bus → dispatch, store and hub.

Nothing else imports across the pipeline's stages; this module adapts one stage's
output to the next one's input (a vision Incident to a dispatch Intake).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from command_center import faults
from command_center.auth.scoping import AreaLocator, event_area
from command_center.auth.service import Auth
from command_center.bus import Bus, batches, create_bus, redis_of
from command_center.casework import CaseWork
from command_center.config import CameraConfig, Config
from command_center.emergency.plans import load_plans
from command_center.emergency.sensing import Sensing
from command_center.emergency.service import IncidentModes
from command_center.events import Event
from command_center.evidence_access import EvidenceAccess
from command_center.hub import Hub
from command_center.hub_history import Post, shared_history
from command_center.leader import Singleton
from command_center.leases import new_worker_id
from command_center.recording import IncidentRecorder
from command_center.retention import Retention
from command_center.store import Store, create_store
from dispatch.cases import Case
from dispatch.catalog import Catalog, load_catalog
from dispatch.city import City, GridIndex, load_geojson, load_or_generate, load_saved_city, save_city
from dispatch.dispatcher import Dispatcher
from streams.health import SourceHealth
from streams.registry import create_source
from streams.runner import SourceRunner
from streams.telemetry import with_telemetry
from vision.clips import ClipRecorder
from vision.detectors import create_detector
from vision.evidence import SnapshotStore
from vision.feedback import FalsePositiveTuner
from vision.gate import MotionGate
from vision.incident import Incident
from vision.pipeline import CameraPipeline, VisionWorker
from vision.rules import build_rules
from vision.track_byte import create_tracker

log = logging.getLogger(__name__)
TOPICS = ["incidents", "cases", "cameras", "drones", "grids", "hotspots", "emergency"]
SAVED_MAP = "city/map.geojson"  # under data_dir: a re-drawn map, preferred over the configured one
TRACK_POINTS = 300  # a moving camera's recent path: 5 minutes at one point a second
HUB_BATCH = 256  # most events numbered per round trip to a shared (Redis) hub history


def load_city(config: Config) -> City:
    saved = load_saved_city(config.server.data_dir / SAVED_MAP)
    if saved is not None:
        log.info("using the re-drawn map saved at %s", config.server.data_dir / SAVED_MAP)
        return saved
    if config.city.geojson is not None:
        return load_geojson(config.city.geojson)
    gen = config.city.generator
    assert gen is not None
    return load_or_generate(gen.seed, gen.districts, cache_dir=config.server.data_dir / "cache")


class Runtime:
    def __init__(self, config: Config, city: City | None = None) -> None:
        self.config = config
        data_dir = config.server.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store: Store = create_store(config.store)
        self.bus: Bus = create_bus(config.bus)
        self.hub = Hub(config.hub.history, config.hub.queue_size, config.hub.heartbeat_s)
        # A Redis bus means possibly several nodes: seq and history then live in Redis.
        self.hub.shared = shared_history(self.bus, config.hub.history)
        self.auth = Auth.build(config.auth, data_dir, self.store)
        # The hub caps each client's channels and ends a websocket whose token expired or was revoked.
        self.hub.sessions, self.hub.max_channels = self.auth.sessions, config.hub.max_channels_per_client
        self.city = city or load_city(config)
        self.area_of = AreaLocator(lambda: self.index)  # positions → grid codes, for scoping
        self.workers = {w.id: w for w in self.city.workers}
        self.index = GridIndex(self.city)
        self.catalog: Catalog = load_catalog(config.catalog)
        self.dispatcher = Dispatcher(self.city, self.index, self.catalog, self.store, config.dispatch)
        self.snapshots = SnapshotStore(data_dir / "snapshots")
        evidence = config.evidence
        self.clips = ClipRecorder(data_dir / "clips", evidence.pre_s, evidence.post_s, self._clip_ready, evidence.clips)
        self.runners: dict[str, SourceRunner] = {}
        self.pipelines: dict[str, CameraPipeline] = {}
        self.detector = create_detector(config.detector)
        self.tuner = FalsePositiveTuner(data_dir / "feedback.json")
        for cam in config.cameras:
            self.runners[cam.id] = self._runner(cam)
            self.pipelines[cam.id] = self._pipeline(cam)
        self.vision = VisionWorker(
            {c.id: (self.runners[c.id], self.pipelines[c.id], c.fps) for c in config.cameras},
            self._from_vision,
            self.clips,
        )
        # Incident mode: built after the vision worker, whose settings are its baseline.
        self.emergency = IncidentModes(
            data_dir / "emergency.json",
            load_plans(config.plans),
            Sensing(self.vision, config.detector.thresholds),
            config.detector.thresholds,
        )
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started_at = time.time()
        self._tasks: list[asyncio.Task[None]] = []
        self.tracks: dict[str, deque[list[float]]] = {}
        self.reported: dict[str, dict[str, Any]] = {}  # camera → its latest camera.status from the bus
        # Coroutine factories run for the runtime's lifetime (the demo's drone publisher).
        self.background: list[Callable[[], Awaitable[None]]] = []
        self.background.append(self.auth.sessions.run)  # closes live sessions whose token ended
        self.counters = {"incidents": 0, "cases_created": 0, "cases_merged": 0, "incidents_redelivered": 0}
        self.counters.update(dict.fromkeys(faults.COUNTERS, 0))  # store and bus failures (faults.py)
        self.casework = CaseWork(self.store, self.dispatcher, self.bus, self.counters)
        self.recorder = IncidentRecorder(
            self.store, self.bus, self.snapshots, self.catalog, lambda: self.index, self.counters
        )
        self.retention = Retention(config, self.store, self.counters)  # personal data past its time
        self.evidence_access = EvidenceAccess(config.privacy, data_dir)  # blurring by role, view audit
        # Jobs one node of several runs (leader.py), by name; the app adds the hotspot alerts.
        self.singletons: dict[str, Callable[[], Coroutine[Any, Any, None]]] = {
            "supervision": lambda: self.casework.supervise(config.dispatch.supervise_every_s)
        }
        self.node_id = new_worker_id()
        # Cameras this process watches: all, unless detection workers hold them (sharding).
        self.watched: set[str] = set() if config.sharding.enabled else set(self.runners)

    @staticmethod
    def _runner(cam: CameraConfig) -> SourceRunner:
        health = SourceHealth(stall_after_s=cam.stall_after_s, offline_after_s=cam.offline_after_s)
        # A publisher may come any moment: a WHIP camera re-checks its slot quickly.
        backoff = (0.1, 0.5) if cam.kind == "whip" else (min(0.5, cam.reconnect_max_s), cam.reconnect_max_s)
        # Only a source declared mobile takes posted positions: a fixed camera never moves,
        # whatever reaches the telemetry store (defence behind the endpoints' own refusal).
        make = (lambda: with_telemetry(create_source(cam), cam.id)) if cam.mobile else (lambda: create_source(cam))
        return SourceRunner(cam.id, make, health, backoff)

    def _pipeline(self, cam: CameraConfig) -> CameraPipeline:
        rules = self.config.rules
        pipeline = CameraPipeline(
            cam.id,
            self.detector,
            build_rules(cam.zones, rules),
            (cam.location.lon, cam.location.lat),
            [(z.name, z.polygon or list(z.line or ())) for z in cam.zones],
            rules.max_track_gap_s,
            self._gate(),
            create_tracker(rules.tracker, cam.fps, rules.max_track_gap_s),
        )
        pipeline.min_scores = self.tuner.thresholds(cam.id)
        return pipeline

    def add_camera(self, cam: CameraConfig) -> None:
        """A camera that was not in the config (a worker going live): watched from now on,
        by this process, until it stops. Call from the event loop."""
        if cam.id in self.runners:
            raise ValueError(f"camera {cam.id} exists")
        self.config.cameras.append(cam)
        self.runners[cam.id] = self._runner(cam)
        self.pipelines[cam.id] = self._pipeline(cam)
        self.vision.cameras[cam.id] = (self.runners[cam.id], self.pipelines[cam.id], cam.fps)
        self.watched.add(cam.id)
        self.runners[cam.id].start()

    def _gate(self) -> MotionGate | None:
        """Model detectors look only where things move; the motion detector needs no gate."""
        det = self.config.detector
        if det.backend == "motion" or not det.motion_gate:
            return None
        return MotionGate(region_size=det.imgsz, recheck_every=det.recheck_every)

    # lifecycle
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.bus.start()
        self._spawn(self._feed_hub, self.bus.subscribe(TOPICS, "hub"))
        self._spawn(self.casework.take_in, self.bus.subscribe(["incidents"], "dispatcher"))
        self._tasks.append(asyncio.create_task(self._watch_cameras(), name="camera-watch"))
        self._tasks.append(asyncio.create_task(self.retention.run(), name="retention"))
        for cam_id in self.watched:
            self.runners[cam_id].start()
        if not self.config.sharding.enabled:
            self.vision.start()
        for make in self.background:
            self.add_task(make())
        for name, make in self.singletons.items():
            self._tasks.append(asyncio.create_task(self._singleton(name, make), name=name))
        if self.config.workers.simulate:
            from command_center.simulate import simulate_workers

            self.add_task(simulate_workers(self, self.config.workers))

    async def start_worker(self) -> None:
        """A detection worker: the bus, vision and camera status, no dispatcher, hub or
        supervision; cameras start one by one as their leases come (`start_camera`)."""
        self.loop = asyncio.get_running_loop()
        self.watched = set()
        await self.bus.start()
        self._tasks.append(asyncio.create_task(self._watch_cameras(), name="camera-watch"))
        self.retention.files_only = True  # a detection worker holds evidence, not the store's records
        self._tasks.append(asyncio.create_task(self.retention.run(), name="retention"))
        self.vision.start()

    async def start_camera(self, cam_id: str) -> None:
        if cam_id in self.watched:
            return
        self.watched.add(cam_id)
        self.runners[cam_id].start()

    async def stop_camera(self, cam_id: str) -> None:
        """Stop watching a camera; a fresh runner waits in its place (a thread starts once)."""
        if cam_id not in self.watched:
            return
        self.watched.discard(cam_id)
        old = self.runners[cam_id]
        fresh = self._runner(next(c for c in self.config.cameras if c.id == cam_id))
        self.runners[cam_id] = fresh
        _, pipeline, fps = self.vision.cameras[cam_id]
        # The vision thread takes no frame of the old runner after this swap.
        self.vision.cameras[cam_id] = (fresh, pipeline, fps)
        await asyncio.to_thread(old.stop)

    async def stop(self) -> None:
        self.vision.stop()
        for runner in self.runners.values():
            await asyncio.to_thread(runner.stop)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.close()
        self.store.close()

    def _singleton(self, name: str, job: Callable[[], Coroutine[Any, Any, None]]) -> Coroutine[Any, Any, None]:
        """`job` here, or only while this node leads it when nodes share a Redis bus."""
        found = redis_of(self.bus)
        return job() if found is None else Singleton(*found, self.node_id, name).run(job)

    def _spawn(self, consume: Callable[[Any], Coroutine[Any, Any, None]], subscription: Any) -> None:
        self._tasks.append(asyncio.create_task(consume(subscription), name=consume.__name__))

    def add_task(self, coro: Awaitable[None]) -> None:
        """Run a background coroutine for the runtime's lifetime (e.g. simulated workers)."""
        self._tasks.append(asyncio.ensure_future(coro))

    def replace_city(self, city: City, persist: bool = True) -> GridIndex:
        """Swap in a re-drawn map for new cases (blocking: call it on a worker thread).

        The index is built and the map saved before anything is swapped, so lookups go
        on against the old map meanwhile and a failed save changes nothing. Open cases
        keep the grid code stored on them; only new intakes see the new map.
        """
        index = GridIndex(city)
        if persist:
            save_city(city, self.config.server.data_dir / SAVED_MAP)
        self.city, self.index, self.workers = city, index, {w.id: w for w in city.workers}
        self.dispatcher.city, self.dispatcher.index = city, index
        return index

    # vision → bus (recording.py)
    def _from_vision(self, incident: Incident) -> None:
        """Called on the vision thread; hands the incident to the event loop."""
        if self.loop is not None:
            self.recorder.hand_over(incident, self.loop)

    async def record_incident(self, incident: Incident) -> dict[str, Any]:
        return await self.recorder.record(incident)

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

    def _clip_ready(self, incident_id: str, _path: object) -> None:
        """Called on a clip-writer thread once the post-roll is encoded."""
        if self.loop is not None:
            asyncio.run_coroutine_threadsafe(self.recorder.link_clip(incident_id), self.loop)

    # bus → dispatch (casework.py); what the API calls
    async def act(self, case_id: str, action: str, actor: str, note: str = "", **changes: Any) -> Case:
        return await self.casework.act(case_id, action, actor, note, **changes)

    async def publish_case(self, case: Case, created: bool) -> None:
        await self.casework.publish_case(case, created)

    def case_view(self, case: Case) -> dict[str, Any]:
        return self.casework.case_view(case)

    # bus → hub
    async def _feed_hub(self, subscription: Any) -> None:
        async for events in batches(subscription, HUB_BATCH):
            posts = []
            for event in events:
                if event.type == "camera.status" and isinstance(event.data.get("id"), str):
                    self.reported[event.data["id"]] = event.data  # a worker's view, for camera_view
                # One area per event, computed once: the hub compares it with each client's jurisdiction.
                area = event_area(event.topic, event.data, self.area_of)
                posts.append(Post(event.id, event.topic, event.type, event.data, area))
                if event.topic == "cases" and event.data.get("assignee"):
                    timeline = event.data.get("timeline") or [{}]
                    actions = ("dispatch", "return", "transfer")
                    assigned = event.type == "case.created" or timeline[-1].get("action") in actions
                    kind = "task.assigned" if assigned else "task.updated"
                    posts.append(Post(event.id, f"tasks:{event.data['assignee']}", kind, event.data, area))
            await self.hub.publish_all(posts)

    # health → bus
    async def _watch_cameras(self) -> None:
        last: dict[str, tuple[str, float]] = {}
        while True:
            now = time.monotonic()
            for cam_id in [c for c in self.runners if c in self.watched]:
                view = self.camera_view(cam_id)
                state, sent = last.get(cam_id, ("", 0.0))
                if view["state"] != state or now - sent >= 5.0:
                    last[cam_id] = (view["state"], now)
                    await self.bus.publish(Event("cameras", "camera.status", view))
                position = view.get("telemetry")
                if position and view["state"] == "online":
                    track = self.tracks.setdefault(cam_id, deque(maxlen=TRACK_POINTS))
                    point = [round(position["lon"], 6), round(position["lat"], 6)]
                    if not track or track[-1] != point:
                        track.append(point)
                    await self.bus.publish(
                        Event("drones", "drone.position", {"id": cam_id, **position, "track": list(track)})
                    )
            await asyncio.sleep(1.0)

    # views for the API and events
    def camera_ids(self) -> list[str]:
        """Configured here, then any other a detection worker reports on the bus."""
        return [*self.runners, *(c for c in self.reported if c not in self.runners)]

    def camera_view(self, cam_id: str) -> dict[str, Any]:
        """What this process sees of the camera, or, for one a detection worker watches,
        the status that worker last put on the bus."""
        if cam_id not in self.watched and cam_id in self.reported:
            return self.reported[cam_id]
        cam = next(c for c in self.config.cameras if c.id == cam_id)
        runner = self.runners[cam_id]
        latest = runner.latest
        telemetry = latest.telemetry if latest is not None else None
        return {
            "id": cam.id,
            "name": cam.name or cam.id,
            "kind": cam.kind,
            "location": {"lon": telemetry.lon, "lat": telemetry.lat} if telemetry else cam.location.model_dump(),
            "fps": self.vision.cameras[cam_id][2],  # raised while an incident mode covers it
            **runner.health.snapshot(),
            "gate": gate.stats.to_dict() if (gate := self.pipelines[cam_id].gate) else None,
            "vision_errors": self.pipelines[cam_id].errors,
            "zone_thresholds": self.tuner.view(cam_id),
            "vision_last_error": self.pipelines[cam_id].last_error,
            "telemetry": (
                {"lat": telemetry.lat, "lon": telemetry.lon, "alt": telemetry.alt, "heading": telemetry.heading}
                if telemetry
                else None
            ),
        }

