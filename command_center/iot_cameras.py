"""An IoT alarm's nearby cameras, and its all-clear on the case (issue 20).

- `nearby`: the fixed cameras within `iot.camera_radius_m` of the device, nearest first, at
  most `iot.cameras_max` (a drone or a body camera is not "nearby": it moves).
- `Grabs` (every process with vision, beside camera_checks.CameraChecks): a `camera.grab` on
  the bus topic `camera-grabs` is answered by the process that holds the camera, a serve node
  or a detection worker: its newest frame saved as evidence (SnapshotStore, data_dir/
  snapshots/<id>.jpg, swept by retention with the incidents') and `camera.grabbed` published.
  The asker waits `iot.grab_timeout_s`, then skips the camera (logged, counted). The
  subscription has the camera checks' fan-out name (bus/redis_options.py): on a Redis bus
  every process sees every request and every answer.
- `CameraLinks` (the IoT loop's `EpisodeLinks`): the cameras on a new incident (`cameras`, and
  the nearest as `camera_id`/`camera_name`: announced with `incident.created`); then, in a
  background task (the intake's latency budget is 200 ms p99; a grab takes up to seconds),
  their snapshots (`snapshots`, `snapshot_url`),
  served by the incident's evidence routes (blurred by role, views audited). In incident
  mode (an active emergency whose area covers the device) the cameras are raised like the
  emergency's own until the episode closes (at once, in memory: a close in the same group of
  messages must come after it). On an episode closed: a timeline note on the
  incident's case (action `note`, actor `iot`, no state change), once: the same all-clear
  replayed finds its note there.
- `IotSensing`: emergency sensing (emergency/sensing.py) that keeps the IoT alarms' raises in
  every `apply`, so a mode starting or ending keeps them, and an alarm's end restores exactly.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
import time
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from command_center.coverage import distance_m
from command_center.emergency.sensing import Sensing, Want
from command_center.events import Event
from command_center.iot_incidents import incident_id
from dispatch.cases import TimelineEntry
from iot.rules import Closed
from vision.evidence import SnapshotStore, encode_jpeg

if TYPE_CHECKING:
    from command_center.bus import Bus
    from command_center.camera_status import Cameras
    from command_center.casework import CaseWork
    from command_center.config import CameraConfig, IotConfig
    from command_center.emergency.service import EmergencyModes
    from command_center.registry.device_model import Device
    from command_center.store import Store

log = logging.getLogger(__name__)
TOPIC = "camera-grabs"
GRAB, GRABBED = "camera.grab", "camera.grabbed"
FANOUT = "camera-checks"  # a fan-out subscriber name on a Redis bus (every process, every event)
FRESH_S = 10.0  # a camera's newest frame older than this is not "what it sees now"
ACTOR, NOTE = "iot", "note"  # names.json actor.iot, action.note
COUNTERS = (
    "iot_camera_links",
    "iot_camera_grabs",
    "iot_camera_grabs_missed",
    "iot_camera_raised",
    "iot_case_notes",
)
READING_ZH = {
    "smoke": "烟雾", "alarm": "报警", "temp_c": "温度", "gas": "燃气", "level_cm": "水位", "tilt_deg": "倾角",
    "pressure_mpa": "水压", "fill_pct": "满溢度", "open": "门磁", "battery": "电量", "rssi": "信号",
}  # fmt: skip


def nearby(
    cameras: Iterable[CameraConfig], lon: float, lat: float, radius_m: float, limit: int
) -> list[dict[str, Any]]:
    """[{camera_id, name, distance_m}] of the fixed cameras within radius_m, nearest first."""
    found = sorted(
        (distance_m(lon, lat, c.location.lon, c.location.lat), c.id, c.name) for c in cameras if not c.mobile
    )
    return [
        {"camera_id": cam_id, "name": name or None, "distance_m": round(d, 1)}
        for d, cam_id, name in found[:limit] if d <= radius_m
    ]  # fmt: skip


def snapshot_id(incident: str, n: int) -> str:
    """The n-th camera's (1-based) evidence id: the nearest's is the incident's own snapshot."""
    return incident if n == 1 else f"{incident}-{n}"


