"""The composition root: builds the services and wires sources → vision → bus → dispatch,
store and hub; starts and stops them. It does no work of its own.

Where each part's work lives: camera status (camera_status.py), incident recording
(recording.py: a vision Incident becomes a stored, announced incident), casework
(casework.py: an incident becomes a case, supervision), triage (triage.py: confirm-first
waits), the hub feed (hub_feed.py), retention (retention.py), evidence access
(evidence_access.py), the map (city_map.py), background jobs and leader election (jobs.py,
leader.py). The API reads these services from `app.state` (api/deps.py), never the runtime.
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from command_center.auth.service import Auth
from command_center.bus import Bus, create_bus
from command_center.camera_checks import CameraChecks
from command_center.camera_status import Cameras
from command_center.care_overdue import CareOverdue
from command_center.casework import CaseWork
from command_center.city_map import CityMap, load_city
from command_center.config import Config
from command_center.emergency.plans import load_plans
from command_center.emergency.service import EmergencyModes
from command_center.emergency.teams import Teams
from command_center.evidence_access import EvidenceAccess
from command_center.hub import Hub
from command_center.hub_feed import TOPICS, feed_hub
from command_center.hub_history import shared_history
from command_center.iot_cameras import CameraLinks, Grabs, IotSensing
from command_center.iot_service import IotService
from command_center.jobs import Jobs
from command_center.recording import IncidentRecorder
from command_center.registry import work_calendar
from command_center.registry.cameras import CameraApplier, boot_cameras
from command_center.registry.changes import Follower
from command_center.retention import Retention
from command_center.stats_job import StatsJob
from command_center.store import Store, create_store
from command_center.store.care_records import care_store
from command_center.store.stats_records import stats_store
from command_center.store.team_records import team_store
from command_center.suggestions import ReportSuggestions
from command_center.triage import Triage
from command_center.verification import Verifications
from dispatch.catalog import Catalog, load_catalog
from dispatch.city import City
from dispatch.dispatcher import Dispatcher
from vision.clips import ClipRecorder
from vision.evidence import SnapshotStore

# The services `app.build_app` puts on app.state, by the names api/deps.py reads.
SERVICES = (
    "config", "store", "bus", "hub", "auth", "city", "catalog", "dispatcher", "casework", "cameras",
    "recorder", "evidence", "snapshots", "clips", "emergency", "teams", "jobs", "registry", "verifications",
    "suggestions",
)  # fmt: skip


class Runtime:
    def __init__(self, config: Config, city: City | None = None) -> None:
        self.config = config
        data_dir = config.server.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        # The statistics count the city's days (store/stats_facts.py).
        self.store: Store = create_store(config.store, ZoneInfo(config.dispatch.timezone))
        self.bus: Bus = create_bus(config.bus)
        self.jobs = Jobs(self.bus)  # also the shared counters every part below adds to
        self.hub = self._hub(config, self.bus)
        # The registry's versions, noted before any part is loaded: a change made meanwhile
        # is applied at the first poll (registry/changes.py).
        self.registry = Follower(self.store)
        self.registry.note_loaded()
        self.auth = Auth.build(config.auth, data_dir, self.store)
        # The hub caps each client's channels and ends a websocket whose token expired or was revoked.
        self.hub.sessions, self.hub.max_channels = self.auth.sessions, config.hub.max_channels_per_client
        self.city = CityMap(city or load_city(config, self.store), data_dir, self.store)
        self.catalog: Catalog = load_catalog(config.catalog)
        self.dispatcher = Dispatcher(self.city.city, self.city.index, self.catalog, self.store, config.dispatch)
        self.city.follow(self.dispatcher)  # a re-drawn map reaches new cases
        self.snapshots = SnapshotStore(data_dir / "snapshots")
        self.recorder = IncidentRecorder(
            self.store, self.bus, self.snapshots, self.catalog, lambda: self.city.index, self.jobs.counters,
            camera_name=lambda cam_id: getattr(self.cameras.config_of(cam_id), "name", None),
        )  # fmt: skip
        evidence = config.evidence
        self.clips = ClipRecorder(data_dir / "clips", evidence.pre_s, evidence.post_s, self._clip_ready, evidence.clips)
        # The configuration's cameras overlaid by the registry's (registry/cameras.py).
        self.configured_cameras = boot_cameras(config, self.store)
        self.cameras = Cameras(config, self.bus, self.recorder.from_vision, self.clips)
        # Emergency modes: built after the vision worker, whose settings are their baseline.
        thresholds = config.detector.thresholds
        sensing = IotSensing(self.cameras.vision, thresholds)  # also holds IoT alarms' raises (iot_cameras.py)
        self.cameras.rebuilt_hooks.append(lambda cam: sensing.baseline.pop(cam, None))  # the new one's is its baseline
        self.emergency = EmergencyModes(data_dir / "emergency.json", load_plans(config.plans), sensing, thresholds)
        # Each street's emergency team, over the store and the current map (seeded on first use).
        self.teams = Teams(team_store(self.store), lambda: self.city.city, self.city.grids_of)
        self.casework = CaseWork(self.store, self.dispatcher, self.bus, self.jobs.counters)
        self.triage = Triage(self.store, self.casework)  # confirm-first waits that ran out
        # Video verification (视频核查): the service follows cases; the camera side runs checks.
        self.verifications = Verifications(config, self.store, self.bus, self.casework, self.cameras, self.jobs.counters,
                                           self.snapshots)  # fmt: skip
        self.camera_checks = CameraChecks(self.cameras, self.bus, self.snapshots, self.jobs.counters)
        self.cameras.vision.on_verdict = self.camera_checks.on_verdict
        self.grabs = Grabs(self.cameras, self.bus, self.snapshots, self.jobs.counters)  # a camera's frame on request
        self.retention = Retention(config, self.store, self.jobs.counters)  # personal data past its time
        self.evidence = EvidenceAccess(config.privacy, data_dir)  # blurring by role, view audit
        # Suggested classes of reports (自动输出事件分类建议): fitted on first use or `warm()`.
        self.suggestions = ReportSuggestions(self.catalog, self.store, config.detector)
        self._register_jobs()
        # IoT devices (iot_service.py): only when the MQTT side is on; the app sets its HTTP intake's handler.
        self.iot: IotService | None = None
        if config.mqtt.enabled:
            links = CameraLinks(config.iot, self.store, self.bus, self.grabs, lambda: list(self.cameras.config.cameras),
                                self.casework, self.emergency, sensing)  # fmt: skip
            self.iot = IotService(config.mqtt, self.store, self.bus, self.catalog, self.jobs, links=links)
        self._follow_registry()

    def _follow_registry(self) -> None:
        """Each part of the registry is re-read live when it changes, here or on another node."""
        self.registry.on("grids", self.city.reload)  # the map and the roster on it
        self.registry.on("roster", self.city.reload)
        self.registry.on("cameras", CameraApplier(self.store, self.cameras, self.configured_cameras))
        work_calendar.follow(self.registry, self.store, self.dispatcher, self.config.dispatch)  # matters, calendar, settings
        self.jobs.add("registry", self.registry.run)

    def _clip_ready(self, clip_id: str, path: object) -> None:
        """A clip is encoded (clip-writer thread): a verification's ("V…") or an incident's."""
        if clip_id.startswith("V"):
            self.camera_checks.clip_ready(clip_id)
        else:
            self.recorder.clip_ready(clip_id, path)

    def _start_checks(self, service: bool) -> None:
        """Scene checks on this process's cameras; with `service`, the verification service too
        (subscribed after the cameras' side: its restart re-requests must reach it)."""
        self.camera_checks.bind(asyncio.get_running_loop())
        self.jobs.spawn("camera-checks", self.camera_checks.run(self.camera_checks.subscribe()))
        self.jobs.spawn("camera-checks-keep", self.camera_checks.keep())
        self.jobs.spawn("camera-grabs", self.grabs.run(self.grabs.subscribe()))
        if service:
            self.jobs.spawn("verification", self.verifications.start_service(self.verifications.subscribe()))

    @staticmethod
    def _hub(config: Config, bus: Bus) -> Hub:
        hub = Hub(config.hub.history, config.hub.queue_size, config.hub.heartbeat_s)
        # A Redis bus means possibly several nodes: seq and history then live in Redis.
        hub.shared = shared_history(bus, config.hub.history)
        return hub

    def _register_jobs(self) -> None:
        """A serve node's jobs; the app adds the hotspot alerts, the CLI the demo's."""
        self.jobs.add("sessions", self.auth.sessions.run)  # closes live sessions whose token ended
        self.casework.register(self.jobs, self.config.dispatch.supervise_every_s)
        self.triage.register(self.jobs)
        self.retention.register(self.jobs)
        self.jobs.add("camera-watch", self.cameras.watch)
        self.jobs.add("report-classifier", self.suggestions.run)  # the daily refit on people's choices
        self.jobs.add("verification-sweep", self.verifications.sweep, singleton=True)  # checks never answered
        # Overdue care visits (特殊群体走访) raised like overdue cases, on the `care` topic.
        care = CareOverdue(
            care_store(self.store), self.bus, lambda: self.config.basedata.care, self.dispatcher.today, self.jobs.counters
        )
        care.register(self.jobs, self.config.basedata.care_sweep_s)
        StatsJob(stats_store(self.store), self.jobs.counters).register(self.jobs)  # case_daily kept current

    # lifecycle
    async def start(self) -> None:
        """A serve node: the hub fed from the bus, the dispatcher taking incidents in, cameras, jobs."""
        self.recorder.bind(asyncio.get_running_loop())
        await self.bus.start()
        hub_feed = feed_hub(self.bus.subscribe(TOPICS, "hub"), self.hub, self.city.area_of, self.cameras)
        self.jobs.spawn("hub-feed", hub_feed)
        self.jobs.spawn("intake", self.casework.take_in(self.bus.subscribe(["incidents"], "dispatcher")))
        self._start_checks(service=True)
        if self.iot is not None:
            self.iot.start_export(self.bus, self.jobs)
        self.cameras.start()
        self.jobs.start()

    async def start_worker(self) -> None:
        """A detection worker: the bus, vision and camera status, no dispatcher, hub or
        supervision; cameras start one by one as their leases come (`cameras.start_camera`)."""
        self.recorder.bind(asyncio.get_running_loop())
        await self.bus.start()
        self.cameras.start_vision_only()
        self._start_checks(service=False)
        self.jobs.spawn("camera-watch", self.cameras.watch())
        self.jobs.spawn("registry", self.registry.run())  # cameras added or removed in the console
        self.retention.files_only = True  # a detection worker holds evidence, not the store's records
        self.jobs.spawn("retention", self.retention.run())

    async def stop(self) -> None:
        await self.cameras.stop()
        await self.jobs.stop()
        await self.bus.close()
        self.store.close()
