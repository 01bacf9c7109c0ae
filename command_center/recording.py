"""vision → bus: an incident becomes its snapshot, its row and its `incident.created` event.

Each step is retried (faults.py). The snapshot or the row may fail for good and the
incident still goes on (the dispatcher stores a missing row with its case); only an
incident the bus never took is lost, and then it is logged whole and counted.

The incident names what people read beside the identifiers: its camera's name, its rule's
and label's (command_center/i18n.py), its matter's, with the matter's urgency and emergency
class, so that the wall can sound the alarm for an immediate one from `incident.created`
alone. Incidents stored before these fields lack them: readers fall back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from command_center import faults, i18n
from command_center.bus import Bus
from command_center.events import Event
from command_center.store import Store
from dispatch.catalog import Catalog
from dispatch.city import GridIndex
from vision.evidence import SnapshotStore
from vision.incident import Incident

log = logging.getLogger(__name__)


class IncidentRecorder:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        snapshots: SnapshotStore,
        catalog: Catalog,
        index: Callable[[], GridIndex],  # the current map's index (a re-drawn map replaces it)
        counters: dict[str, int],
        camera_name: Callable[[str], str | None] = lambda _id: None,  # a camera's configured name
    ) -> None:
        self.store = store
        self.camera_name = camera_name
        self.bus = bus
        self.snapshots = snapshots
        self.catalog = catalog
        self.index = index
        self.counters = counters
        self.loop: asyncio.AbstractEventLoop | None = None  # set by `bind` once the loop runs

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop incidents from other threads are recorded on."""
        self.loop = loop

    def from_vision(self, incident: Incident) -> None:
        """Called on the vision thread; hands the incident to the event loop (none yet: dropped)."""
        if self.loop is not None:
            self.hand_over(incident, self.loop)

    def clip_ready(self, incident_id: str, _path: object) -> None:
        """Called on a clip-writer thread once the post-roll is encoded."""
        if self.loop is not None:
            asyncio.run_coroutine_threadsafe(self.link_clip(incident_id), self.loop)

    def hand_over(self, incident: Incident, loop: asyncio.AbstractEventLoop) -> None:
        """From the vision thread: record the incident on the event loop."""
        done = asyncio.run_coroutine_threadsafe(self.record(incident), loop)
        # Nobody awaits this future: without the callback a failure would vanish unseen.
        done.add_done_callback(lambda f: self._recorded(incident.id, f))

    def _recorded(self, incident_id: str, done: Any) -> None:
        exc = None if done.cancelled() else done.exception()
        if exc is not None and not isinstance(exc, faults.IncidentLost):  # (that one is counted and logged)
            self.counters["incidents_failed"] += 1
            log.error("incident %s was not recorded", incident_id, exc_info=exc)

    async def record(self, incident: Incident) -> dict[str, Any]:
        counters, tag = self.counters, f"incident {incident.id}"
        with contextlib.suppress(Exception):  # logged and counted by retrying()
            await faults.retrying(
                f"saving the snapshot of {tag}",
                lambda: asyncio.to_thread(self.snapshots.save, incident.id, incident.snapshot_jpeg),
                counters, "store_errors",
            )  # fmt: skip
        doc = self.document(incident)
        try:
            await faults.retrying(f"storing {tag}", lambda: asyncio.to_thread(self._store, doc), counters, "store_errors")
        except Exception:
            log.error("%s is not stored yet; the dispatcher stores it with its case", tag)
        counters["incidents"] += 1
        try:
            event = Event("incidents", "incident.created", doc)
            await faults.retrying(f"publishing {tag}", lambda: self.bus.publish(event), counters, "bus_errors")
        except Exception:
            counters["incidents_failed"] += 1
            log.error("%s is lost: the bus did not take it; the incident: %s", tag, json.dumps(doc, ensure_ascii=False))
            raise faults.IncidentLost(incident.id) from None
        return doc

    def _store(self, doc: dict[str, Any]) -> None:
        # A try that failed after its row landed must not make every later try a duplicate.
        if self.store.get_incident(doc["id"]) is None:
            self.store.add_incident(doc)

    def document(self, incident: Incident) -> dict[str, Any]:
        located = self.index().locate(incident.lon, incident.lat)
        matter = self.catalog.match(incident.rule, incident.label)
        return {
            "id": incident.id,
            "ts": datetime.fromtimestamp(incident.ts, UTC).isoformat(),
            "camera_id": incident.camera_id,
            "rule": incident.rule,
            "zone": incident.zone,
            "label": incident.label,
            "score": round(incident.score, 3),
            "box": [round(v, 1) for v in incident.box],
            "track_id": incident.track_id,
            "location": {"lon": incident.lon, "lat": incident.lat},
            "grid_code": (located.grid_code or located.community_code) if located else None,
            "matter_code": matter.code,
            "matter_name": matter.name,
            "camera_name": self.camera_name(incident.camera_id) or None,
            "rule_name": i18n.name("rule", incident.rule),
            "label_name": i18n.name("label", incident.label),
            "urgency": matter.urgency,
            "emergency_class": matter.emergency_class,
            "snapshot_url": f"/api/incidents/{incident.id}/snapshot.jpg",
            "clip_url": None,
            "state": "new",
            "case_id": None,
        }

    async def link_clip(self, incident_id: str) -> None:
        """Once the clip's post-roll is encoded: the incident points at it."""
        updated = await asyncio.to_thread(
            self.store.update_incident, incident_id, clip_url=f"/api/incidents/{incident_id}/clip.mp4"
        )
        if updated is not None:
            await self.bus.publish(Event("incidents", "incident.updated", updated))