def snapshot_url(incident: str, n: int) -> str:
    return (
        f"/api/incidents/{incident}/snapshot.jpg"
        if n == 1
        else f"/api/incidents/{incident}/snapshots/{n}.jpg"
    )


def recovered_note(event: Closed, tz: tzinfo) -> str:
    """设备读数恢复正常（烟雾 0.02，18:03 解除）: the rule's last readings, the all-clear's time."""
    parts = []
    for name, points in event.readings.items():
        if points:
            value = points[-1][1]
            shown = ("是" if value else "否") if isinstance(value, bool) else f"{value:g}"
            parts.append(f"{READING_ZH.get(name, name)} {shown}")
    parts.append(f"{event.cleared_at.astimezone(tz):%H:%M} 解除")
    head = "设备读数恢复正常" if event.reason == "cleared" else "设备报警结束（规则变更或设备停用）"
    return f"{head}（{'，'.join(parts)}）"


class Grabs:
    """Both ends of a grab: answers for the cameras this process holds, waits for its own asks."""

    def __init__(
        self, cameras: Cameras | None, bus: Bus, snapshots: SnapshotStore | None, counters: dict[str, int]
    ) -> None:
        self.cameras = cameras  # None: a process that only asks (no vision of its own)
        self.bus = bus
        self.snapshots = snapshots
        self.counters = counters
        self.waiting: dict[str, asyncio.Future[bool]] = {}
        self.answering: set[asyncio.Task[None]] = set()
        for name in COUNTERS:
            counters.setdefault(name, 0)

    def subscribe(self) -> Any:
        return self.bus.subscribe([TOPIC], FANOUT)

    async def run(self, subscription: Any) -> None:
        async for event in subscription:
            if event.type == GRAB:
                # Each on its own: a camera without a frame waits, and must not hold up the next.
                task = asyncio.get_running_loop().create_task(self._answering(event.data))
                self.answering.add(task)
                task.add_done_callback(self.answering.discard)
            elif event.type == GRABBED:
                waiting = self.waiting.get(event.data.get("id", ""))
                if waiting is not None and not waiting.done():
                    waiting.set_result(True)

    async def _answering(self, request: dict[str, Any]) -> None:
        try:
            await self._answer(request)
        except Exception:  # one camera's failure is not the next request's
            log.exception("camera grab %s failed", request.get("id"))

    async def grab(self, camera_id: str, snapshot: str, timeout_s: float) -> bool:
        """Ask whichever process holds the camera for its frame, saved as `snapshot`: answered in time?"""
        request_id = secrets.token_hex(8)
        answered = asyncio.get_running_loop().create_future()
        self.waiting[request_id] = answered
        data = {"id": request_id, "camera_id": camera_id, "snapshot_id": snapshot, "requested_at": time.time(),
                "timeout_s": timeout_s}  # fmt: skip
        try:
            await self.bus.publish(Event(TOPIC, GRAB, data))
            return await asyncio.wait_for(answered, timeout_s)
        except TimeoutError:
            return False
        finally:
            self.waiting.pop(request_id, None)

    async def _answer(self, request: dict[str, Any]) -> None:
        cam_id = str(request["camera_id"])
        if self.cameras is None or self.snapshots is None:
            return
        runner = self.cameras.runners.get(cam_id)
        late = float(request["requested_at"]) + float(request["timeout_s"]) < time.time()
        if late or runner is None or cam_id not in self.cameras.watched:
            return  # another process holds it (or a bus replaying its history)
        frame = await asyncio.to_thread(runner.take, -1, min(2.0, float(request["timeout_s"])))
        if frame is None or time.monotonic() - frame.ts > FRESH_S:
            log.info("camera grab: camera %s has no fresh frame", cam_id)
            return
        jpeg = await asyncio.to_thread(encode_jpeg, frame.image, 85)
        await asyncio.to_thread(self.snapshots.save, str(request["snapshot_id"]), jpeg)
        answer = {
            "id": request["id"],
            "camera_id": cam_id,
            "snapshot_id": request["snapshot_id"],
            "ts": frame.wall_ts,
        }
        await self.bus.publish(Event(TOPIC, GRABBED, answer))


