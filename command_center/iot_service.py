"""The IoT service, wired by the runtime only when `mqtt.enabled`: the handler (iot_loop.py)
behind the MQTT intake and the HTTP intake, the heartbeat sweep, the closing of cleared
episodes, and the export of incidents and cases to the broker (mqtt.export.enabled).

The MQTT intake is a singleton job: of several nodes, one holds the broker session (the
broker would otherwise disconnect the older of two clients with the same id, in turn). The
export runs on each serve node where it is enabled, each node publishing what its own bus
subscription gets: with several nodes, enable it on one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from command_center.bus import Bus
from command_center.iot_cameras import CameraLinks
from command_center.iot_heartbeat_job import IotHeartbeat
from command_center.iot_loop import Clock, IotLoop, utc_now
from command_center.mqtt.config import MqttConfig
from command_center.mqtt.export import Exporter
from command_center.mqtt.intake import Intake
from command_center.store import Store
from dispatch.catalog import Catalog

if TYPE_CHECKING:
    from command_center.jobs import Jobs


class IotService:
    def __init__(
        self,
        config: MqttConfig,
        store: Store,
        bus: Bus,
        catalog: Catalog,
        jobs: Jobs,
        clock: Clock = utc_now,
        links: CameraLinks | None = None,
    ) -> None:
        self.config = config
        # With links (iot_cameras.py): each alarm's nearby cameras, snapshots, raised sensing, case notes.
        self.loop = IotLoop(store, bus, catalog, jobs.counters, clock, links)
        self.heartbeat = IotHeartbeat(store, bus, catalog, jobs.counters, config.offline_cases, clock)
        self.intake = Intake(config, self.loop)
        self.exporter = Exporter(config) if config.export.enabled else None
        jobs.add("mqtt-intake", self.intake.run, singleton=True)
        jobs.add("iot-heartbeat", self.heartbeat.run, singleton=True)
        jobs.add("iot-advance", self.loop.run_advance)

    def start_export(self, bus: Bus, jobs: Jobs) -> None:
        """After the bus started, before the jobs: the export's subscription sees every event."""
        if self.exporter is not None:
            jobs.spawn("mqtt-export", self.exporter.run(self.exporter.subscribe(bus)))

    def view(self) -> dict[str, Any]:
        """For /api/health: the intake's session and counts, and the export's."""
        out: dict[str, Any] = {"intake": self.intake.counters.to_dict()}
        if self.exporter is not None:
            out["export"] = self.exporter.counters.to_dict()
        return out