class IotSensing(Sensing):
    """Sensing whose every `apply` (an emergency's start or end) keeps the IoT alarms' raises."""

    def __init__(self, vision: Any, configured: dict[str, float]) -> None:
        super().__init__(vision, configured)
        self.iot: dict[str, dict[str, Want]] = {}  # incident id → its cameras' wants
        self._modes: dict[str, Want] = {}  # what the emergency modes last asked
        self._guard = threading.RLock()  # modes apply from API threads, alarms from the event loop

    def apply(self, wants: dict[str, Want]) -> None:
        with self._guard:
            self._modes = dict(wants)
            super().apply(Sensing.merge([self._modes, *self.iot.values()]))

    def raise_for(self, key: str, wants: dict[str, Want]) -> None:
        with self._guard:
            self.iot[key] = wants
            self.apply(self._modes)

    def lower(self, key: str) -> bool:
        with self._guard:
            if self.iot.pop(key, None) is None:
                return False
            self.apply(self._modes)
            return True


def covering_want(modes: list[dict[str, Any]], lon: float, lat: float) -> Want | None:
    """What an active emergency covering the point asks of its cameras (the most sensitive of
    several), or None when none covers it."""
    wants = []
    for mode in modes:
        centre = mode.get("center") or {}
        if distance_m(lon, lat, centre["lon"], centre["lat"]) > float(mode.get("radius_m") or 0):
            continue
        for w in (mode.get("sensing") or {}).values():
            wants.append({"_": Want(float(w["fps"]), dict(w["thresholds"]))})
    merged = Sensing.merge(wants)
    return merged.get("_")


class CameraLinks:
    """What the IoT loop does beside its incidents: cameras, snapshots, raised sensing, notes."""

    def __init__(self, config: IotConfig, store: Store, bus: Bus, grabs: Grabs, cameras: Callable[[], list[CameraConfig]],
                 casework: CaseWork, emergency: EmergencyModes | None = None, sensing: IotSensing | None = None) -> None:  # fmt: skip
        self.config = config
        self.store = store
        self.bus = bus
        self.grabs = grabs
        self.cameras = cameras
        self.casework = casework
        self.emergency = emergency
        self.sensing = sensing
        self.counters = grabs.counters
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> None:
        """In the background: the intake goes on; a failure is logged, never the intake's."""
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, what))

    def _done(self, task: asyncio.Task[None], what: str) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("iot: %s failed", what, exc_info=task.exception())

    async def settled(self) -> None:
        """Until every background task started so far is over (tests, a clean stop)."""
        while self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    # opened
    def _nearby(self, device: Device) -> list[dict[str, Any]]:
        cfg = self.config
        return nearby(self.cameras(), device.lon, device.lat, cfg.camera_radius_m, cfg.cameras_max)

    def fields(self, device: Device) -> dict[str, Any]:
        """The cameras on the new incident, the nearest first: the wall has them at once."""
        cams = self._nearby(device)
        if not cams:
            return {}
        self.counters["iot_camera_links"] += 1
        return {"cameras": cams, "camera_id": cams[0]["camera_id"], "camera_name": cams[0]["name"]}

    def opened(self, device: Device, incident: str) -> None:
        """Raised at once, in the loop's order (an episode opened and closed in one group of
        messages must be lowered after it was raised); the snapshots grabbed in the background."""
        cams = self._nearby(device)
        if not cams:
            return
        try:
            self._raise(incident, device, cams)
        except Exception:  # sensing is a bonus: never the intake's failure
            log.exception("iot: raising the cameras around %s failed", incident)
        self.spawn(self.link(incident, cams), f"the snapshots of {incident}")

    async def link(self, incident: str, cams: list[dict[str, Any]]) -> None:
        doc = await asyncio.to_thread(self.store.get_incident, incident)
        if doc is None or doc.get("snapshots") is not None:
            return  # grabbed already: a redelivery, a replay after a restart
        linking: dict[str, Any] = {"snapshots": []}  # grabbing: a replay meanwhile asks no second time
        if doc.get("cameras") is None:  # stored by an older version, or before a camera was added
            linking |= {"cameras": cams, "camera_id": cams[0]["camera_id"], "camera_name": cams[0]["name"]}
            self.counters["iot_camera_links"] += 1
        await self._update(incident, **linking)
        asks = [
            self.grabs.grab(c["camera_id"], snapshot_id(incident, n), self.config.grab_timeout_s)
            for n, c in enumerate(cams, 1)
        ]
        answered = await asyncio.gather(*asks)
        snaps = []
        for n, (cam, ok) in enumerate(zip(cams, answered, strict=True), 1):
            if ok:
                snaps.append({"camera_id": cam["camera_id"], "url": snapshot_url(incident, n)})
                self.counters["iot_camera_grabs"] += 1
            else:
                self.counters["iot_camera_grabs_missed"] += 1
                log.warning(
                    "iot: camera %s sent no snapshot for %s within %.0f s",
                    cam["camera_id"],
                    incident,
                    self.config.grab_timeout_s,
                )
        if snaps:
            await self._update(incident, snapshots=snaps, snapshot_url=snaps[0]["url"])

    async def _update(self, incident: str, **fields: Any) -> None:
        updated = await asyncio.to_thread(self.store.update_incident, incident, **fields)
        if updated is not None:
            await self.bus.publish(Event("incidents", "incident.updated", updated))

    def _raise(self, incident: str, device: Device, cams: list[dict[str, Any]]) -> None:
        """Incident mode: the cameras around the alarm sense as the covering emergency's do."""
        if self.emergency is None or self.sensing is None:
            return
        want = covering_want(self.emergency.active(), device.lon, device.lat)
        if want is not None:
            self.sensing.raise_for(incident, {c["camera_id"]: want for c in cams})
            self.counters["iot_camera_raised"] += 1

    # closed
    def closed(self, event: Closed) -> None:
        incident = incident_id(event.episode_id)
        if self.sensing is not None:
            self.sensing.lower(incident)
        self.spawn(self.note(incident, event), f"noting the all-clear of {incident}")

    async def note(self, incident: str, event: Closed) -> None:
        """The all-clear on the incident's case, once (a replayed close finds its note)."""
        doc = await asyncio.to_thread(self.store.get_incident, incident)
        if doc is None or not doc.get("case_id"):
            return
        dispatcher = self.casework.dispatcher
        text = recovered_note(event, dispatcher.tz)
        for _ in range(3):  # compare-and-set on the case's version: a worker may act meanwhile
            case = await asyncio.to_thread(self.store.get_case, doc["case_id"])
            if (
                case is None
                or not case.is_open
                or any(e.actor == ACTOR and e.note == text for e in case.timeline)
            ):
                return
            now = dispatcher.clock()
            entry = TimelineEntry(now, NOTE, ACTOR, case.state, case.state, text)
            noted = replace(case, version=case.version + 1, updated_at=now, timeline=(*case.timeline, entry))
            if await asyncio.to_thread(dispatcher.repo.save_transition, noted, entry):
                self.counters["iot_case_notes"] += 1
                await self.casework.publish_case(noted, created=False)
                return
        log.warning("iot: case %s kept changing; the all-clear of %s was not noted", doc["case_id"], incident)
